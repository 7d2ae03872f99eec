"""Training recipes: how the original model is trained, and therefore how retraining must train.

A :class:`Recipe` is a typed config that knows how to ``fit`` a fresh model. The experiment keeps the
recipe it trained the original with and hands it to every unlearning request, so ``retrain`` repeats
it exactly by construction (same epochs, optimizer, schedule and weight decay): retraining is the
reference every method is compared with and the clock every speed-up divides by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from .config import StrategyConfig
from .loops import make_optimizer, train_epoch
from .tasks import Task
from .utils import Timer, progress, resolve_device, seed_everything, torch_generator

__all__ = ["OptimizerConfig", "Recipe", "TrainConfig", "train_model"]


@dataclass
class OptimizerConfig(StrategyConfig):
    """The optimizer fields that training and most strategies share, and the one place that builds it.

    Defaults are the SGD recipe the unlearning papers fine-tune with (lr 0.01, momentum 0.9, weight
    decay 5e-4, batch 64); a subclass redeclares a field to change its default.
    """

    lr: float = 0.01
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64

    def check(self) -> None:
        self._positive("lr", "batch_size")
        self._in_range("momentum", 0.0, 1.0, high_open=True)
        if self.weight_decay < 0:
            raise ValueError(f"{type(self).__name__}.weight_decay must be >= 0, got {self.weight_decay}")

    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        return make_optimizer(self.optimizer, params, self.lr, self.momentum, self.weight_decay)


class Recipe(OptimizerConfig):
    """A training recipe: the original model's and, by construction, retraining's.

    Subclasses add their fields (epochs, schedule, ...) and implement :meth:`fit`, which trains a
    model in place without seeding or copying (callers decide both).
    """

    def fit(self, model: nn.Module, dataset: Dataset, task: Task, device: torch.device, seed: int, desc: str = "train") -> nn.Module:
        raise NotImplementedError  # pragma: no cover - abstract


@dataclass
class TrainConfig(Recipe):
    """The classifier recipe: SGD (by default) with a cosine or constant schedule."""

    epochs: int = 10
    lr: float = 0.05
    schedule: Literal["constant", "cosine"] = "cosine"

    def check(self) -> None:
        super().check()
        self._positive("epochs")

    def fit(self, model: nn.Module, dataset: Dataset, task: Task, device: torch.device, seed: int, desc: str = "train") -> nn.Module:
        model.to(device)
        opt = self.make_optimizer(model.parameters())
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs) if self.schedule == "cosine" else None
        gen = torch_generator(seed)
        for _ in progress(range(self.epochs), desc=desc):
            train_epoch(model, dataset, task, opt, device, self.batch_size, gen)
            if sched is not None:
                sched.step()
        return model.eval()


def train_model(
    model: nn.Module,
    dataset: Dataset,
    task: Task,
    config: Recipe | dict | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    desc: str = "train",
) -> tuple[nn.Module, float]:
    """Train a model from its current weights with ``config`` (a :class:`Recipe`, or a dict of
    :class:`TrainConfig` overrides); returns the model and the wall time in seconds."""
    cfg = config if isinstance(config, Recipe) else TrainConfig.from_dict(config)
    if len(dataset) == 0:
        raise ValueError("cannot train on an empty dataset")
    dev = resolve_device(device)
    seed_everything(seed)
    with Timer() as t:
        cfg.fit(model, dataset, task, dev, seed, desc)
    return model, t.seconds
