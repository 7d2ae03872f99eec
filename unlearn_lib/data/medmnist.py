"""MedMNIST (Yang et al., 2023): any 2D ``<flag>.npz`` read as an :class:`ArrayDataset`.

MedMNIST ships no sex or age column, so the sex analyses of study 04 cannot run on it; its ``index``
column traces every image back to its row in the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .datasets import ArrayDataset
from .splits import stratified_partition

__all__ = ["load_medmnist"]

_MEDMNIST_SPLITS = ("train", "val", "test")


def _medmnist_pixels(path: Path, key: str, images: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1]: bytes (MedMNIST's own format) are divided by 255 once; floats already in [0, 1]
    are kept (dividing them again would darken every image 255-fold); anything else is refused."""
    if images.dtype.kind in "iu":
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(f"{path}: {key} must hold pixel values 0..255, found {images.min()}..{images.max()}")
        return images.astype(np.float32) / 255.0
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise ValueError(f"{path}: {key} holds NaN or infinite pixels")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(
                f"{path}: {key} is float with values {images.min():g}..{images.max():g}; expected uint8 0..255 or floats in [0, 1]"
            )
        return images.astype(np.float32)
    raise ValueError(f"{path}: {key} must be uint8 pixels (or floats in [0, 1]), got dtype {images.dtype}")


def load_medmnist(
    root: str | os.PathLike,
    flag: str = "tissuemnist",
    split: str = "train",
    *,
    size: int | None = None,
    label_column: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> ArrayDataset:
    """Load one split of a 2D MedMNIST dataset from ``root/<flag>.npz`` (or ``<flag>_<size>.npz``).

    The file holds ``<split>_images`` (N, H, W) or (N, H, W, 3) uint8 and ``<split>_labels`` (N, 1)
    (or (N, K) for the multi-label ChestMNIST, where ``label_column`` picks one binary finding).
    MedMNIST has no sex or age column, so only analyses that need no metadata apply; the dataset
    carries an ``index`` column (the row in the file) so results can be traced back.

    Args:
        root: directory holding the ``.npz`` file.
        flag: MedMNIST name, e.g. ``tissuemnist``, ``pathmnist``, ``chestmnist``.
        split: ``train``, ``val`` or ``test``.
        size: MedMNIST+ image size (64, 128, 224) to read ``<flag>_<size>.npz``; None (or 28) for ``<flag>.npz``.
        label_column: for multi-label files, the column to use as a binary target.
        max_samples: keep a stratified, seeded subsample of at most this many (TissueMNIST's train
            split has 165,466 images; a CPU run wants a few thousand).
        seed: the subsample.

    Raises:
        FileNotFoundError: the directory or the ``.npz`` file is missing.
        ValueError: a missing key, mismatched lengths, or a multi-label file without ``label_column``.
    """
    if split not in _MEDMNIST_SPLITS:
        raise ValueError(f"split must be one of {_MEDMNIST_SPLITS}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MedMNIST directory {root} does not exist")
    fname = f"{flag}.npz" if size in (None, 28) else f"{flag}_{size}.npz"  # as medmnist: 28 has no suffix
    path = root / fname
    if not path.is_file():
        found = sorted(p.name for p in root.glob("*.npz"))
        raise FileNotFoundError(f"MedMNIST file {path} not found (the directory has {found or 'no .npz files'})")
    with np.load(path, allow_pickle=False) as npz:
        for key in (f"{split}_images", f"{split}_labels"):
            if key not in npz.files:
                raise ValueError(f"{path} has no key {key!r} (it has {sorted(npz.files)})")
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    if len(images) != len(labels):
        raise ValueError(f"{path}: {len(images)} {split} images but {len(labels)} labels")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3):
        images = np.transpose(images, (0, 3, 1, 2))
    else:
        raise ValueError(f"{path}: {split}_images must be (N, H, W) or (N, H, W, C), got {images.shape}")
    if len(labels) == 0:
        raise ValueError(f"{path}: {split}_images holds no images")
    labels = np.asarray(labels).reshape(len(labels), -1)
    if labels.dtype.kind not in "iu":  # 2.9 must not become 2
        raise ValueError(f"{path}: {split}_labels must be integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"{path}: {split}_labels must be >= 0, found {int(labels.min())}")
    scaled = _medmnist_pixels(path, f"{split}_images", images)
    multi_label = labels.shape[1] > 1
    if multi_label:
        if label_column is None or not 0 <= label_column < labels.shape[1]:
            raise ValueError(f"{path} is multi-label ({labels.shape[1]} columns): pass label_column in [0, {labels.shape[1] - 1}]")
        labels = labels[:, label_column]
    else:
        labels = labels[:, 0]
    labels = labels.astype(np.int64)
    index = np.arange(len(labels))
    if max_samples is not None:
        if not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(f"max_samples must be a positive int, got {max_samples!r}")
        if max_samples < len(labels):
            index, _ = stratified_partition(labels, max_samples, seed)
    x = torch.from_numpy(np.ascontiguousarray(scaled[index], dtype=np.float32))
    num_classes = 2 if multi_label else int(labels.max()) + 1  # one finding is binary even if absent here
    return ArrayDataset(x, torch.from_numpy(labels[index]), {"index": index}, name=f"{flag}-{split}", num_classes=num_classes)
