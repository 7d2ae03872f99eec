"""Shared training loops: fast in-memory batching, optimizers, one epoch of (signed) loss."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .data.datasets import ArrayDataset
from .tasks import Task
from .utils import progress

__all__ = ["batches", "cycle", "make_optimizer", "train_epoch"]


def batches(
    dataset: Dataset, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, y) batches; in-memory datasets are sliced directly (far faster than a DataLoader)."""
    if isinstance(dataset, ArrayDataset):
        n = len(dataset)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield dataset.x[idx], dataset.y[idx]
    else:
        yield from DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def cycle(dataset: Dataset, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless reshuffled batches (to pair a small forget set with a large retain set)."""
    while True:
        yield from batches(dataset, batch_size, shuffle=True, generator=generator)


def make_optimizer(
    name: str, params: Any, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)
) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam or AdamW; the name is validated by each Config's ``Literal``."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {name!r}")


def train_epoch(
    model: nn.Module,
    dataset: Dataset,
    task: Task,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    batch_size: int,
    generator: torch.Generator,
    *,
    sign: float = 1.0,
    targets_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    desc: str | None = None,
    clip: float | None = None,
) -> float:
    """One epoch of (sign * task.loss) on ``dataset``; ``sign=-1`` is gradient ascent.

    ``targets_fn`` replaces the targets (Random Label, Noisy Label). Returns the mean loss.
    """
    model.train()
    total, count = 0.0, 0
    for x, y in progress(batches(dataset, batch_size, generator=generator), desc=desc):
        x, y = x.to(device), y.to(device)
        if targets_fn is not None:
            y = targets_fn(y)
        loss = task.loss(task.logits(model, x), y)
        optimizer.zero_grad(set_to_none=True)
        (sign * loss).backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += float(loss.detach()) * len(x)
        count += len(x)
    return total / max(count, 1)
