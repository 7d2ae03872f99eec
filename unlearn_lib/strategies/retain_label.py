"""Retain Label: push the forget subjects' outputs toward the original model's output on *retain* inputs.

One of the four mechanics of the image-to-image unlearning baselines (Li et al., ICLR 2024), used in
the segmentation study (arXiv 2606.16180)::

    ||f(x_r) - f0(x_r)||^2 + alpha * ||f(x_f) - f0(x_r')||^2

with ``f0`` the frozen original and ``x_r'`` an independently drawn retain batch. ``output`` chooses
what ``f`` means for a segmenter: the softmax probabilities (default, bounded) or the raw logits.
alpha defaults to 0.25 as in Li et al. **[reconstructed]**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ._paired import Batch, PairedConfig, PairedStrategy, jointly, mse, retain_batches
from .base import UnlearnRequest, register


@dataclass
class RetainLabelConfig(PairedConfig):
    alpha: float = 0.25
    output: Literal["probabilities", "logits"] = "probabilities"


@register("retain_label", reference="arXiv 2606.16180 (subject-level MRI unlearning)", modalities=("segmentation",))
class RetainLabel(PairedStrategy):
    Config = RetainLabelConfig

    def prepare_model(self, model: nn.Module, request: UnlearnRequest) -> None:
        self.other_retain = retain_batches(request, self.config.forget_batch_size, 2)

    def _out(self, logits: torch.Tensor, request: UnlearnRequest) -> torch.Tensor:
        return request.task.probabilities(logits) if self.config.output == "probabilities" else logits

    def pair_loss(self, model: nn.Module, request: UnlearnRequest, retain: Batch, forget: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        task, xr, xf = request.task, retain[0], forget[0]
        xr2 = self.other_retain()[0].to(request.device)
        if xr2.shape[1:] != xf.shape[1:]:
            raise ValueError(f"retain_label needs retain and forget inputs of one shape, got {tuple(xr2.shape)} and {tuple(xf.shape)}")
        n = min(len(xr2), len(xf))
        with torch.no_grad():
            target_r, target_f = (self._out(z, request) for z in jointly(task.logits, request.original, xr, xr2[:n]))
        out_r, out_f = jointly(task.logits, model, xr, xf[:n])
        retain_term = mse(self._out(out_r, request), target_r)
        forget_term = mse(self._out(out_f, request), target_f)
        loss = retain_term + self.config.alpha * forget_term
        return loss, {"retain_term": float(retain_term.detach()), "forget_term": float(forget_term.detach())}
