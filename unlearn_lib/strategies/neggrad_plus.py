"""NegGrad+: beta * CE(retain) - (1 - beta) * CE(forget) in one step (Kurmanji et al., 2023).

Each retain batch is paired with a (cycled) forget batch. The paper tunes beta in 0.95-0.9999.
History records each epoch's mean retain and forget losses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..loops import run_epoch
from ..training import OptimizerConfig
from ._loop import EpochStrategy, Pair, retain_forget_pairs
from ._paired import jointly
from .base import UnlearnRequest, register


@dataclass
class NegGradPlusConfig(OptimizerConfig):
    epochs: int = 5
    beta: float = 0.95
    forget_batch_size: int = 64

    def check(self) -> None:
        super().check()
        self._positive("epochs", "forget_batch_size")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"NegGradPlusConfig.beta must be in [0, 1], got {self.beta}")


@register("neggrad_plus", reference="Kurmanji et al., NeurIPS 2023")
class NegGradPlus(EpochStrategy):
    Config = NegGradPlusConfig

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        self.pairs = retain_forget_pairs(request, self.config.batch_size, self.config.forget_batch_size)
        return model.parameters()

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        c, task = self.config, request.task

        def pair_loss(pair: Pair) -> tuple[torch.Tensor, dict[str, float]]:
            (xr, yr), (xf, yf) = pair
            logits_r, logits_f = jointly(task.logits, model, xr, xf)
            retain_loss = task.loss(logits_r, yr)
            forget_loss = task.loss(logits_f, yf)
            loss = c.beta * retain_loss - (1.0 - c.beta) * forget_loss
            return loss, {"retain_loss": float(retain_loss.detach()), "forget_loss": float(forget_loss.detach())}

        return run_epoch(model, self.pairs(), pair_loss, opt, device=request.device, desc=f"neggrad+ {epoch}")
