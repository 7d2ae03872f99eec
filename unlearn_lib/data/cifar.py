"""CIFAR-10 from a directory: the binary version, or the python version through a safe unpickler."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from .datasets import ArrayDataset

__all__ = ["CIFAR10_CLASSES", "SafeUnpickler", "load_cifar10", "safe_load_pickle"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_BIN_FILES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
_PY_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_RECORD = 1 + 3 * 32 * 32


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds only NumPy arrays and plain containers.

    A pickle can run any callable it names; CIFAR-10's python batches need only ``numpy`` array
    reconstruction, so everything else (``os.system``, ``builtins.eval``, ...) is refused.
    """

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("builtins", "bytearray"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain arrays and containers are allowed")


def safe_load_pickle(path: str | os.PathLike) -> object:
    """Load a pickle with :class:`SafeUnpickler` (latin1 so Python-2 pickles of CIFAR load)."""
    data = Path(path).read_bytes()
    return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


def _resolve(root: Path, sub: str, names: list[str]) -> Path | None:
    for base in (root, root / sub):
        if all((base / n).is_file() for n in names):
            return base
    return None


def _check_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """One batch file: at least one image, rows of 3,072 bytes, one integer label 0..9 per image."""
    if images.ndim != 2 or images.shape[1] != _RECORD - 1:
        raise ValueError(f"{path}: expected images as rows of {_RECORD - 1} bytes (3x32x32), got an array of shape {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{path}: the batch holds no images")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{path}: expected {images.shape[0]} labels (one per image), got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{path}: labels must be integers 0..9, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: CIFAR-10 labels must be 0..9, found {int(labels.min())}..{int(labels.max())}")


def _dataset(images: np.ndarray, labels: np.ndarray, split: str) -> ArrayDataset:
    x = torch.from_numpy(images.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return ArrayDataset(x, torch.from_numpy(labels.astype(np.int64)), name=f"cifar10-{split}", num_classes=10)


def load_cifar10(root: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """Load CIFAR-10 from ``root`` (or ``root/cifar-10-batches-bin`` / ``-py``).

    The binary version is preferred: each record is one label byte and 3,072 pixel bytes (R, G, B
    planes of 32x32). The python version is read through :class:`SafeUnpickler`.

    Raises:
        FileNotFoundError: naming the first missing batch file when neither version is complete.
        ValueError: a batch file that is empty, of another width, or with labels outside 0..9 (named).
    """
    if split not in _BIN_FILES:
        raise ValueError(f"split must be one of {sorted(_BIN_FILES)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10 directory {root} does not exist")
    base = _resolve(root, "cifar-10-batches-bin", _BIN_FILES[split])
    if base is not None:
        images, labels = [], []
        for name in _BIN_FILES[split]:
            raw = np.fromfile(base / name, dtype=np.uint8)
            if raw.size % _RECORD:
                raise ValueError(f"{base / name}: size {raw.size} is not a multiple of the {_RECORD}-byte record")
            rec = raw.reshape(-1, _RECORD)
            _check_batch(base / name, rec[:, 1:], rec[:, 0])
            labels.append(rec[:, 0])
            images.append(rec[:, 1:])
        return _dataset(np.concatenate(images), np.concatenate(labels), split)
    base = _resolve(root, "cifar-10-batches-py", _PY_FILES[split])
    if base is not None:
        images, labels = [], []
        for name in _PY_FILES[split]:
            batch = safe_load_pickle(base / name)
            if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
                raise ValueError(f"{base / name}: expected a dict with 'data' and 'labels'")
            data, lab = np.asarray(batch["data"]), np.asarray(batch["labels"])
            if data.size == 0:
                raise ValueError(f"{base / name}: the batch holds no images")
            if data.dtype != np.uint8:
                raise ValueError(f"{base / name}: expected 'data' of bytes (uint8), got dtype {data.dtype}")
            _check_batch(base / name, data, lab)
            images.append(data)
            labels.append(lab)
        return _dataset(np.concatenate(images), np.concatenate(labels), split)
    missing = next(n for n in _BIN_FILES[split] if not (root / n).is_file() and not (root / "cifar-10-batches-bin" / n).is_file())
    raise FileNotFoundError(f"CIFAR-10 directory {root} has no {missing} (binary version) nor a complete python version")
