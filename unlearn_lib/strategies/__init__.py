"""Unlearning strategies, one file each, registered by name.

``unlearn("scrub", model, retain=..., forget=..., task=..., config={"preset": "small"})``

Every module in this package is imported here, so a new strategy is one new file with
``@register("name")`` and nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

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

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def __getattr__(name: str):
    """``strategy_table`` lives in :mod:`unlearn_lib.catalogue` (it imports the GAN strategies, which build
    on this package); read lazily, so importing the strategies does not import the GANs."""
    if name == "strategy_table":
        from ..catalogue import strategy_table

        return strategy_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "strategy_table",
    "unlearn",
]
