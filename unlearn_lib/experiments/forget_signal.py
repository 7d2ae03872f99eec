"""Is a forgetting scenario informative? The signal that makes forgetting measurable, and ranking only where it exists.

A scenario can rank unlearning methods only if the untouched original differs measurably from the
retrained model on the forget set: otherwise "do nothing" is already as close to retraining as any
method can get, and every method "wins". The signal is the original's lead over retraining in forget
accuracy (it memorised those examples) or in the forget-set membership attack. The lead is judged
by the project's verdict rule (:mod:`unlearn_lib.verdict`): paired over seeds (each seed's original
against the retrain of the same seed), it must reach the threshold on average *and* its 95 % CI must
exclude zero. Below that a scenario is labelled uninformative and its table is not ranked; one seed
never establishes a signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..verdict import paired_difference

__all__ = ["MIN_ACCURACY_GAP", "MIN_MIA_GAP", "forgetting_signal", "ranked_methods", "scenario_caption"]

#: The original must beat retrain on the forget set by at least this much accuracy (5 points) ...
MIN_ACCURACY_GAP = 0.05
#: ... or the forget-set membership attack must read at least this much higher on the original.
MIN_MIA_GAP = 0.05

SIGNAL_COLUMNS = [
    "seeds",
    "original forget acc",
    "retrain forget acc",
    "accuracy gap",
    "accuracy gap CI low",
    "accuracy gap CI high",
    "original MIA",
    "retrain MIA",
    "MIA gap",
    "MIA gap CI low",
    "MIA gap CI high",
    "informative",
]


def _forget_by_seed(rows: pd.DataFrame, scenario: str, method: str, metric: str) -> pd.Series:
    sel = rows[(rows.scenario == scenario) & (rows.method == method) & (rows.split == "forget") & (rows.metric == metric)]
    return sel.groupby("seed")["value"].mean()


def _lead(rows: pd.DataFrame, scenario: str, metric: str) -> tuple[float, float, float, float, float]:
    """Original and retrain means, and the paired lead (mean, CI low, CI high) over the seeds both have."""
    o, r = _forget_by_seed(rows, scenario, "original", metric), _forget_by_seed(rows, scenario, "retrain", metric)
    seeds = o.index.intersection(r.index)
    if seeds.empty:
        return (float("nan"),) * 5
    d = paired_difference(o.loc[seeds].to_numpy(), r.loc[seeds].to_numpy())
    return float(o.loc[seeds].mean()), float(r.loc[seeds].mean()), d.mean, d.lo, d.hi


def _established(mean: float, lo: float, threshold: float) -> bool:
    return bool(np.isfinite(mean) and mean >= threshold and lo > 0)


def forgetting_signal(
    rows: pd.DataFrame,
    scenarios: Sequence[str] | None = None,
    *,
    min_accuracy_gap: float = MIN_ACCURACY_GAP,
    min_mia_gap: float = MIN_MIA_GAP,
) -> pd.DataFrame:
    """Per scenario, over seeds: original vs retrain forget accuracy and forget MIA, their paired lead
    with its 95 % CI, and whether the scenario is informative.

    ``rows`` are tidy metric rows (``metrics.csv``) holding ``original`` and ``retrain`` rows with
    ``forget/accuracy`` and ``forget/mia``. A scenario is informative when the original's forget
    accuracy leads retrain's by at least ``min_accuracy_gap`` on average with a CI above zero, or its
    forget MIA leads by ``min_mia_gap`` likewise. With one seed the CI is infinite, so nothing is informative.

    Raises:
        ValueError: a scenario without both an original and a retrain forget accuracy (the signal
            cannot be judged, so nothing may be ranked), or negative thresholds.
    """
    if min_accuracy_gap < 0 or min_mia_gap < 0:
        raise ValueError(f"min_accuracy_gap and min_mia_gap must be >= 0, got {min_accuracy_gap} and {min_mia_gap}")
    scenarios = list(dict.fromkeys(rows.scenario)) if scenarios is None else list(scenarios)
    out = []
    for sc in scenarios:
        acc = _lead(rows, sc, "accuracy")
        if not np.isfinite(acc[2]):
            raise ValueError(
                f"scenario {sc!r} lacks an original or a retrain forget accuracy: its signal cannot be judged (run retrain in it)"
            )
        mia = _lead(rows, sc, "mia")
        seeds = rows[(rows.scenario == sc) & (rows.method == "retrain")].seed.nunique()
        informative = _established(acc[2], acc[3], min_accuracy_gap) or _established(mia[2], mia[3], min_mia_gap)
        out.append([seeds, *acc, *mia, informative])
    return pd.DataFrame(out, columns=SIGNAL_COLUMNS, index=pd.Index(scenarios, name="scenario"))


def ranked_methods(rows: pd.DataFrame, scenario: str, split: str = "average", metric: str = "gap_to_retrain") -> list[str]:
    """The scenario's methods (retrain and the original excluded) by mean ``split/metric``, lowest first."""
    sel = rows[(rows.scenario == scenario) & (rows.split == split) & (rows.metric == metric) & ~rows.method.isin(["original", "retrain"])]
    return list(sel.groupby("method")["value"].mean().sort_values(kind="stable").index)


def scenario_caption(scenario: str, signal: pd.DataFrame, *, ranked_by: str = "avg gap") -> str:
    """A table caption that says whether the scenario ranks methods, and why (from :func:`forgetting_signal`)."""
    row = signal.loc[scenario]
    ci = "" if row["seeds"] < 2 else f" [{row['accuracy gap CI low']:+.3f}, {row['accuracy gap CI high']:+.3f}]"
    what = f"original − retrain forget accuracy {row['accuracy gap']:+.3f}{ci}, forget MIA {row['MIA gap']:+.3f}"
    head = f"{scenario} forgetting (mean ± 95 % CI over {row['seeds']} seed(s))"
    if row["informative"]:
        return f"{head}; informative ({what}): methods ranked by {ranked_by}"
    if row["seeds"] < 2:
        return f"{head}; UNINFORMATIVE ({what}): one seed cannot establish a signal, so methods are NOT ranked"
    return f"{head}; UNINFORMATIVE ({what}): the original is not shown to differ from retrain, so methods are NOT ranked"
