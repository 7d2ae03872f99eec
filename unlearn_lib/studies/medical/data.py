"""The medical study's data views: samples per split, sex and class, and a grid of patches.

Loading goes through the dataset registry (``brain-patches``, ``medmnist``, ``chexpert``).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...data.datasets import ArrayDataset


def data_overview(train: ArrayDataset, test: ArrayDataset, column: str = "sex") -> pd.DataFrame:
    """Samples per split, class and ``column`` value (subjects too, when there is a subject column)."""
    rows = []
    for name, ds in (("train", train), ("test", test)):
        meta = {"class": ds.labels, column: np.asarray(ds.meta.get(column, np.full(len(ds), "n/a"))).astype(str)}
        frame = pd.DataFrame(meta).assign(split=name)
        if "subject" in ds.meta:
            frame["subject"] = np.asarray(ds.meta["subject"]).astype(str)
        rows.append(frame)
    frame = pd.concat(rows, ignore_index=True)
    table = pd.crosstab([frame.split, frame[column]], frame["class"])
    table.columns = [f"class {c}" for c in table.columns]
    if "subject" in frame:
        table["subjects"] = frame.groupby(["split", column])["subject"].nunique()
    return table


def plot_patches(dataset: ArrayDataset, per_class: int = 6, class_names: Sequence[str] | None = None, seed: int = 0) -> plt.Figure:
    """A grid of random samples, one row per class, titled with the sample's sex when known."""
    rng = np.random.default_rng(seed)
    classes = np.unique(dataset.labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class, 1.4 * len(classes)), squeeze=False)
    for r, c in enumerate(classes):
        idx = rng.choice(np.flatnonzero(dataset.labels == c), size=per_class, replace=False)
        for ax, i in zip(axes[r], idx):
            ax.imshow(dataset.x[i].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=str(dataset.meta["sex"][i]) if "sex" in dataset.meta else "")
        axes[r, 0].set_ylabel(class_names[r] if class_names else f"class {c}")
    fig.tight_layout()
    return fig
