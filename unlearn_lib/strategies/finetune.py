"""Finetune: keep training the original on the retain set and hope for catastrophic forgetting.

SCRUB paper (Kurmanji et al., 2023): SGD on D_r, lr 0.01-0.04, ~10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import nn

from ..training import OptimizerConfig
from ._loop import each_epoch
from .base import Strategy, UnlearnRequest, register, train_epoch


@dataclass
class FinetuneConfig(OptimizerConfig):
    epochs: int = 10

    def check(self) -> None:
        super().check()
        self._positive("epochs")


@register("finetune", reference="Warnecke et al., NDSS 2023; baseline in Kurmanji et al., NeurIPS 2023")
class Finetune(Strategy):
    """Epochs of the task loss on one split: descent on D_r here; NegGrad is ascent on D_f."""

    Config = FinetuneConfig
    split: ClassVar[Literal["retain", "forget"]] = "retain"
    sign: ClassVar[float] = 1.0

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c = self.config
        opt = c.make_optimizer(model.parameters())
        gen = request.generator()
        data = getattr(request, self.split)

        def one_epoch(epoch: int) -> dict[str, float]:
            loss = train_epoch(
                model, data, request.task, opt, request.device, c.batch_size, gen, sign=self.sign, desc=f"{self.name} {epoch}"
            )
            return {f"{self.split}_loss": loss}

        return each_epoch(model, request, c.epochs, one_epoch)
