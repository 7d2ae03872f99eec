"""The per-epoch skeleton every gradient-based strategy shares (not a strategy: the underscore keeps it
out of the registry).

A strategy builds its optimizer and writes its loss for a batch; :func:`~unlearn_lib.loops.run_epoch`
takes the steps and :func:`each_epoch` records each epoch in ``request.history`` and calls
``request.epoch_done``, so curves and timing are recorded the same way for every method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn

from ..loops import batches, cycle, paired
from .base import UnlearnRequest

__all__ = ["Batch", "Pair", "each_epoch", "retain_forget_pairs"]

Batch = tuple[torch.Tensor, torch.Tensor]
Pair = tuple[Batch, Batch]


def each_epoch(
    model: nn.Module, request: UnlearnRequest, epochs: int, one_epoch: Callable[[int], Mapping[str, float]], *, phase: str = "epoch"
) -> nn.Module:
    """For each epoch: ``one_epoch(epoch)``, its numbers into history as ``{"epoch": epoch, ...}``, then
    ``request.epoch_done(model, epoch, phase)`` (the notebooks' per-epoch callback)."""
    for epoch in range(epochs):
        request.history.append({"epoch": epoch, **one_epoch(epoch)})
        request.epoch_done(model, epoch, phase)
    return model


def retain_forget_pairs(request: UnlearnRequest, batch_size: int, forget_batch_size: int) -> Callable[[], Iterator[Pair]]:
    """A function giving one epoch of retain batches, each paired with the next forget batch.

    Retain batches are reshuffled every epoch (``request.generator()``); the forget batches come from
    one endless shuffled stream (``request.generator(1)``) that carries on across epochs, so a small
    forget set is seen as often as the retain set has batches.
    """
    gen = request.generator()
    forget = cycle(request.forget, forget_batch_size, request.generator(1))
    return lambda: paired(batches(request.retain, batch_size, generator=gen), forget)
