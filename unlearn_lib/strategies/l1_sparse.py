"""l1-sparse: finetune on D_r with an L1 penalty that decays to zero (Jia et al., NeurIPS 2023,
"Model sparsity can simplify machine unlearning").

Loss per step: task.loss + alpha_t * ||w||_1 with alpha_t = alpha * (1 - epoch / epochs), the linear
decay of the paper's code: strong sparsity pressure early pushes weights that only served D_f towards
zero, then plain finetuning repairs utility. Defaults: alpha 5e-4, SGD lr 0.01, 10 epochs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..loops import batches, examples, run_epoch
from ..training import OptimizerConfig
from ._loop import Batch, EpochStrategy
from .base import UnlearnRequest, register

__all__ = ["L1Sparse", "L1SparseConfig"]


@dataclass
class L1SparseConfig(OptimizerConfig):
    """Finetune's recipe plus the L1 weight ``alpha`` (decayed linearly over epochs)."""

    epochs: int = 10
    alpha: float = 5e-4
    decay: Literal["linear", "constant"] = "linear"

    def check(self) -> None:
        super().check()
        self._positive("epochs")
        if self.alpha < 0:
            raise ValueError(f"L1SparseConfig.alpha must be >= 0, got {self.alpha}")


@register("l1_sparse", reference="Jia et al., NeurIPS 2023")
class L1Sparse(EpochStrategy):
    """Finetune with a decaying L1 penalty."""

    Config = L1SparseConfig

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        self.gen = request.generator()
        self.penalised = [p for p in model.parameters() if p.requires_grad]
        return model.parameters()

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        c, task = self.config, request.task
        alpha = c.alpha * (1.0 - epoch / c.epochs) if c.decay == "linear" else c.alpha

        def step_loss(batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
            x, y = batch
            loss = task.loss(task.logits(model, x), y)
            l1 = torch.stack([p.abs().sum() for p in self.penalised]).sum()
            return loss + alpha * l1, {"retain_loss": float(loss.detach())}

        data = batches(request.retain, c.batch_size, generator=self.gen)
        return {**run_epoch(model, data, step_loss, opt, device=request.device, weight=examples, desc=f"l1_sparse {epoch}"), "alpha": alpha}
