"""Notebook 03's figures: the cohort, the per-epoch curves and the kept slices.

Drawing
(matplotlib, seaborn) is kept apart from the experiment and the tables; every figure is drawn from saved
rows or a saved ``slices.npz``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from ...data.datasets import ArrayDataset
from .slices import read_slices
from .tables import SPLITS, curves_frame


def cohort_figure(
    dataset: ArrayDataset, subjects: Sequence[int] = (0, 1), label_names: Sequence[str] = ("background", "CSF", "GM", "WM"), axis: int = 2
) -> plt.Figure:
    """For each subject: the middle slice's image and labels, and the image's intensity histogram per
    tissue (overlapping histograms are why one voxel's brightness cannot segment the brain)."""
    ids = np.asarray(dataset.meta.get("subject", np.arange(len(dataset))))
    cmap = plt.get_cmap("viridis", len(label_names))
    fig, axes = plt.subplots(len(subjects), 3, figsize=(10, 3.1 * len(subjects)), squeeze=False, gridspec_kw={"width_ratios": [1, 1, 1.6]})
    for r, sid in enumerate(subjects):
        rows = np.flatnonzero(ids == sid)
        if rows.size == 0:
            raise ValueError(f"no subject {sid} in the dataset")
        i = int(rows[0])
        x, y = dataset.x[i, 0].numpy(), dataset.y[i].numpy()
        mid = x.shape[axis] // 2
        axes[r, 0].imshow(np.take(x, mid, axis).T, cmap="gray", origin="lower")
        axes[r, 1].imshow(np.take(y, mid, axis).T, cmap=cmap, vmin=0, vmax=len(label_names) - 1, origin="lower", interpolation="nearest")
        meta = ", ".join(f"{k} {np.asarray(v)[i]}" for k, v in dataset.meta.items() if k != "subject")
        axes[r, 0].set_ylabel(f"subject {sid}\n{meta}", fontsize=8)
        for k in range(1, len(label_names)):
            axes[r, 2].hist(x[y == k], bins=60, range=(0, 1), alpha=0.55, color=cmap(k), label=label_names[k], density=True)
        axes[r, 2].set_xlabel("image intensity")
        axes[r, 2].set_ylabel("density")
        axes[r, 2].legend(title="tissue", fontsize=8)
        for ax in axes[r, :2]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("image (middle slice)")
    axes[0, 1].set_title("labels")
    axes[0, 2].set_title("intensity per tissue")
    handles = [Patch(color=cmap(k), label=name) for k, name in enumerate(label_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(label_names), frameon=False, title="labels")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def dice_curves(df: pd.DataFrame, metric: str = "dice", splits: Sequence[str] = SPLITS) -> sns.FacetGrid:
    """Metric per epoch, one line per method, one panel per split (drawn from saved rows); the bands are
    bootstrap 95 % CIs of the mean, over a seeded bootstrap, so a figure redrawn from the same rows is the same file."""
    cur = curves_frame(df)
    cur = cur[(cur.metric == metric) & cur.split.isin(splits) & (cur.method != "original")]
    if cur.empty:
        raise ValueError(f"no per-epoch rows of {metric!r}")
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.relplot(
        data=cur, x="epoch", y="value", hue="method", col="split", col_order=list(splits), kind="line",
        errorbar=("ci", 95), seed=0, height=3.4, aspect=1.1,
    )  # fmt: skip
    g.set_axis_labels("unlearning epoch", metric)
    return g


def slices_figure(path: str | os.PathLike, label_names: Sequence[str] = ("background", "CSF", "GM", "WM")) -> plt.Figure:
    """Rows: the first forget and retain subject (middle kept slice); columns: image, truth, each model's final prediction."""
    saved = read_slices(path)
    roles = list(dict.fromkeys(saved.subjects.values()))
    picks = [next(s for s, r in saved.subjects.items() if r == role) for role in roles]
    cols = ["image", "truth", *saved.methods()]
    cmap = plt.get_cmap("viridis", len(label_names))
    fig, axes = plt.subplots(len(picks), len(cols), figsize=(1.9 * len(cols), 2.0 * len(picks)), squeeze=False)
    for r, (split, subject) in enumerate(zip(roles, picks)):
        mid = len(saved.truth(subject)) // 2
        for c, key in enumerate(cols):
            ax = axes[r, c]
            full = saved.image(subject) if key == "image" else saved.truth(subject) if key == "truth" else saved.prediction(subject, key)
            arr = full[mid].T
            if key == "image":
                ax.imshow(arr, cmap="gray", origin="lower")
            else:
                ax.imshow(arr, cmap=cmap, vmin=0, vmax=len(label_names) - 1, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(key, fontsize=8)
        axes[r, 0].set_ylabel(f"{split} subject")
    handles = [Patch(color=cmap(k), label=name) for k, name in enumerate(label_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(label_names), frameon=False, bbox_to_anchor=(0.5, -0.02), title="tissue")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
