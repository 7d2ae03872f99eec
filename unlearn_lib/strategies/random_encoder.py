"""Random Encoder: map forget inputs to random features, keep retain features where they were.

One of the four mechanics of the image-to-image unlearning baselines (Li et al., ICLR 2024), used in
the segmentation study (arXiv 2606.16180)::

    ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - n||^2,   n ~ N(mean(E0(x_f)), std(E0(x_f)))

``E`` is everything the decoder reads from the encoder (every skip level of a U-Net head). Only the encoder is trained (the decoder gets no gradient from this loss). Needs a model with
``encoder`` and ``decoder`` sub-modules. alpha defaults to 0.25 as in Li et al. **[reconstructed]**.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ._paired import Batch, PairedConfig, PairedStrategy, encode, encoder_decoder, jointly, mse
from .base import UnlearnRequest, register


@dataclass
class RandomEncoderConfig(PairedConfig):
    alpha: float = 0.25


@register("random_encoder", reference="arXiv 2606.16180 (subject-level MRI unlearning)", modalities=("segmentation",))
class RandomEncoder(PairedStrategy):
    Config = RandomEncoderConfig

    def prepare_model(self, model: nn.Module, request: UnlearnRequest) -> None:
        encoder_decoder(model, self.name)
        encoder_decoder(request.original, self.name)

    def parameters(self, model: nn.Module) -> Iterable[nn.Parameter]:
        return model.encoder.parameters()

    def pair_loss(self, model: nn.Module, request: UnlearnRequest, retain: Batch, forget: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        xr, xf, e0 = retain[0], forget[0], request.original
        with torch.no_grad():
            target_r, feats_f = jointly(encode, e0, xr, xf)
            noise = [torch.randn(f.shape, generator=self.noise).to(f.device) * f.std() + f.mean() for f in feats_f]
        enc_r, enc_f = jointly(encode, model, xr, xf)
        retain_term = mse(enc_r, target_r)
        forget_term = mse(enc_f, noise)
        loss = retain_term + self.config.alpha * forget_term
        return loss, {"retain_term": float(retain_term.detach()), "forget_term": float(forget_term.detach())}
