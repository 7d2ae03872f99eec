"""Max Loss: gradient ascent on the forget subjects' loss, descent on the retain subjects' loss.

One of the four mechanics of the image-to-image unlearning baselines (Li et al., ICLR 2024), used in
the segmentation study (arXiv 2606.16180). Loss per pair: ``CE(f(x_r), y_r) - alpha * CE(f(x_f), y_f)``.
The ascent term is unbounded: the study reports that it forgets and then wrecks the retain set.
"""

from __future__ import annotations

import torch
from torch import nn

from ._paired import Batch, PairedStrategy, jointly
from .base import UnlearnRequest, register


@register("max_loss", reference="arXiv 2606.16180 (subject-level MRI unlearning)", modalities=("segmentation",))
class MaxLoss(PairedStrategy):
    def pair_loss(self, model: nn.Module, request: UnlearnRequest, retain: Batch, forget: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        task, (xr, yr), (xf, yf) = request.task, retain, forget
        logits_r, logits_f = jointly(task.logits, model, xr, xf)
        retain_loss = task.loss(logits_r, yr)
        forget_loss = task.loss(logits_f, yf)
        loss = retain_loss - self.config.alpha * forget_loss
        return loss, {"retain_loss": float(retain_loss.detach()), "forget_loss": float(forget_loss.detach())}
