"""``gan_finetune``: plain adversarial fine-tuning on the retained images (the usual baseline).

Neither mechanism of Sun et al. (2023): the cascade's step budget spent on ordinary GAN steps on
the retained data, so any difference from ``gan_cascaded`` is due to fake label and substitution.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import register_gan
from ..cascade import CascadeConfig, CascadeStrategy


@dataclass
class GANFinetuneConfig(CascadeConfig):
    """Same fields as the cascade (its :meth:`~unlearn_lib.studies.gan.cascade.CascadeConfig.total_steps` is the step budget)."""


@register_gan("gan_finetune", reference="the usual baseline (adversarial fine-tuning on retained images)")
class GANFinetune(CascadeStrategy):
    Config = GANFinetuneConfig
    fake_label = False
    substitute = False
