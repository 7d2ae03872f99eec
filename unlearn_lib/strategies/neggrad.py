"""NegGrad: gradient ascent on the forget set's loss (Golatkar et al.; baseline in SCRUB)."""

from __future__ import annotations

from dataclasses import dataclass

from ..training import OptimizerConfig
from .base import register
from .finetune import Finetune


@dataclass
class NegGradConfig(OptimizerConfig):
    epochs: int = 5

    def check(self) -> None:
        super().check()
        self._positive("epochs")


@register("neggrad", reference="Golatkar et al., CVPR 2020; baseline in Kurmanji et al., NeurIPS 2023")
class NegGrad(Finetune):
    """Finetune's loop on D_f with the loss's sign flipped (gradient ascent)."""

    Config = NegGradConfig
    needs_retain = False
    split = "forget"
    sign = -1.0
