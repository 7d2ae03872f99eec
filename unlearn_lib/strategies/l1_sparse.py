"""l1-sparse: finetune on D_r with an L1 penalty that decays to zero (Jia et al., NeurIPS 2023,
"Model sparsity can simplify machine unlearning").

Loss per step: task.loss + alpha_t * ||w||_1 with alpha_t = alpha * (1 - epoch / epochs), the linear
decay of the paper's code: strong sparsity pressure early pushes weights that only served D_f towards
zero, then plain finetuning repairs utility. Defaults: alpha 5e-4, SGD lr 0.01, 10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..training import OptimizerConfig
from ..utils import progress
from .base import Strategy, UnlearnRequest, batches, register

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
class L1Sparse(Strategy):
    """Finetune with a decaying L1 penalty."""

    Config = L1SparseConfig

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        c, task, dev = self.config, request.task, request.device
        opt = c.make_optimizer(model.parameters())
        gen = request.generator()
        params = [p for p in model.parameters() if p.requires_grad]
        for epoch in range(c.epochs):
            alpha = c.alpha * (1.0 - epoch / c.epochs) if c.decay == "linear" else c.alpha
            model.train()
            total = 0.0
            for x, y in progress(batches(request.retain, c.batch_size, generator=gen), desc=f"l1_sparse {epoch}"):
                x, y = x.to(dev), y.to(dev)
                loss = task.loss(task.logits(model, x), y)
                l1 = torch.stack([p.abs().sum() for p in params]).sum()
                opt.zero_grad(set_to_none=True)
                (loss + alpha * l1).backward()
                opt.step()
                total += float(loss.detach()) * len(x)
            request.history.append({"epoch": epoch, "retain_loss": total / len(request.retain), "alpha": alpha})
            request.epoch_done(model, epoch)
        return model
