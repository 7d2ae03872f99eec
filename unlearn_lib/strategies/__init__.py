"""Unlearning strategies, one file each, registered by name.

``unlearn("scrub", model, retain=..., forget=..., task=..., config={"preset": "small"})``
"""

from __future__ import annotations

from . import finetune, neggrad, neggrad_plus, retrain, scrub  # noqa: F401  (registration)
from .base import (
    STRATEGIES,
    Strategy,
    StrategyConfig,
    UnlearnRequest,
    UnlearnResult,
    get_strategy,
    list_strategies,
    make_config,
    register,
    unlearn,
)

__all__ = [
    "STRATEGIES",
    "Strategy",
    "StrategyConfig",
    "UnlearnRequest",
    "UnlearnResult",
    "get_strategy",
    "list_strategies",
    "make_config",
    "register",
    "unlearn",
]
