"""Equal optimizer-step budgets: every method of a row runs the same number of steps.

Why: equal *candidates* are not equal *cost*. At the paper settings SCRUB takes 266 optimizer steps on
02's class request, Finetune 39 and Bad Teacher 2, so a ranking at those settings mostly ranks how
long each method ran. A budget row instead gives every method the same number of steps, stated as a
fraction of retrain's steps (the cost a method must beat to be worth using), and
:func:`~unlearn_lib.strategies.unlearn` stops each method at exactly that step (``max_steps``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from ..strategies.base import UnlearnResult

__all__ = ["DEFAULT_FRACTIONS", "budget_frame", "budget_steps", "unequal_rows"]

#: Budgets as fractions of retrain's optimizer steps (#32: 2 %, 5 %, 10 %, 25 %).
DEFAULT_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.10, 0.25)


def budget_steps(retrain_steps: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[float, int]:
    """``{fraction: steps}``: each fraction of ``retrain_steps``, rounded to the nearest step, at least one.

    Two fractions that round to the same step count are refused: their rows would be one row twice.
    """
    if isinstance(retrain_steps, bool) or not isinstance(retrain_steps, int) or retrain_steps < 1:
        raise ValueError(f"retrain_steps must be a positive int (retrain's optimizer steps), got {retrain_steps!r}")
    if isinstance(fractions, str) or not list(fractions):
        raise ValueError(f"fractions must be a non-empty list of numbers in (0, 1], got {fractions!r}")
    bad = [f for f in fractions if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1]
    if bad:
        raise ValueError(f"fractions must lie in (0, 1] (shares of retrain's steps), got {bad}")
    steps = {float(f): max(1, math.floor(f * retrain_steps + 0.5)) for f in fractions}
    if len(set(steps.values())) < len(steps):
        raise ValueError(
            f"fractions {sorted(steps)} of retrain's {retrain_steps} steps give equal budgets {steps}: "
            "use fewer fractions or a longer retrain"
        )
    return steps


def budget_frame(results: Iterable[tuple[str, UnlearnResult]], retrain_steps: int) -> pd.DataFrame:
    """One row per budgeted run: its row label (e.g. a scenario and seed), method, budget, steps taken,
    seconds, and whether it spent the budget or its algorithm stopped sooner ("under")."""
    rows = []
    for label, res in results:
        if res.max_steps is None:
            raise ValueError(f"{label}/{res.method}: ran without a budget (pass max_steps= to unlearn)")
        rows.append(
            {
                "row": label,
                "method": res.method,
                "max_steps": res.max_steps,
                "fraction": res.max_steps / retrain_steps,
                "steps": res.steps,
                "seconds": res.seconds,
                "budget": res.budget,
            }
        )
    return pd.DataFrame(rows, columns=["row", "method", "max_steps", "fraction", "steps", "seconds", "budget"])


def unequal_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not take exactly their row's budget although they were not labelled "under":
    empty when every comparison in ``frame`` is at equal cost."""
    spent = frame[frame["budget"] != "under"]
    return spent[spent["steps"] != spent["max_steps"]]
