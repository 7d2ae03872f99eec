"""Is a forgetting scenario informative? The signal that makes forgetting measurable, and ranking only where it exists.

A scenario can rank unlearning methods only if the untouched original differs measurably from the
retrained model on the forget set: otherwise "do nothing" is already as close to retraining as any
method can get, and every method "wins". The signal is the original's lead over retraining in forget
accuracy (it memorised those examples) or in the forget-set membership attack. Below both thresholds
a scenario is labelled uninformative and its table is not ranked.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

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
    "original MIA",
    "retrain MIA",
    "MIA gap",
    "informative",
]


def _forget_means(rows: pd.DataFrame, method: str, metric: str) -> pd.Series:
    sel = rows[(rows.method == method) & (rows.split == "forget") & (rows.metric == metric)]
    return sel.groupby("scenario", sort=False)["value"].mean()


def forgetting_signal(
    rows: pd.DataFrame,
    scenarios: Sequence[str] | None = None,
    *,
    min_accuracy_gap: float = MIN_ACCURACY_GAP,
    min_mia_gap: float = MIN_MIA_GAP,
) -> pd.DataFrame:
    """Per scenario (mean over seeds): original vs retrain forget accuracy and forget MIA, and whether it is informative.

    ``rows`` are tidy metric rows (``metrics.csv``) holding ``original`` and ``retrain`` rows with
    ``forget/accuracy`` and ``forget/mia``. A scenario is informative when the original's forget
    accuracy exceeds retrain's by ``min_accuracy_gap`` or its forget MIA exceeds retrain's by
    ``min_mia_gap``.

    Raises:
        ValueError: a scenario without both an original and a retrain forget accuracy (the signal
            cannot be judged, so nothing may be ranked), or negative thresholds.
    """
    if min_accuracy_gap < 0 or min_mia_gap < 0:
        raise ValueError(f"min_accuracy_gap and min_mia_gap must be >= 0, got {min_accuracy_gap} and {min_mia_gap}")
    scenarios = list(dict.fromkeys(rows.scenario)) if scenarios is None else list(scenarios)
    acc_o, acc_r = _forget_means(rows, "original", "accuracy"), _forget_means(rows, "retrain", "accuracy")
    mia_o, mia_r = _forget_means(rows, "original", "mia"), _forget_means(rows, "retrain", "mia")
    out = []
    for sc in scenarios:
        if sc not in acc_o.index or sc not in acc_r.index:
            raise ValueError(
                f"scenario {sc!r} lacks an original or a retrain forget accuracy: its signal cannot be judged (run retrain in it)"
            )
        seeds = rows[(rows.scenario == sc) & (rows.method == "retrain")].seed.nunique()
        gap = float(acc_o[sc] - acc_r[sc])
        mia_gap = float(mia_o.get(sc, float("nan")) - mia_r.get(sc, float("nan")))
        informative = gap >= min_accuracy_gap or (mia_gap == mia_gap and mia_gap >= min_mia_gap)
        out.append([seeds, acc_o[sc], acc_r[sc], gap, mia_o.get(sc, float("nan")), mia_r.get(sc, float("nan")), mia_gap, informative])
    return pd.DataFrame(out, columns=SIGNAL_COLUMNS, index=pd.Index(scenarios, name="scenario"))


def ranked_methods(rows: pd.DataFrame, scenario: str, split: str = "average", metric: str = "gap_to_retrain") -> list[str]:
    """The scenario's methods (retrain and the original excluded) by mean ``split/metric``, lowest first."""
    sel = rows[(rows.scenario == scenario) & (rows.split == split) & (rows.metric == metric) & ~rows.method.isin(["original", "retrain"])]
    return list(sel.groupby("method")["value"].mean().sort_values(kind="stable").index)


def scenario_caption(scenario: str, signal: pd.DataFrame, *, ranked_by: str = "avg gap") -> str:
    """A table caption that says whether the scenario ranks methods, and why (from :func:`forgetting_signal`)."""
    row = signal.loc[scenario]
    what = f"original − retrain forget accuracy {row['accuracy gap']:+.3f}, forget MIA {row['MIA gap']:+.3f}"
    if row["informative"]:
        return f"{scenario} forgetting (mean ± std over {row['seeds']} seed(s)); informative ({what}): methods ranked by {ranked_by}"
    return f"{scenario} forgetting (mean ± std over {row['seeds']} seed(s)); UNINFORMATIVE ({what}): the original is already as close to retrain as a method can be shown to be, so methods are NOT ranked"
