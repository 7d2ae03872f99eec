"""Per-scenario tables of the GAN experiment, pivoted from the saved tidy metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = ["GAN_COLUMNS", "scenario_table"]

#: (split, metric) -> column header of the notebook's and the benchmark's tables.
GAN_COLUMNS: dict[tuple[str, str], str] = {
    ("generated", "forgotten_class_share"): "forgotten-class share",
    ("generated", "classifier_fid"): "classifier-FID",
    ("generated", "classifier_fid_other"): "classifier-FID (other digits)",
    ("generated", "classifier_is"): "classifier IS",
    ("forget", "d_membership_auc"): "D membership AUC",
    ("test", "downstream_accuracy"): "downstream acc.",
    ("test_other_classes", "downstream_accuracy"): "downstream acc. (other digits)",
    ("all", "seconds"): "seconds",
    ("all", "speed_up"): "speed-up vs retrain",
}


def scenario_table(
    df: pd.DataFrame,
    scenario: str,
    columns: Mapping[tuple[str, str], str] = GAN_COLUMNS,
    methods: Sequence[str] | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """``mean ± std`` over seeds per method (rows) and metric (columns) of one scenario.

    Unlike a plain pivot it keeps methods that lack a metric (the original GAN has no wall time)
    as an empty cell, and it keeps the methods in run order (``original`` first).
    """
    sel = df[df.scenario == scenario]
    if sel.empty:
        raise ValueError(f"no rows for scenario {scenario!r}; scenarios present: {sorted(df.scenario.unique())}")
    order = list(methods) if methods is not None else list(dict.fromkeys(sel.method))
    out = pd.DataFrame(index=pd.Index(order, name="method"))
    for (split, metric), header in columns.items():
        g = sel[(sel.split == split) & (sel.metric == metric)].groupby("method")["value"]
        if g.ngroups == 0:
            continue
        mean, std, n = g.mean(), g.std(ddof=1).fillna(0.0), g.count()
        cells = {m: f"{mean[m]:.{digits}f}" + (f" ± {std[m]:.{digits}f}" if n[m] > 1 else "") for m in mean.index}
        out[header] = [cells.get(m, "") for m in order]
    return out
