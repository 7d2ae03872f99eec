"""SSD, selective synaptic dampening (Foster et al., AAAI 2024, "Fast machine unlearning without
retraining through selective synaptic dampening").

Retrain-free and one-shot. Importance of each weight is the diagonal Fisher (mean squared gradient
of the task loss over mini-batches) on D_f, ``I_f``, and on the full training data D = D_r + D_f (shuffled together, as the paper's loader),
``I_D``. Weights specialised to the forget set, ``I_f > alpha * I_D``, are multiplied by
``beta = min(lambda * I_D / I_f, 1)``; every other weight is untouched. Defaults are the paper's
ResNet-18 values: alpha (selection weighting) 10, lambda (dampening constant) 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ._common import concat, diagonal_fisher
from .base import Strategy, StrategyConfig, UnlearnRequest, register

__all__ = ["SSD", "SSDConfig", "dampen"]


@dataclass
class SSDConfig(StrategyConfig):
    """Selection weighting ``alpha``, dampening constant ``lam`` and the importance batch size."""

    TUNED: ClassVar[str] = "alpha"  # the scale a study tunes (there is no learning rate)

    alpha: float = 10.0
    lam: float = 1.0
    batch_size: int = 64

    def check(self) -> None:
        self._positive("alpha", "lam", "batch_size")


@torch.no_grad()
def dampen(param: torch.Tensor, imp_forget: torch.Tensor, imp_full: torch.Tensor, alpha: float, lam: float) -> int:
    """Dampen ``param`` in place where ``imp_forget > alpha * imp_full``; returns how many weights moved."""
    chosen = imp_forget > alpha * imp_full
    beta = (lam * imp_full / imp_forget.clamp_min(torch.finfo(imp_forget.dtype).tiny)).clamp(max=1.0)
    param[chosen] = param[chosen] * beta[chosen]
    return int(chosen.sum())


@register("ssd", reference="Foster et al., AAAI 2024")
class SSD(Strategy):
    """Selective synaptic dampening."""

    Config = SSDConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c, task, dev = self.config, request.task, request.device
        imp_forget = diagonal_fisher(model, request.forget, task, dev, c.batch_size, request.generator(1))
        imp_full = diagonal_fisher(model, concat(request.retain, request.forget), task, dev, c.batch_size, request.generator(2))
        moved, total = 0, 0
        for name, p in model.named_parameters():
            if name in imp_forget:
                moved += dampen(p.data, imp_forget[name], imp_full[name], c.alpha, c.lam)
                total += p.numel()
        request.history.append({"epoch": 0, "dampened_share": moved / max(total, 1)})
        request.epoch_done(model, 0)
        return model
