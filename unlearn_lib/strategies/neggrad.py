"""NegGrad: gradient ascent on the forget set's loss (Golatkar et al.; baseline in SCRUB)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..training import OptimizerConfig
from ._loop import run_epochs
from .base import Strategy, UnlearnRequest, register, train_epoch


@dataclass
class NegGradConfig(OptimizerConfig):
    epochs: int = 5

    def check(self) -> None:
        super().check()
        self._positive("epochs")


@register("neggrad", reference="Golatkar et al., CVPR 2020; baseline in Kurmanji et al., NeurIPS 2023")
class NegGrad(Strategy):
    Config = NegGradConfig
    needs_retain = False

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = c.make_optimizer(model.parameters())
        gen = request.generator()

        def one_epoch(epoch: int) -> dict[str, float]:
            loss = train_epoch(
                model, request.forget, request.task, opt, request.device, c.batch_size, gen, sign=-1.0, desc=f"neggrad {epoch}"
            )
            return {"forget_loss": loss}

        return run_epochs(model, request, c.epochs, one_epoch)
