"""Accuracy and error per split, computed from the model (a functional form and a stateful class)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..loops import batches
from ..tasks import Task

__all__ = ["Accuracy", "ModelOutputs", "accuracy", "evaluate_splits", "predict"]


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of predictions equal to targets. ``predictions`` may be labels (N,) or logits (N, C).

    Raises:
        ValueError: empty input, or shapes that do not match.
    """
    if predictions.ndim == targets.ndim + 1:
        predictions = predictions.argmax(dim=1)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} must have the same shape")
    if targets.numel() == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((predictions == targets).float().mean())


class Accuracy:
    """Stateful accuracy over batches (torchmetrics style): ``update`` then ``compute``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        if predictions.ndim == targets.ndim + 1:
            predictions = predictions.argmax(dim=1)
        if predictions.shape != targets.shape:
            raise ValueError(f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} must have the same shape")
        self.correct += int((predictions == targets).sum())
        self.total += targets.numel()

    def compute(self) -> float:
        if self.total == 0:
            raise ValueError("Accuracy.compute() called before any update")
        return self.correct / self.total


@dataclass
class ModelOutputs:
    """Per-example outputs of a model on one dataset: what every metric here is computed from."""

    loss: np.ndarray
    correct: np.ndarray
    targets: np.ndarray
    logits: np.ndarray | None = None

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    def subset(self, index: np.ndarray) -> ModelOutputs:
        """The outputs of the examples at ``index``: a split that lies inside an evaluated one (the test
        images of one class) is read from it, not predicted a second time."""
        logits = None if self.logits is None else self.logits[index]
        return ModelOutputs(self.loss[index], self.correct[index], self.targets[index], logits)


@torch.no_grad()
def predict(
    model: nn.Module, dataset: Dataset, task: Task, device: torch.device | str = "cpu", batch_size: int = 512, keep_logits: bool = False
) -> ModelOutputs:
    """Run ``model`` over ``dataset`` in eval mode and keep per-example loss and correctness."""
    if len(dataset) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    losses, correct, targets, logits_all = [], [], [], []
    for x, y in batches(dataset, batch_size, shuffle=False):
        x, y = x.to(device), y.to(device)
        logits = task.logits(model, x)
        losses.append(task.per_example_loss(logits, y).cpu())
        correct.append(task.per_example_correct(logits, y).cpu())
        targets.append(y.reshape(len(y), -1)[:, 0].cpu() if y.ndim > 1 else y.cpu())
        if keep_logits:
            logits_all.append(logits.float().cpu())
    model.train(was_training)
    return ModelOutputs(
        torch.cat(losses).numpy(),
        torch.cat(correct).numpy(),
        torch.cat(targets).numpy(),
        torch.cat(logits_all).numpy() if keep_logits else None,
    )


def evaluate_splits(
    model: nn.Module, splits: Mapping[str, Dataset], task: Task, device: torch.device | str = "cpu", keep_logits: bool = False
) -> dict[str, ModelOutputs]:
    """:func:`predict` on every named split (forget, retain, val, test, ...)."""
    return {name: predict(model, ds, task, device, keep_logits=keep_logits) for name, ds in splits.items() if len(ds)}
