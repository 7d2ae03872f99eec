"""``gan_fake_label_only``: ablation of the cascade without substitution (Sun et al., 2023).

The working set is the retained images alone; the step budget and schedule are the cascade's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import GANStrategy, GANUnlearnRequest, register_gan
from ..cascade import CascadeConfig, run_cascade
from ..training import GAN


@dataclass
class GANFakeLabelOnlyConfig(CascadeConfig):
    """Same fields as the cascade; ``substitute_source`` is unused."""


@register_gan("gan_fake_label_only", reference="Sun et al., 2023 (ablation)")
class GANFakeLabelOnly(GANStrategy):
    Config = GANFakeLabelOnlyConfig

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:
        return run_cascade(gan, request, self.config, fake_label=True, substitute=False, desc="gan_fake_label_only")
