"""An in-memory labelled dataset that carries per-sample metadata (subject, sex, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["ArrayDataset"]


@dataclass
class ArrayDataset(Dataset):
    """Inputs ``x`` (N, C, ...) float, targets ``y`` (N, ...) long, and metadata columns of length N.

    Everything lives in memory: the study's default data are small, and keeping metadata beside the
    tensors is what lets a forget set be "every sample of subject 7" or "every female patient".
    """

    x: torch.Tensor
    y: torch.Tensor
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "data"
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise ValueError("ArrayDataset expects torch tensors for x and y")
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} samples but y has {len(self.y)}")
        for key, col in self.meta.items():
            if len(col) != len(self.x):
                raise ValueError(f"metadata column {key!r} has {len(col)} rows, expected {len(self.x)}")
        if self.num_classes is None and self.y.numel():
            self.num_classes = int(self.y.max()) + 1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    @property
    def labels(self) -> np.ndarray:
        """Per-sample class labels as NumPy (for classification; splits stratify on these)."""
        return self.y.cpu().numpy()

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> ArrayDataset:
        """A copy restricted to ``indices`` (metadata follows)."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError("indices must be one-dimensional")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"indices out of range for a dataset of {len(self)} samples")
        t = torch.from_numpy(idx)
        meta = {k: np.asarray(v)[idx] for k, v in self.meta.items()}
        return ArrayDataset(self.x[t], self.y[t], meta, name or self.name, self.num_classes)

    def with_meta(self, **columns: Sequence | np.ndarray) -> ArrayDataset:
        """A copy with extra metadata columns."""
        meta: Mapping[str, np.ndarray] = {**self.meta, **{k: np.asarray(v) for k, v in columns.items()}}
        return ArrayDataset(self.x, self.y, dict(meta), self.name, self.num_classes)
