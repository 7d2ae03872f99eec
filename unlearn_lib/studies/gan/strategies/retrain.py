"""``gan_retrain``: a fresh GAN trained on the retained images with the original recipe (the reference)."""

from __future__ import annotations

from dataclasses import dataclass

from ....config import StrategyConfig
from ..base import GANStrategy, GANUnlearnRequest, register_gan
from ..training import GAN, make_gan, train_gan


@dataclass
class GANRetrainConfig(StrategyConfig):
    """No hyper-parameters of its own: retraining repeats ``request.recipe`` exactly (same length,
    optimiser, architecture and initial seed), so its wall time is the original training's cost."""


@register_gan("gan_retrain", reference="exact unlearning: the reference")
class GANRetrain(GANStrategy):
    """Exact unlearning: the gold standard every approximate method is compared with."""

    Config = GANRetrainConfig

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:
        shape = request.retain.x.shape
        fresh = make_gan(request.recipe, int(shape[1]), int(shape[-1]))
        return train_gan(fresh, request.retain, request.recipe, request.device, desc="retrain GAN")
