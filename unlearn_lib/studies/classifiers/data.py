"""The classifier notebooks' data sizes: a stratified, seeded subsample of a training or test set."""

from __future__ import annotations

from ...data.datasets import ArrayDataset
from ...data.splits import stratified_partition

__all__ = ["subsample"]


def subsample(data: ArrayDataset, size: int | None, seed: int) -> ArrayDataset:
    """A stratified, seeded subsample of ``size`` examples (every class in its share), or ``data`` itself
    when ``size`` is None or not below its length: how 01 and 02 shrink a training or test set."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int (examples to keep) or None, got {size!r}")
    if size is None or size >= len(data):
        return data
    return data.subset(stratified_partition(data.labels, size, seed)[0])
