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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..strategies.base import UnlearnResult
from ..verdict import paired_difference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_FRACTIONS", "GAP", "best_within", "budget_frame", "budget_steps", "frontier", "frontier_figure", "unequal_rows"]

#: The frontier's default score: the mean over forget, retain and test of |accuracy − retrain's|.
GAP: tuple[str, str] = ("average", "gap_to_retrain")

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


def _per_seed(df: pd.DataFrame, scenario: str, split: str, metric: str) -> pd.DataFrame:
    """``(method, budget) x seed`` values of one metric in one scenario's budget rows."""
    sel = df[(df.scenario == scenario) & (df.split == split) & (df.metric == metric) & df.budget.notna()]
    if sel.empty:
        raise ValueError(f"scenario {scenario!r} has no budget rows of {split}/{metric} (run it with max_steps= and budget=)")
    return sel.pivot_table(index=["method", "budget"], columns="seed", values="value", aggfunc="first")


def frontier(df: pd.DataFrame, scenario: str, metric: tuple[str, str] = GAP) -> pd.DataFrame:
    """The cost frontier of one scenario: per method and budget, the mean score with its 95 % CI over
    seeds, beside the mean optimizer steps and seconds the runs took and whether any stopped under
    the budget. ``retrain`` (never budgeted) is left out: it is what the score measures against."""
    score = _per_seed(df, scenario, *metric)
    steps = _per_seed(df, scenario, "all", "steps").mean(axis=1)
    seconds = _per_seed(df, scenario, "all", "seconds").mean(axis=1)
    under = (
        _per_seed(df, scenario, "all", "under_budget").max(axis=1)
        if ((df.metric == "under_budget") & (df.scenario == scenario)).any()
        else None
    )
    rows = []
    for (method, budget), values in score.iterrows():
        if method == "retrain":
            continue
        d = paired_difference(values.dropna().to_numpy())
        rows.append(
            {
                "method": method,
                "budget": float(budget),
                "mean": d.mean,
                "lo": d.lo,
                "hi": d.hi,
                "seeds": d.n,
                "steps": float(steps.get((method, budget), np.nan)),
                "seconds": float(seconds.get((method, budget), np.nan)),
                "under budget": bool(under.get((method, budget), 0.0)) if under is not None else False,
            }
        )
    return pd.DataFrame(rows).sort_values(["budget", "mean"]).reset_index(drop=True)


def best_within(df: pd.DataFrame, scenario: str, fraction: float = 0.10, metric: tuple[str, str] = GAP) -> dict[str, object]:
    """The headline of a frontier: the method closest to retrain (lowest ``metric``) among runs at
    budgets up to ``fraction`` of retrain's steps, and whether it beats the runner-up: the paired CI of
    runner-up minus best over seeds excludes zero ("clear"), or it does not ("tied"). Runs that stopped
    under their budget compete too, at the cost they took. One seed never gives "clear"."""
    score = _per_seed(df, scenario, *metric)
    score = score[[m != "retrain" and b <= fraction + 1e-12 for m, b in score.index]]
    if score.empty:
        raise ValueError(f"scenario {scenario!r} has no budget row at or below {fraction:.0%} of retrain's steps")
    means = score.mean(axis=1).sort_values()
    best = means.index[0]
    out: dict[str, object] = {"method": best[0], "budget": float(best[1]), "mean": float(means.iloc[0]), "verdict": "only candidate"}
    rivals = [k for k in means.index[1:] if k[0] != best[0]]
    if rivals:
        runner = rivals[0]
        pair = score.loc[[best, runner]].dropna(axis=1)
        d = paired_difference(pair.loc[runner].to_numpy(), pair.loc[best].to_numpy())
        out.update(runner_up=runner[0], runner_up_budget=float(runner[1]), difference=str(d), verdict="clear" if d.lo > 0 else "tied")
    return out


def frontier_figure(table: pd.DataFrame, x: str = "steps", title: str = "", ylabel: str = "gap to retrain (mean, 95 % CI)") -> Figure:
    """Each method's score against its cost (``x``: "steps" or "seconds"), one line per method through
    its budgets, with CI bars; runs that stopped under the budget are drawn hollow."""
    import matplotlib.pyplot as plt

    if x not in ("steps", "seconds"):
        raise ValueError(f"x must be 'steps' or 'seconds', got {x!r}")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for method, g in table.groupby("method", sort=False):
        g = g.sort_values(x)
        err = np.vstack([g["mean"] - g["lo"], g["hi"] - g["mean"]])
        err = np.where(np.isfinite(err), err, 0.0)
        line = ax.errorbar(g[x], g["mean"], yerr=err, marker="o", capsize=3, label=method)
        hollow = g[g["under budget"]]
        if not hollow.empty:
            ax.plot(hollow[x], hollow["mean"], "o", mfc="white", mec=line[0].get_color())
    ax.set(xscale="log", xlabel="optimizer steps" if x == "steps" else "seconds", ylabel=ylabel, title=title)
    ax.legend(title="method", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
