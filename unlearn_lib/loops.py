"""Shared training loops: fast in-memory batching, optimizers, and the one optimisation loop.

Every gradient-based strategy writes only its loss for a batch (or a retain/forget pair) and hands
it to :func:`run_epoch`, which owns the rest: training mode, device moves, the progress bar,
``zero_grad`` / ``backward`` / optional clipping / ``step``, and the epoch means recorded in history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .data.datasets import ArrayDataset
from .tasks import Task
from .utils import progress

__all__ = ["StepLoss", "batches", "cycle", "examples", "make_optimizer", "paired", "run_epoch", "supervised", "to_device", "train_epoch"]

B = TypeVar("B")
A = TypeVar("A")
#: A strategy's loss for one batch: the tensor to minimise and the named numbers to record.
StepLoss = Callable[[B], tuple[torch.Tensor, dict[str, float]]]


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


def paired(first: Iterable[A], second: Iterator[B]) -> Iterator[tuple[A, B]]:
    """Each batch of ``first`` with the next batch of ``second``, drawn only once ``first`` has yielded.

    With ``second`` an endless :func:`cycle` of the forget set that lives across epochs, this is the
    retain/forget pairing of NegGrad+ and the segmentation mechanics; the draw order keeps their
    random numbers exactly as before the loop was shared.
    """
    for a in first:
        yield a, next(second)


def to_device(batch: Any, device: torch.device) -> Any:
    """A tensor, or nested tuples of tensors ((x, y), or ((x_r, y_r), (x_f, y_f))), on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    return tuple(to_device(b, device) for b in batch)


def examples(batch: tuple[torch.Tensor, ...]) -> int:
    """The number of examples of an (x, y) batch: pass as ``weight`` for per-example epoch means."""
    return len(batch[0])


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


def run_epoch(
    model: nn.Module,
    batch_iter: Iterable[B],
    step_loss: StepLoss[B],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | None = None,
    clip: float | None = None,
    params: Iterable[nn.Parameter] | None = None,
    step: Callable[[], object] | None = None,
    weight: Callable[[B], int] | None = None,
    mode: Callable[[nn.Module], object] = nn.Module.train,
    desc: str | None = None,
) -> dict[str, float]:
    """One pass over ``batch_iter`` with one optimizer step per batch; ``step_loss`` is all a strategy writes.

    Per batch (moved to ``device``): ``loss, parts = step_loss(batch)``, then ``zero_grad``,
    ``loss.backward()``, gradient-norm clipping of ``params`` (the model's by default) to ``clip``
    when given, and ``step()`` (``optimizer.step`` unless replaced: SalUn masks its update).

    Args:
        weight: how much a batch counts in the means (``examples`` for per-example means); each
            step counts once by default.
        mode: puts the model in training mode before the pass (CF-k trains only its last blocks).

    Returns:
        The mean of each of ``parts`` over the epoch, for the strategy's history.
    """
    mode(model)
    do_step = step if step is not None else optimizer.step
    sums: dict[str, float] = {}
    count = 0
    for batch in progress(batch_iter, desc=desc):
        if device is not None:
            batch = to_device(batch, device)
        loss, parts = step_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(params if params is not None else model.parameters(), clip)
        do_step()
        w = weight(batch) if weight is not None else 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * w
        count += w
    return {k: v / max(count, 1) for k, v in sums.items()}


def supervised(
    model: nn.Module,
    task: Task,
    name: str = "loss",
    *,
    sign: float = 1.0,
    targets_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> StepLoss[tuple[torch.Tensor, torch.Tensor]]:
    """The plain step loss on an (x, y) batch: ``sign * task.loss``, the unsigned loss recorded as ``name``.

    ``targets_fn`` replaces the targets first (Random Label's random other-class labels).
    """

    def step_loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        if targets_fn is not None:
            y = targets_fn(y)
        loss = task.loss(task.logits(model, x), y)
        return sign * loss, {name: float(loss.detach())}

    return step_loss


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
    mode: Callable[[nn.Module], object] = nn.Module.train,
) -> float:
    """One epoch of :func:`supervised` steps on ``dataset``; ``sign=-1`` is gradient ascent.

    ``targets_fn`` replaces the targets; ``mode`` is :func:`run_epoch`'s. Returns the mean (unsigned)
    loss per example.
    """
    step_loss = supervised(model, task, sign=sign, targets_fn=targets_fn)
    data = batches(dataset, batch_size, generator=generator)
    return run_epoch(model, data, step_loss, optimizer, device=device, clip=clip, weight=examples, mode=mode, desc=desc).get("loss", 0.0)
