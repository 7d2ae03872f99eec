"""CF-k, catastrophic forgetting of the last k blocks: finetune only them on D_r (Goel et al., 2022).

A baseline of the SCRUB paper (Kurmanji et al., 2023): the first blocks are frozen (weights and
batch-norm statistics), the last ``k`` of ``model.blocks()`` keep training on the retain set with the
Finetune recipe and hope to forget D_f. Default ``k`` follows the SCRUB code's small models (the last
block pair); sweep it for deeper networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..loops import train_epoch
from ..training import OptimizerConfig
from ._common import freeze_all_but, last_blocks
from ._loop import each_epoch
from .base import Strategy, UnlearnRequest, register

__all__ = ["CFk", "CFkConfig", "train_last_blocks"]


@dataclass
class CFkConfig(OptimizerConfig):
    """Finetune's recipe (SGD lr 0.01, ~10 epochs) restricted to the last ``k`` blocks."""

    k: int = 2
    epochs: int = 10

    def check(self) -> None:
        super().check()
        self._positive("k", "epochs")


def train_last_blocks(model: nn.Module, blocks: list[nn.Module], request: UnlearnRequest, c: CFkConfig, name: str) -> nn.Module:
    """Train only ``blocks`` on D_r; the rest of the network stays in eval mode, its weights frozen."""
    params = freeze_all_but(model, blocks)
    opt = c.make_optimizer(params)
    gen = request.generator()

    def train_blocks(m: nn.Module) -> None:
        m.eval()  # frozen blocks keep their batch-norm statistics too
        for b in blocks:
            b.train()

    def one_epoch(epoch: int) -> dict[str, float]:
        args = (model, request.retain, request.task, opt, request.device, c.batch_size, gen)
        return {"retain_loss": train_epoch(*args, mode=train_blocks, desc=f"{name} {epoch}")}

    try:
        each_epoch(model, request, c.epochs, one_epoch)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    return model


@register("cf_k", reference="Goel et al., 2022 (arXiv 2201.06640)")
class CFk(Strategy):
    """Catastrophic forgetting of the last k blocks."""

    Config = CFkConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        return train_last_blocks(model, last_blocks(model, self.config.k), request, self.config, "cf_k")
