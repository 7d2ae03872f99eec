"""``gan_cascaded``: the study's method, fake label + substitution in alternating stages.

Sun et al., "Generative Adversarial Networks Unlearning", arXiv 2308.09881 (2023). The schedule
and every numeric default are a **reconstruction** (see :mod:`unlearn_lib.gan.cascade`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import GANStrategy, GANUnlearnRequest, register_gan
from ..cascade import CascadeConfig, check_substitution, run_cascade
from ..training import GAN


@dataclass
class GANCascadedConfig(CascadeConfig):
    """The cascade with both mechanisms; fields and defaults in :class:`~unlearn_lib.gan.cascade.CascadeConfig`."""


@register_gan("gan_cascaded", reference="Sun et al., 2023 (cascaded GAN unlearning)")
class GANCascaded(GANStrategy):
    Config = GANCascadedConfig

    def validate(self, request: GANUnlearnRequest) -> None:
        check_substitution(self.config.substitute_source, request)

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:
        return run_cascade(gan, request, self.config, fake_label=True, substitute=True, desc="gan_cascaded")
