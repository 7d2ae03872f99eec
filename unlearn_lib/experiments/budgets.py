"""Equal optimizer-step budgets: every method of a row runs the same number of steps.

Why: equal *candidates* are not equal *cost*. At the paper settings SCRUB takes 266 optimizer steps on
02's class request, Finetune 39 and Bad Teacher 2, so a ranking at those settings mostly ranks how
long each method ran. A budget row instead gives every method the same number of steps, stated as a
fraction of retrain's steps (the cost a method must beat to be worth using), and
:func:`~unlearn_lib.strategies.unlearn` stops each method at exactly that step (``max_steps``).

A budget row is also compared with doing nothing: the untouched original has its own gap to retrain,
and a method that does not beat it (paired over seeds) has bought nothing with its steps. Such rows
are labelled and never named the best, so a frontier on which no method acts says so instead of
ranking noise around the original.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..strategies.base import UnlearnResult
from ..verdict import HOLDS, NOT_REPRODUCED, judge, paired_difference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BEATS",
    "DEFAULT_FRACTIONS",
    "DIVERGED",
    "GAP",
    "IDENTITY",
    "IDENTITY_SHARE",
    "NO_BETTER",
    "WORSE",
    "best_within",
    "budget_frame",
    "budget_steps",
    "diverged_label",
    "diverged_seeds",
    "frontier",
    "frontier_figure",
    "unequal_rows",
]

#: The frontier's default score: the mean over forget, retain and test of |accuracy − retrain's|.
GAP: tuple[str, str] = ("average", "gap_to_retrain")

#: Default budgets as fractions of retrain's optimizer steps: 2 %, 5 %, 10 %, 25 %.
DEFAULT_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.10, 0.25)

#: A budget run whose forget accuracy moved less than this share of the way from the original's to
#: retrain's did not act: its row measures the untouched original (its tuned rate is the identity).
IDENTITY_SHARE = 0.25

#: Labels of a budget row against doing nothing (the untouched original's gap to retrain).
BEATS, IDENTITY, WORSE, NO_BETTER = "beats doing nothing", "tuned to identity", "worse than doing nothing", "no better than doing nothing"
#: A budget row whose model diverged (non-finite outputs, ``all/diverged`` > 0) on some seed: its rate is
#: too high there, whatever its mean gap says, so it never competes for the headline.
DIVERGED = "diverged"


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


def _unbudgeted(df: pd.DataFrame, scenario: str, method: str, split: str, metric: str) -> pd.Series:
    """``seed -> value`` of one method's unbudgeted run of ``scenario`` (the grid's original or retrain)."""
    sel = df[(df.scenario == scenario) & (df.method == method) & (df.split == split) & (df.metric == metric)]
    if "budget" in sel:
        sel = sel[sel.budget.isna()]
    if sel.empty:
        raise ValueError(f"original={scenario!r}: that scenario has no unbudgeted {method} rows of {split}/{metric}")
    return sel.groupby("seed")["value"].first()


def diverged_seeds(rows: pd.DataFrame, by: list[str]) -> dict[Any, tuple[int, int]]:
    """Per group of ``rows`` by ``by`` (e.g. method and budget), where the model diverged on any seed
    (``all/diverged`` > 0): ``(seeds that diverged, seeds recorded)``. Runs recorded before the metric
    existed have no such row and count as healthy."""
    flags = rows[(rows.split == "all") & (rows.metric == "diverged")]
    out: dict[Any, tuple[int, int]] = {}
    for key, group in flags.groupby(by):
        per_seed = group.groupby("seed")["value"].max()
        if (per_seed > 0).any():
            out[key] = (int((per_seed > 0).sum()), len(per_seed))
    return out


def diverged_label(diverged: int, seeds: int) -> str:
    """The label of a row whose model diverged on ``diverged`` of its ``seeds`` seeds (one wording everywhere)."""
    return f"{DIVERGED} on {diverged} of {seeds} seeds"


def _against_original(df: pd.DataFrame, scenario: str, original: str, metric: tuple[str, str]) -> tuple[pd.Series, dict]:
    """The original's per-seed score, and per (method, budget) of ``scenario``'s budget rows: the paired
    difference original − method and its label (:data:`BEATS`, :data:`IDENTITY`, :data:`WORSE`,
    :data:`NO_BETTER`, or :data:`DIVERGED` with its count of seeds)."""
    base = _unbudgeted(df, original, "original", *metric)
    score = _per_seed(df, scenario, *metric)
    acc = _per_seed(df, scenario, "forget", "accuracy")
    acc_orig = _unbudgeted(df, original, "original", "forget", "accuracy")
    acc_ret = _unbudgeted(df, original, "retrain", "forget", "accuracy")
    lead = float((acc_orig - acc_ret).mean())
    broken = diverged_seeds(df[(df.scenario == scenario) & df.budget.notna()], ["method", "budget"])
    out: dict[tuple[str, float], tuple[object, str]] = {}
    for key, values in score.iterrows():
        if key[0] == "retrain":
            continue
        seeds = sorted(set(values.dropna().index) & set(base.index))
        verdict = judge(base.loc[seeds].to_numpy(), values.loc[seeds].to_numpy(), "greater")
        if key in broken:
            label = diverged_label(*broken[key])
        elif verdict.label == HOLDS:
            label = BEATS
        elif key in acc.index and abs(float((acc_orig - acc.loc[key]).dropna().mean())) < IDENTITY_SHARE * abs(lead):
            label = IDENTITY
        else:
            label = WORSE if verdict.label == NOT_REPRODUCED else NO_BETTER
        out[key] = (verdict.difference, label)
    return base, out


def frontier(df: pd.DataFrame, scenario: str, metric: tuple[str, str] = GAP, original: str | None = None) -> pd.DataFrame:
    """The cost frontier of one scenario: per method and budget, the mean score with its 95 % CI over
    seeds, beside the mean optimizer steps and seconds the runs took and whether any stopped under
    the budget. ``retrain`` (never budgeted) is left out: it is what the score measures against.

    ``original`` names the scenario whose unbudgeted rows hold the untouched original (the grid's
    scenario the budget rows were cut from): the table then starts with the original's own row (budget
    0, no steps), and every row says how much it beats doing nothing (``vs original``: original − method,
    paired over seeds) and whether it acted at all (``label``)."""
    score = _per_seed(df, scenario, *metric)
    steps = _per_seed(df, scenario, "all", "steps").mean(axis=1)
    seconds = _per_seed(df, scenario, "all", "seconds").mean(axis=1)
    under = (
        _per_seed(df, scenario, "all", "under_budget").max(axis=1)
        if ((df.metric == "under_budget") & (df.scenario == scenario)).any()
        else None
    )
    rows = []
    judged = None
    if original is not None:
        base, judged = _against_original(df, scenario, original, metric)
        d = paired_difference(base.to_numpy())
        rows.append(
            {"method": "original", "budget": 0.0, "mean": d.mean, "lo": d.lo, "hi": d.hi, "seeds": d.n}
            | {"steps": 0.0, "seconds": 0.0, "under budget": False, "vs original": "—", "label": "the untouched original"}
        )
    for (method, budget), values in score.iterrows():
        if method == "retrain":
            continue
        d = paired_difference(values.dropna().to_numpy())
        row = {
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
        if judged is not None:
            diff, label = judged[(method, budget)]
            row.update({"vs original": str(diff), "label": label})
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["budget", "mean"], kind="stable").reset_index(drop=True)


def best_within(
    df: pd.DataFrame, scenario: str, fraction: float = 0.10, metric: tuple[str, str] = GAP, original: str | None = None
) -> dict[str, object]:
    """The headline of a frontier: the method closest to retrain (lowest ``metric``) among runs at
    budgets up to ``fraction`` of retrain's steps, and whether it beats the runner-up: the paired CI of
    runner-up minus best over seeds excludes zero ("clear"), or it does not ("tied"). Runs that stopped
    under their budget compete too, at the cost they took. One seed never gives "clear".

    With ``original`` (see :func:`frontier`) only runs that beat doing nothing compete; when none does,
    the headline is the original itself with the verdict "no method beats doing nothing", never a
    ranking of runs that all sit at the original's gap."""
    score = _per_seed(df, scenario, *metric)
    score = score[[m != "retrain" and b <= fraction + 1e-12 for m, b in score.index]]
    if score.empty:
        raise ValueError(f"scenario {scenario!r} has no budget row at or below {fraction:.0%} of retrain's steps")
    extra: dict[str, object] = {}
    if original is not None:
        base, judged = _against_original(df, scenario, original, metric)
        extra = {"original": float(base.mean())}
        acting = [k for k in score.index if judged[k][1] == BEATS]
        if not acting:
            return {"method": "original", "budget": 0.0, "mean": float(base.mean()), "verdict": "no method beats doing nothing"} | extra
        score = score.loc[acting]
    means = score.mean(axis=1).sort_values()
    best = means.index[0]
    out: dict[str, object] = {"method": best[0], "budget": float(best[1]), "mean": float(means.iloc[0]), "verdict": "only candidate"}
    if original is not None:
        out["vs original"] = str(judged[best][0])
    rivals = [k for k in means.index[1:] if k[0] != best[0]]
    if rivals:
        runner = rivals[0]
        pair = score.loc[[best, runner]].dropna(axis=1)
        d = paired_difference(pair.loc[runner].to_numpy(), pair.loc[best].to_numpy())
        out.update(runner_up=runner[0], runner_up_budget=float(runner[1]), difference=str(d), verdict="clear" if d.lo > 0 else "tied")
    return out | extra


