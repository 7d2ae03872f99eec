"""Retrain: train a fresh model on the retain set only. Exact unlearning, and the reference.

Retraining has no hyper-parameters of its own: it repeats the recipe the original model was trained
with (``request.recipe``), from the same initialisation seed, so that it is the model the original
would have been had the forget set never existed, and its wall time is the original's cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import StrategyConfig
from .base import Strategy, UnlearnRequest, register


@dataclass
class RetrainConfig(StrategyConfig):
    """Empty on purpose: change the original's recipe, and retraining follows it."""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> StrategyConfig:
        if values:
            raise ValueError(
                f"retrain takes no hyper-parameters (got {sorted(values)}): it repeats the original model's training recipe "
                "exactly; change the recipe the original is trained with instead"
            )
        return cls()


@register("retrain", reference="exact unlearning: the reference of every study")
class Retrain(Strategy):
    Config = RetrainConfig
    needs_factory = True
    needs_recipe = True

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:
        assert request.recipe is not None  # checked by unlearn() before any work
        fresh = request.model_factory()
        return request.recipe.fit(fresh, request.retain, request.task, request.device, request.seed, "retrain")
