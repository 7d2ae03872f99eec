"""Helpers shared by several strategies (not a strategy: the underscore keeps it out of the registry)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from ..data.datasets import ArrayDataset
from ..loops import batches
from ..tasks import Task
from ..utils import progress

__all__ = ["concat", "diagonal_fisher", "error_rate", "freeze_all_but", "last_blocks", "same_classes_as"]


def last_blocks(model: nn.Module, k: int) -> list[nn.Module]:
    """The last ``k`` entries of ``model.blocks()`` (input to output), validated.

    Raises:
        ValueError: the model has no ``blocks()`` or ``k`` is outside [1, number of blocks].
    """
    if not callable(getattr(model, "blocks", None)):
        raise ValueError(f"{type(model).__name__} has no blocks() method; CF-k / EU-k need one (see CONTRIBUTING.md)")
    blocks = list(model.blocks())
    if not 1 <= k <= len(blocks):
        raise ValueError(f"k must be in [1, {len(blocks)}] for {type(model).__name__}, got {k}")
    return blocks[-k:]


def freeze_all_but(model: nn.Module, trainable: list[nn.Module]) -> list[nn.Parameter]:
    """Turn off gradients outside ``trainable`` and return the trainable parameters."""
    keep = {id(p) for m in trainable for p in m.parameters()}
    params = []
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
        if id(p) in keep:
            params.append(p)
    return params


@torch.no_grad()
def error_rate(model: nn.Module, dataset: Dataset, task: Task, device: torch.device, batch_size: int = 512) -> float:
    """1 - mean per-example correctness (a voxel share for segmentation), in eval mode."""
    was_training = model.training
    model.eval()
    correct, n = 0.0, 0
    for x, y in batches(dataset, batch_size, shuffle=False):
        x, y = x.to(device), y.to(device)
        correct += float(task.per_example_correct(task.logits(model, x), y).sum())
        n += len(x)
    model.train(was_training)
    return 1.0 - correct / max(n, 1)


def same_classes_as(pool: Dataset, reference: Dataset) -> Dataset:
    """``pool`` restricted to the classes present in ``reference`` (per-image labels only).

    Used to find held-out examples "like the forget set": the forgotten class for class and
    selective forgetting, every class for random forgetting. Datasets without per-image labels
    (segmentation masks, generic datasets) are returned unchanged, as is an empty restriction.
    """
    if not (isinstance(pool, ArrayDataset) and isinstance(reference, ArrayDataset)) or pool.y.ndim != 1 or reference.y.ndim != 1:
        return pool
    idx = np.flatnonzero(np.isin(pool.labels, np.unique(reference.labels)))
    return pool.subset(idx, f"{pool.name}_like_forget") if idx.size else pool


def _named_trainable(model: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def concat(first: Dataset, second: Dataset) -> Dataset:
    """One dataset of both (an :class:`ArrayDataset` when both are, to keep fast slicing)."""
    if isinstance(first, ArrayDataset) and isinstance(second, ArrayDataset):
        return ArrayDataset(torch.cat([first.x, second.x]), torch.cat([first.y, second.y]), name="combined", num_classes=first.num_classes)
    return ConcatDataset([first, second])


def diagonal_fisher(
    model: nn.Module, dataset: Dataset, task: Task, device: torch.device, batch_size: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Mean over shuffled mini-batches of the squared gradient of the task loss (SSD's importance).

    The model is put in eval mode (no batch-norm statistics change) and its weights are untouched.
    """
    params = _named_trainable(model)
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training, count = model.training, 0
    model.eval()
    for x, y in progress(batches(dataset, batch_size, generator=generator), desc="importance"):
        x, y = x.to(device), y.to(device)
        model.zero_grad(set_to_none=True)
        task.loss(task.logits(model, x), y).backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad.detach() ** 2
        count += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {n: f / max(count, 1) for n, f in fisher.items()}
