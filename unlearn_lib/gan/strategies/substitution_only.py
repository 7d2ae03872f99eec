"""``gan_substitution_only``: ablation of the cascade without the fake label (Sun et al., 2023).

Every step is an ordinary adversarial step on retained images plus substitutes, for the cascade's
total number of steps: the images to unlearn are only *absent*, never pushed away.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import GANStrategy, GANUnlearnRequest, register_gan
from ..cascade import CascadeConfig, check_substitution, run_cascade
from ..training import GAN


@dataclass
class GANSubstitutionOnlyConfig(CascadeConfig):
    """Same fields as the cascade; ``fake_label_weight`` is unused."""


@register_gan("gan_substitution_only", reference="Sun et al., 2023 (ablation)")
class GANSubstitutionOnly(GANStrategy):
    Config = GANSubstitutionOnlyConfig

    def validate(self, request: GANUnlearnRequest) -> None:
        check_substitution(self.config.substitute_source, request)

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:
        return run_cascade(gan, request, self.config, fake_label=False, substitute=True, desc="gan_substitution_only")
