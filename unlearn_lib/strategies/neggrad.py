"""NegGrad: gradient ascent on the forget set's loss (Golatkar et al.; baseline in SCRUB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from .base import Strategy, StrategyConfig, UnlearnRequest, make_optimizer, register, train_epoch


@dataclass
class NegGradConfig(StrategyConfig):
    epochs: int = 5
    lr: float = 0.01
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64

    def check(self) -> None:
        self._positive("epochs", "lr", "batch_size")


@register("neggrad")
class NegGrad(Strategy):
    Config = NegGradConfig
    needs_retain = False

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = make_optimizer(c.optimizer, model.parameters(), c.lr, c.momentum, c.weight_decay)
        gen = request.generator()
        for epoch in range(c.epochs):
            loss = train_epoch(
                model, request.forget, request.task, opt, request.device, c.batch_size, gen, sign=-1.0, desc=f"neggrad {epoch}"
            )
            request.history.append({"epoch": epoch, "forget_loss": loss})
            request.epoch_done(model, epoch)
        return model
