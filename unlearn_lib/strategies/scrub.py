"""SCRUB (Kurmanji et al., NeurIPS 2023): a student that stays close to the teacher on the retain set
and moves away from it on the forget set.

Objective: alpha * mean_{D_r} d(x) + gamma * mean_{D_r} CE - mean_{D_f} d(x), with d the tempered KL
between teacher (the frozen original) and student. Solved by alternation: while ``epoch < msteps``
one *max* pass over D_f (minimise -d), then every epoch one *min* pass over D_r.
Defaults are the paper code's large-scale setting; ``preset="small"`` gives the small-scale one
(Adam with coupled L2 weight decay 0.1, and the learning rate times ``lr_decay_rate`` after each epoch
listed in ``lr_decay_epochs``, counted from 1 as in the authors' ``adjust_learning_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..loops import batches, examples, run_epoch
from ..training import OptimizerConfig
from ._loop import Batch, EpochStrategy
from .base import UnlearnRequest, register


@dataclass
class ScrubConfig(OptimizerConfig):
    epochs: int = 3
    msteps: int = 2
    lr: float = 5e-4
    alpha: float = 0.001
    gamma: float = 0.99
    temperature: float = 4.0
    batch_size: int = 256
    forget_batch_size: int = 512
    #: 1-based epochs after which the rate is multiplied by ``lr_decay_rate`` (none: constant rate).
    lr_decay_epochs: tuple[int, ...] = ()
    lr_decay_rate: float = 0.1
    #: Compute the frozen teacher's logits once per example instead of every step (same batches, the
    #: teacher's numbers equal up to float rounding of another batch grouping; benchmarks/bench_strategies.py --teacher).
    cache_teacher: bool = True

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "large": {},
        "small": {
            "optimizer": "adam",
            "lr": 5e-4,
            "gamma": 1.0,
            "alpha": 0.5,
            "msteps": 3,
            "epochs": 10,
            "temperature": 2.0,
            "batch_size": 32,
            "forget_batch_size": 64,
            "weight_decay": 0.1,
            "lr_decay_epochs": (5, 8, 9),
            "lr_decay_rate": 0.1,
        },
    }

    def check(self) -> None:
        super().check()
        self._positive("epochs", "temperature", "forget_batch_size", "lr_decay_rate")
        self.lr_decay_epochs = tuple(self.lr_decay_epochs)
        if any(e < 1 for e in self.lr_decay_epochs):
            raise ValueError(f"ScrubConfig.lr_decay_epochs must be epochs counted from 1, got {self.lr_decay_epochs}")
        if self.msteps < 0 or self.msteps > self.epochs:
            raise ValueError(f"ScrubConfig.msteps must be in [0, epochs={self.epochs}], got {self.msteps}")
        if self.alpha < 0 or self.gamma < 0:
            raise ValueError("ScrubConfig.alpha and gamma must be >= 0")


def scrub_lr(c: Any, epoch: int) -> float:
    """The rate of 0-based ``epoch``: ``lr`` times ``lr_decay_rate`` per listed epoch it comes after."""
    return c.lr * c.lr_decay_rate ** sum(epoch + 1 > e for e in c.lr_decay_epochs)


def teacher_batches(request: UnlearnRequest, dataset: Any, batch_size: int, generator: torch.Generator, cached: bool) -> Any:
    """``(x, y, teacher logits)`` batches of ``dataset`` in :func:`~unlearn_lib.loops.batches`' order for
    ``generator``: the teacher's logits come from :meth:`UnlearnRequest.teacher_logits` when ``cached``
    (and the dataset is in memory), else from a forward pass per step."""
    logits = request.teacher_logits(dataset) if cached else None
    if logits is None:
        for x, y in batches(dataset, batch_size, generator=generator):
            with torch.no_grad():  # not around the yield: the consumer's step must record its graph
                teacher = request.task.logits(request.original, x.to(request.device))
            yield x, y, teacher
        return
    order = torch.randperm(len(dataset), generator=generator)
    for start in range(0, len(dataset), batch_size):
        idx = order[start : start + batch_size]
        yield dataset.x[idx], dataset.y[idx], logits[idx.to(logits.device)]


def scrub_max_pass(model: nn.Module, request: UnlearnRequest, opt: Any, c: Any, epoch: int) -> float:
    """One pass over D_f minimising -d(x): push the student away from the teacher on forget data."""
    task = request.task

    def step_loss(batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, _, teacher = batch
        loss = -task.divergence(task.logits(model, x), teacher, c.temperature).mean()
        return loss, {"max_loss": float(loss.detach())}

    data = teacher_batches(request, request.forget, c.forget_batch_size, request.generator(10 + epoch), c.cache_teacher)
    return run_epoch(model, data, step_loss, opt, device=request.device, weight=examples, desc=f"scrub max {epoch}")["max_loss"]


def scrub_min_pass(model: nn.Module, request: UnlearnRequest, opt: Any, c: Any, epoch: int) -> float:
    """One pass over D_r minimising gamma * CE + alpha * d(x): stay useful and close to the teacher."""
    task = request.task

    def step_loss(batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y, teacher = batch
        logits = task.logits(model, x)
        kd = task.divergence(logits, teacher, c.temperature).mean()
        loss = c.gamma * task.loss(logits, y) + c.alpha * kd
        return loss, {"min_loss": float(loss.detach())}

    data = teacher_batches(request, request.retain, c.batch_size, request.generator(100 + epoch), c.cache_teacher)
    return run_epoch(model, data, step_loss, opt, device=request.device, weight=examples, desc=f"scrub min {epoch}")["min_loss"]


def scrub_epoch(model: nn.Module, request: UnlearnRequest, opt: Any, c: Any, epoch: int) -> dict[str, float]:
    """One SCRUB epoch at its scheduled rate: the max pass while ``epoch < msteps`` (then the notebook's
    "max" callback), the min pass."""
    lr = scrub_lr(c, epoch)
    for group in opt.param_groups:
        group["lr"] = lr
    max_loss = float("nan")
    if epoch < c.msteps:
        max_loss = scrub_max_pass(model, request, opt, c, epoch)
        request.epoch_done(model, epoch, "max")
    return {"max_loss": max_loss, "min_loss": scrub_min_pass(model, request, opt, c, epoch), "lr": lr}


@register("scrub", reference="Kurmanji et al., NeurIPS 2023")
class Scrub(EpochStrategy):
    Config = ScrubConfig
    phase = "min"

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        return scrub_epoch(model, request, opt, self.config, epoch)
