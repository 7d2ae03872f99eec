"""SalUn: Random Label restricted to the weights most salient for the forget set (Fan et al., ICLR 2024).

Saliency is the absolute value of the gradient of the forget loss (task loss with the true labels)
summed over the whole forget set: per-batch gradients are summed first and the absolute value taken
once, as in the SalUn code, so gradients that cancel across batches make a weight less salient, not
more. The top ``mask_fraction`` of weights by saliency, ranked *globally* across all parameter tensors
(the SalUn code's "threshold 0.5" mask), are trainable; every other weight is held exactly where it
was: each update is multiplied by the mask, so neither weight decay nor momentum moves a non-salient
weight. Training is Random Label (:func:`~.random_label.random_label_epoch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..utils import progress
from .base import UnlearnRequest, batches, register
from .random_label import RandomLabel, RandomLabelConfig, random_label_epoch

__all__ = ["SalUn", "SalUnConfig", "saliency_mask"]


@dataclass
class SalUnConfig(RandomLabelConfig):
    """Random Label's hyper-parameters plus the share of weights kept trainable."""

    mask_fraction: float = 0.5

    def check(self) -> None:
        super().check()
        if not 0.0 < self.mask_fraction <= 1.0:
            raise ValueError(f"SalUnConfig.mask_fraction must be in (0, 1], got {self.mask_fraction}")


def saliency_mask(model: nn.Module, request: UnlearnRequest, fraction: float, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """0/1 masks per parameter: 1 on the ``fraction`` of weights with the LARGEST |gradient of the total
    forget loss| (batch-mean gradients weighted by batch size, summed, then the absolute value).

    The mask does not depend on ``batch_size``. Ranking is global (one threshold for the whole network), ties broken by ``torch.topk``, so exactly
    ``round(fraction * n_weights)`` weights are kept (at least one).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    task, dev = request.task, request.device
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    saliency = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    model.eval()  # saliency of the trained model as it is; no batch-norm statistics updated
    for x, y in progress(batches(request.forget, batch_size, shuffle=False), desc="salun saliency"):
        x, y = x.to(dev), y.to(dev)
        model.zero_grad(set_to_none=True)
        task.loss(task.logits(model, x), y).backward()
        for n, p in params.items():
            if p.grad is not None:
                saliency[n] += p.grad.detach() * len(x)  # signed: the gradient of the total loss, |.| after the sum
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    flat = torch.cat([s.abs().flatten() for s in saliency.values()])
    keep = max(1, round(fraction * flat.numel()))
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen[torch.topk(flat, keep, sorted=False).indices] = True
    masks, start = {}, 0
    for n, s in saliency.items():
        masks[n] = chosen[start : start + s.numel()].view_as(s).to(s.dtype)
        start += s.numel()
    return masks


@register("salun", reference="Fan et al., ICLR 2024")
class SalUn(RandomLabel):
    """Saliency unlearning: RL whose updates touch only the salient weights."""

    Config = SalUnConfig

    def prepare(self, model: nn.Module, request: UnlearnRequest) -> Iterable[nn.Parameter]:
        self.masks = masks = saliency_mask(model, request, self.config.mask_fraction, self.config.forget_batch_size)
        self.masked = {n: p for n, p in model.named_parameters() if n in masks}
        kept = sum(float(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
        request.history.append({"epoch": -1, "mask_kept": kept})
        return list(self.masked.values())

    def epoch(self, model: nn.Module, request: UnlearnRequest, opt: Any, epoch: int) -> dict[str, float]:
        params, masks = self.masked, self.masks

        def masked_step() -> None:
            for n, p in params.items():
                if p.grad is not None:
                    p.grad.mul_(masks[n])
            before = {n: p.detach().clone() for n, p in params.items()}
            opt.step()
            with torch.no_grad():
                for n, p in params.items():  # w <- w_old + mask * (optimizer update)
                    p.copy_(before[n] + masks[n] * (p - before[n]))

        return random_label_epoch(model, request, opt, self.config, epoch, step=masked_step, name="salun")
