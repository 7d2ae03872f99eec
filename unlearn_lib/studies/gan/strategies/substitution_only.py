"""``gan_substitution_only``: ablation of the cascade without the fake label (Sun et al., 2023).

Every step is an ordinary adversarial step on retained images plus substitutes, for the cascade's
total number of steps: the images to unlearn are only *absent*, never pushed away.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import register_gan
from ..cascade import CascadeConfig, CascadeStrategy


@dataclass
class GANSubstitutionOnlyConfig(CascadeConfig):
    """Same fields as the cascade; ``fake_label_weight`` is unused."""


@register_gan("gan_substitution_only", reference="Sun et al., 2023 (ablation)")
class GANSubstitutionOnly(CascadeStrategy):
    Config = GANSubstitutionOnlyConfig
    fake_label = False
    substitute = True
