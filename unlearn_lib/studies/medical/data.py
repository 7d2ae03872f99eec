"""The medical study's data: load one of :data:`DATA_SOURCES` as ``(train, test)``, count it, show samples."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...data.datasets import ArrayDataset
from ...data.medical import load_brain_patches, load_chexpert, load_medmnist

DATA_SOURCES = ("embedded", "medmnist", "chexpert")


def load_medical_data(
    source: str = "embedded",
    data_dir: str | None = None,
    *,
    seed: int = 0,
    n_subjects: int = 16,
    cohort_size: int = 64,
    patch_size: int = 28,
    patches_per_subject: int = 150,
    n_test_subjects: int = 4,
    medmnist_flag: str = "tissuemnist",
    max_samples: int | None = 3000,
    chexpert_target: str = "Pleural Effusion",
    chexpert_uncertain: str = "zeros",
    image_size: int = 64,
) -> tuple[ArrayDataset, ArrayDataset]:
    """``(train, test)`` for the notebook from one of :data:`DATA_SOURCES`.

    ``embedded`` cuts tissue patches from the simulated cohort (no files needed); ``medmnist`` reads
    ``data_dir/<medmnist_flag>.npz`` (train split subsampled to ``max_samples``, test to a third of
    it); ``chexpert`` reads ``train.csv`` (``max_samples`` rows) as training and ``valid.csv`` (other
    patients) as test.

    Raises:
        ValueError: an unknown source, or a file-based source without ``data_dir``.
    """
    if source not in DATA_SOURCES:
        raise ValueError(f"source must be one of {DATA_SOURCES}, got {source!r}")
    if source == "embedded":
        return load_brain_patches(
            n_subjects,
            cohort_size,
            patch_size=patch_size,
            patches_per_subject=patches_per_subject,
            n_test_subjects=n_test_subjects,
            seed=seed,
        )
    if not data_dir:
        raise ValueError(f"data source {source!r} reads files: set data_dir to the directory that holds them")
    if source == "medmnist":
        n_test = None if max_samples is None else max(1, max_samples // 3)
        train = load_medmnist(data_dir, medmnist_flag, "train", max_samples=max_samples, seed=seed)
        return train, load_medmnist(data_dir, medmnist_flag, "test", max_samples=n_test, seed=seed)
    kw = {"target": chexpert_target, "uncertain": chexpert_uncertain, "image_size": image_size, "seed": seed}
    return load_chexpert(data_dir, "train", max_images=max_samples, **kw), load_chexpert(data_dir, "valid", **kw)


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
