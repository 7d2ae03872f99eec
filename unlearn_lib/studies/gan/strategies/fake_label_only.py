"""``gan_fake_label_only``: ablation of the cascade without substitution (Sun et al., 2023).

The working set is the retained images alone; the step budget and schedule are the cascade's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import register_gan
from ..cascade import CascadeConfig, CascadeStrategy


@dataclass
class GANFakeLabelOnlyConfig(CascadeConfig):
    """Same fields as the cascade; ``substitute_source`` is unused."""


@register_gan("gan_fake_label_only", reference="Sun et al., 2023 (ablation)")
class GANFakeLabelOnly(CascadeStrategy):
    Config = GANFakeLabelOnlyConfig
    fake_label = True
    substitute = False
