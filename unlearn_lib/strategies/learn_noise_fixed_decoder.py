"""LearnNoise, Fix Decoder: the encoder learns to map forget inputs where the original maps noise.

One of the mechanics of the image-to-image unlearning baselines (Li et al., ICLR 2024), used in the
segmentation study (arXiv 2606.16180). The decoder is frozen; the encoder (``E``: every level the decoder
reads, skips included) minimises::

    ||E(x_r) - E0(x_r)||^2 + alpha * ||E(x_f) - E0(z)||^2,   z ~ N(mean(x_f), std(x_f)) per example

Reference-code optimizer: AdamW, lr 1e-4, betas (0.9, 0.95), weight decay 0.05, gradient clipping 3.0
(the :class:`PairedConfig` defaults). alpha defaults to 0.25 as in Li et al. **[reconstructed]**.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ._paired import Batch, PairedConfig, PairedStrategy, encode, encoder_decoder, jointly, mse
from .base import UnlearnRequest, register


@dataclass
class LearnNoiseConfig(PairedConfig):
    alpha: float = 0.25


@register("learn_noise_fixed_decoder", reference="arXiv 2606.16180 (subject-level MRI unlearning)", modalities=("segmentation",))
class LearnNoiseFixedDecoder(PairedStrategy):
    Config = LearnNoiseConfig

    def prepare_model(self, model: nn.Module, request: UnlearnRequest) -> None:
        _, decoder = encoder_decoder(model, self.name)
        encoder_decoder(request.original, self.name)
        for p in decoder.parameters():
            p.requires_grad_(False)

    def parameters(self, model: nn.Module) -> Iterable[nn.Parameter]:
        return model.encoder.parameters()

    def pair_loss(self, model: nn.Module, request: UnlearnRequest, retain: Batch, forget: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        xr, xf, e0 = retain[0], forget[0], request.original
        dims = tuple(range(1, xf.ndim))
        mean, std = xf.mean(dim=dims, keepdim=True), xf.std(dim=dims, keepdim=True)
        z = torch.randn(xf.shape, generator=self.noise).to(xf.device) * std + mean
        with torch.no_grad():
            target_r, target_f = jointly(encode, e0, xr, z)
        enc_r, enc_f = jointly(encode, model, xr, xf)
        retain_term = mse(enc_r, target_r)
        forget_term = mse(enc_f, target_f)
        loss = retain_term + self.config.alpha * forget_term
        return loss, {"retain_term": float(retain_term.detach()), "forget_term": float(forget_term.detach())}
