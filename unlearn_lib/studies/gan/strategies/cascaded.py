"""``gan_cascaded``: the study's method, fake label + substitution in alternating stages.

Sun et al., "Generative Adversarial Networks Unlearning", arXiv 2308.09881 (2023). The schedule
and every numeric default are a **reconstruction** (see :mod:`unlearn_lib.studies.gan.cascade`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import register_gan
from ..cascade import CascadeConfig, CascadeStrategy


@dataclass
class GANCascadedConfig(CascadeConfig):
    """The cascade with both mechanisms; fields and defaults in :class:`~unlearn_lib.studies.gan.cascade.CascadeConfig`."""


@register_gan("gan_cascaded", reference="Sun et al., 2023 (cascaded GAN unlearning)")
class GANCascaded(CascadeStrategy):
    Config = GANCascadedConfig
    fake_label = True
    substitute = True
