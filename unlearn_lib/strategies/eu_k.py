"""EU-k, exact unlearning of the last k blocks: re-initialise them and train them on D_r (Goel et al., 2022).

A SCRUB-paper baseline. The first blocks keep the original's weights (they saw D_f, which is why
EU-k is only exact when k covers the whole network); the last ``k`` of ``model.blocks()`` are reset
from ``request.model_factory()`` (the same initialisation retraining uses) and trained on the retain
set with the Finetune recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ._common import last_blocks
from .base import UnlearnRequest, register
from .cf_k import CFk, CFkConfig

__all__ = ["EUk", "EUkConfig"]


@dataclass
class EUkConfig(CFkConfig):
    """CF-k's fields; the last ``k`` blocks start from fresh weights instead of the original's."""


@register("eu_k", reference="Goel et al., 2022 (arXiv 2201.06640)")
class EUk(CFk):
    """Re-initialise and retrain the last k blocks."""

    Config = EUkConfig
    needs_factory = True

    def trained_blocks(self, model: nn.Module, request: UnlearnRequest) -> list[nn.Module]:
        blocks = last_blocks(model, self.config.k)
        fresh = last_blocks(request.model_factory(), self.config.k)
        for b, f in zip(blocks, fresh):
            b.load_state_dict(f.state_dict())
        return blocks
