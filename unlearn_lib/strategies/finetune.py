"""Finetune: keep training the original on the retain set and hope for catastrophic forgetting.

SCRUB paper (Kurmanji et al., 2023): SGD on D_r, lr 0.01-0.04, ~10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from .base import Strategy, StrategyConfig, UnlearnRequest, make_optimizer, register, train_epoch


@dataclass
class FinetuneConfig(StrategyConfig):
    epochs: int = 10
    lr: float = 0.01
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64

    def check(self) -> None:
        self._positive("epochs", "lr", "batch_size")


@register("finetune")
class Finetune(Strategy):
    Config = FinetuneConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = make_optimizer(c.optimizer, model.parameters(), c.lr, c.momentum, c.weight_decay)
        gen = request.generator()
        for epoch in range(c.epochs):
            loss = train_epoch(model, request.retain, request.task, opt, request.device, c.batch_size, gen, desc=f"finetune {epoch}")
            request.history.append({"epoch": epoch, "retain_loss": loss})
            request.epoch_done(model, epoch)
        return model