def frontier_figure(table: pd.DataFrame, x: str = "steps", title: str = "", ylabel: str = "gap to retrain (mean, 95 % CI)") -> Figure:
    """Each method's score against its cost (``x``: "steps" or "seconds"), one line per method through
    its budgets, with CI bars; runs that stopped under the budget are drawn hollow, and a row whose model
    diverged on some seed (its ``label``, see :func:`frontier`) is crossed out: its mean is not a result."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if x not in ("steps", "seconds"):
        raise ValueError(f"x must be 'steps' or 'seconds', got {x!r}")
    fig, ax = plt.subplots(figsize=(8, 4))
    base = table[table["method"] == "original"]
    if not base.empty:  # doing nothing costs no steps: a level to beat, not a point on the log axis
        row = base.iloc[0]
        ax.axhline(row["mean"], color="0.3", ls="--", lw=1, label="original (do nothing)")
        if np.isfinite(row["lo"]) and np.isfinite(row["hi"]):
            ax.axhspan(row["lo"], row["hi"], color="0.5", alpha=0.15, lw=0)
    marked = False  # the diverged marker's legend entry is given once
    for method, g in table[table["method"] != "original"].groupby("method", sort=False):
        g = g.sort_values(x)
        err = np.vstack([g["mean"] - g["lo"], g["hi"] - g["mean"]])
        err = np.where(np.isfinite(err), err, 0.0)
        line = ax.errorbar(g[x], g["mean"], yerr=err, marker="o", capsize=3, label=method)
        hollow = g[g["under budget"]]
        if not hollow.empty:
            ax.plot(hollow[x], hollow["mean"], "o", mfc="white", mec=line[0].get_color())
        broken = g[g["label"].astype(str).str.startswith(DIVERGED)] if "label" in g else g.iloc[:0]
        if not broken.empty:
            label = "_nolegend_" if marked else f"{DIVERGED} on some seed"
            ax.plot(broken[x], broken["mean"], "x", color="crimson", ms=11, mew=2.5, zorder=5, label=label)
            marked = True
    ax.set(xscale="log", xlabel="optimizer steps" if x == "steps" else "seconds", ylabel=ylabel, title=title)
    # Plain numbers at 1, 2 and 5 per decade, minor ticks unlabelled: a log axis's own labels (2×10¹,
    # 3×10¹, 4×10¹) crowd into each other over the one decade a budget grid spans.
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    # Outside the axes: inside it hid the runs it names.
    ax.legend(title="method", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
