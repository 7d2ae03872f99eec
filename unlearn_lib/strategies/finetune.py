"""Finetune: keep training the original on the retain set and hope for catastrophic forgetting.

SCRUB paper (Kurmanji et al., 2023): SGD on D_r, lr 0.01-0.04, ~10 epochs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import nn

from ..training import OptimizerConfig
from ._loop import EpochStrategy
from .base import UnlearnRequest, register, train_epoch


@dataclass
class FinetuneConfig(OptimizerConfig):
    epochs: int = 10

    def check(self) -> None:
        super().check()
        self._positive("epochs")


@register("finetune", reference="Warnecke et al., NDSS 2023; baseline in Kurmanji et al., NeurIPS 2023")
class Finetune(EpochStrategy):
    """Epochs of the task loss on one split: descent on D_r here; NegGrad is ascent on D_f."""

    Config = FinetuneConfig
    split: ClassVar[Literal["retain", "forget"]] = "retain"
    sign: ClassVar[float] = 1.0

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        self.gen = request.generator()  # one stream: each epoch reshuffles it
        return model.parameters()

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        data = getattr(request, self.split)
        loss = train_epoch(
            model, data, request.task, opt, request.device, self.config.batch_size, self.gen, sign=self.sign, desc=f"{self.name} {epoch}"
        )
        return {f"{self.split}_loss": loss}
