"""The Screen view's numbers: every method against retrain over seeds, its cost, and two runs' differences.

Kept apart from the per-example computations (:mod:`.contrast`, :mod:`.attack`) because it works on
any study's ``metrics.csv`` rows (classifier, segmentation and GAN alike), not on per-example outputs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats

from .load import Missing

__all__ = ["REFERENCES", "cost_closeness_frame", "cost_figure", "method_table", "run_diff"]

#: The model every method is measured against, per study family.
REFERENCES = ("retrain", "gan_retrain")


def _ci(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the t confidence interval of the mean over seeds (nan with a single seed)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _select(df: pd.DataFrame, scenario: str | None, seeds: list[int] | None) -> pd.DataFrame:
    sel = df if scenario is None else df[df.scenario == scenario]
    if seeds:
        sel = sel[sel.seed.isin(seeds)]
    return sel


def method_table(df: pd.DataFrame, scenario: str, metric: str, split: str, seeds: list[int] | None = None) -> pd.DataFrame:
    """Every method's mean ± 95% CI over seeds of one metric on one split, beside retrain's, sorted by
    the distance to retrain (closest first): the table that answers "which method is closest?"."""
    sel = _select(df, scenario, seeds)
    sel = sel[(sel.metric == metric) & (sel.split == split)]
    if sel.empty:
        raise Missing(f"no {metric!r} on split {split!r} in scenario {scenario!r} for these seeds")
    per_seed = sel.groupby(["method", "seed"], sort=False).value.mean().reset_index()
    rows = []
    for method, g in per_seed.groupby("method", sort=False):
        v = g.value.to_numpy(dtype=float)
        rows.append({"method": method, "seeds": len(v), "mean": float(np.nanmean(v)), "ci95": _ci(v)})
    table = pd.DataFrame(rows)
    ref = next((r for r in REFERENCES if r in set(table.method)), None)
    if ref is not None:
        ref_mean = float(table.loc[table.method == ref, "mean"].iloc[0])
        table["retrain"] = ref_mean
        table["delta"] = table["mean"] - ref_mean
        table = table.iloc[np.argsort(np.abs(table["delta"].to_numpy()), kind="stable")]
    table["mean ± CI"] = [f"{m:.3f} ± {c:.3f}" if np.isfinite(c) else f"{m:.3f}" for m, c in zip(table["mean"], table["ci95"])]
    return table.reset_index(drop=True)


def cost_closeness_frame(df: pd.DataFrame, scenario: str, metric: str, split: str, seeds: list[int] | None = None) -> pd.DataFrame:
    """Per method: wall time (``seconds`` on split ``all``) and the distance |mean − retrain| of the chosen metric."""
    table = method_table(df, scenario, metric, split, seeds)
    if "delta" not in table:
        raise Missing(f"no retrain in scenario {scenario!r}: closeness to retrain is undefined")
    sel = _select(df, scenario, seeds)
    secs = sel[(sel.metric == "seconds") & (sel.split == "all")].groupby("method").value.mean()
    if secs.empty:
        raise Missing(f"no wall times (metric 'seconds') in scenario {scenario!r}")
    out = table.assign(seconds=table.method.map(secs), distance=table["delta"].abs())
    out = out[out.method != "original"]  # doing nothing: its wall time is the original's training, not an unlearning cost
    return out.dropna(subset=["seconds"]).reset_index(drop=True)


def cost_figure(frame: pd.DataFrame, metric: str, split: str) -> plt.Figure:
    """Cost (wall time) against closeness to retrain, every point labelled with its method."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    sns.scatterplot(data=frame, x="seconds", y="distance", s=60, color="tab:blue", ax=ax)
    for _, r in frame.iterrows():
        ax.annotate(r.method, (r.seconds, r.distance), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set(xlabel="wall time (s)", ylabel=f"|{metric} − retrain| on {split}", title="cost against closeness to retrain")
    fig.tight_layout()
    return fig


def run_diff(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Every (scenario, method, split, metric) both runs measured, mean over seeds, and b − a, largest first."""
    keys = ["scenario", "method", "split", "metric"]
    ma = a.groupby(keys).value.mean().rename("a")
    mb = b.groupby(keys).value.mean().rename("b")
    both = pd.concat([ma, mb], axis=1, join="inner").reset_index()
    if both.empty:
        raise Missing("the two runs share no (scenario, method, split, metric): pick runs of the same study")
    both["b − a"] = both.b - both.a
    both = both[both.metric != "seconds"]
    return both.iloc[np.argsort(-np.abs(both["b − a"].to_numpy()), kind="stable")].reset_index(drop=True)
