"""Finetune: keep training the original on the retain set and hope for catastrophic forgetting.

SCRUB paper (Kurmanji et al., 2023): SGD on D_r, lr 0.01-0.04, ~10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..training import OptimizerConfig
from .base import Strategy, UnlearnRequest, register, train_epoch


@dataclass
class FinetuneConfig(OptimizerConfig):
    epochs: int = 10

    def check(self) -> None:
        super().check()
        self._positive("epochs")


@register("finetune", reference="Warnecke et al., NDSS 2023; baseline in Kurmanji et al., NeurIPS 2023")
class Finetune(Strategy):
    Config = FinetuneConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = c.make_optimizer(model.parameters())
        gen = request.generator()
        for epoch in range(c.epochs):
            loss = train_epoch(model, request.retain, request.task, opt, request.device, c.batch_size, gen, desc=f"finetune {epoch}")
            request.history.append({"epoch": epoch, "retain_loss": loss})
            request.epoch_done(model, epoch)
        return model
