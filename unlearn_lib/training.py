"""Ordinary supervised training: the original model, and retraining from scratch (the gold standard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from .config import StrategyConfig
from .loops import make_optimizer, train_epoch
from .tasks import Task
from .utils import Timer, progress, resolve_device, seed_everything, torch_generator

__all__ = ["TrainConfig", "train_model"]


@dataclass
class TrainConfig(StrategyConfig):
    """The training recipe. Retraining uses the same recipe, so its cost is the original's cost."""

    epochs: int = 10
    lr: float = 0.05
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    schedule: Literal["constant", "cosine"] = "cosine"

    def check(self) -> None:
        self._positive("epochs", "lr", "batch_size")


def fit(model: nn.Module, dataset: Dataset, task: Task, cfg: TrainConfig, device: torch.device, seed: int, desc: str) -> nn.Module:
    """Train ``model`` in place with ``cfg`` (no seeding, no copying: callers decide)."""
    model.to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs) if cfg.schedule == "cosine" else None
    gen = torch_generator(seed)
    for _ in progress(range(cfg.epochs), desc=desc):
        train_epoch(model, dataset, task, opt, device, cfg.batch_size, gen)
        if sched is not None:
            sched.step()
    return model.eval()


def train_model(
    model: nn.Module,
    dataset: Dataset,
    task: Task,
    config: TrainConfig | dict | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    desc: str = "train",
) -> tuple[nn.Module, float]:
    """Train a model from its current weights; returns the model and the wall time in seconds."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if len(dataset) == 0:
        raise ValueError("cannot train on an empty dataset")
    dev = resolve_device(device)
    seed_everything(seed)
    with Timer() as t:
        fit(model, dataset, task, cfg, dev, seed, desc)
    return model, t.seconds
