"""Every registered strategy in one table, GAN strategies included.

Why a module of its own: the GAN strategies register when :mod:`unlearn_lib.studies.gan` is imported, and
``gan`` builds on :mod:`unlearn_lib.strategies.base`. A table that must see every strategy therefore
imports ``gan``; kept in ``strategies.base`` that import closed a circle. Here nothing below
imports it back. ``unlearn_lib.strategies.strategy_table`` still works (read lazily from here).
"""

from __future__ import annotations

import pandas as pd

from .strategies.base import STRATEGIES, list_strategies
from .studies import gan  # noqa: F401  (registers the generation strategies)

__all__ = ["strategy_table"]


def strategy_table(modality: str | None = None) -> pd.DataFrame:
    """Every registered strategy (of one modality if given): name, modalities, summary, reference."""
    rows = [
        {
            "name": n,
            "modalities": ", ".join(STRATEGIES.get(n).modalities),
            "summary": STRATEGIES.get(n).summary,
            "reference": STRATEGIES.get(n).reference,
        }
        for n in list_strategies(modality)
    ]
    return pd.DataFrame(rows, columns=["name", "modalities", "summary", "reference"])
