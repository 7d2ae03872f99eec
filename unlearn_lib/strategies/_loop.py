"""The skeleton every gradient-based strategy shares (not a strategy: the underscore keeps it out of the
registry).

A method subclasses :class:`EpochStrategy` and writes its loss: per epoch, the batches and the loss of
each step, taken by :func:`~unlearn_lib.loops.run_epoch` (the one step loop). The skeleton builds the
optimizer from the method's config, and :func:`each_epoch` records each epoch in ``request.history`` and
calls ``request.epoch_done``, so curves, timing and step budgets work the same way for every method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from ..loops import batches, cycle, paired
from .base import Strategy, UnlearnRequest

__all__ = ["Batch", "EpochStrategy", "Pair", "each_epoch", "retain_forget_pairs"]

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


class EpochStrategy(Strategy):
    """A strategy that writes its epoch of steps; the shared skeleton runs it (open-unlearning's "a method
    writes its loss, one loop runs it").

    What a method writes:

    * :meth:`epoch` - one epoch: its batches and the loss of each step, passed to
      :func:`~unlearn_lib.loops.run_epoch`; returns the numbers to record in history;
    * :meth:`prepare` (optional) - set-up before the first step (a saliency mask, frozen blocks, a bad
      teacher), returning the parameters the optimizer updates (all of them by default);
    * :meth:`finish` (optional) - after the last epoch (SCRUB+R rewinds to its best epoch);
    * :meth:`release` (optional) - undo what :meth:`prepare` did to the model, however the run ends (a
      step budget ends it with an exception).

    The skeleton builds the optimizer (:meth:`make_optimizer`, from the config by default) and runs
    ``config.epochs`` epochs through :func:`each_epoch`; :attr:`phase` names the per-epoch callback.
    """

    #: The phase :func:`each_epoch` reports after every epoch (SCRUB's is "min": its max pass reports "max").
    phase: ClassVar[str] = "epoch"

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        """Set up before the first step; the parameters the optimizer updates."""
        return model.parameters()

    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer of the method's config (:class:`~unlearn_lib.training.OptimizerConfig` fields)."""
        return self.config.make_optimizer(params)  # type: ignore[attr-defined]

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> Mapping[str, float]:
        raise NotImplementedError  # pragma: no cover - abstract

    def finish(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        """After the last epoch (not reached when a step budget stops the run)."""
        return model

    def release(self, model: nn.Module) -> None:
        """Undo what :meth:`prepare` did to the model itself (e.g. frozen weights), however the run ends."""

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        params = self.prepare(model, request)
        opt = self.make_optimizer(params)
        try:
            each_epoch(model, request, self.config.epochs, lambda epoch: self.epoch(model, request, opt, epoch), phase=self.phase)  # type: ignore[attr-defined]
        finally:
            self.release(model)
        return self.finish(model, request)
