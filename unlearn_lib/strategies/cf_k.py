"""CF-k, catastrophic forgetting of the last k blocks: finetune only them on D_r (Goel et al., 2022).

A baseline of the SCRUB paper (Kurmanji et al., 2023): the first blocks are frozen (weights and
batch-norm statistics), the last ``k`` of ``model.blocks()`` keep training on the retain set with the
Finetune recipe and hope to forget D_f. Default ``k`` follows the SCRUB code's small models (the last
block pair); sweep it for deeper networks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..loops import train_epoch
from ..training import OptimizerConfig
from ._common import freeze_all_but, last_blocks
from ._loop import EpochStrategy
from .base import UnlearnRequest, register

__all__ = ["CFk", "CFkConfig"]


@dataclass
class CFkConfig(OptimizerConfig):
    """Finetune's recipe (SGD lr 0.01, ~10 epochs) restricted to the last ``k`` blocks."""

    k: int = 2
    epochs: int = 10

    def check(self) -> None:
        super().check()
        self._positive("k", "epochs")


@register("cf_k", reference="Goel et al., 2022 (arXiv 2201.06640)")
class CFk(EpochStrategy):
    """Catastrophic forgetting of the last k blocks."""

    Config = CFkConfig

    def trained_blocks(self, model: nn.Module, request: UnlearnRequest) -> list[nn.Module]:
        """The blocks that keep training (the last ``k``; EU-k re-initialises them first)."""
        return last_blocks(model, self.config.k)

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        """Only the trained blocks' weights get gradients; the rest of the network is frozen."""
        self.blocks = self.trained_blocks(model, request)
        self.gen = request.generator()
        return freeze_all_but(model, self.blocks)

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        def train_blocks(m: nn.Module) -> None:
            m.eval()  # frozen blocks keep their batch-norm statistics too
            for b in self.blocks:
                b.train()

        args = (model, request.retain, request.task, opt, request.device, self.config.batch_size, self.gen)
        return {"retain_loss": train_epoch(*args, mode=train_blocks, desc=f"{self.name} {epoch}")}

    def release(self, model: nn.Module) -> None:
        for p in model.parameters():
            p.requires_grad_(True)
