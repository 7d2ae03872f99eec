"""Seaborn figures drawn from saved tidy metrics, saved atomically."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .utils import atomic_write

__all__ = ["MAX_HUES", "cost_closeness", "save_figure", "split_bars"]


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save through a temporary file and ``os.replace``, so a figure is never half-written."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"))


#: Most hues a panel may carry before it stops being readable; more categories go on an axis instead.
MAX_HUES = 8


def split_bars(
    df: pd.DataFrame,
    metric: str = "accuracy",
    splits: tuple[str, ...] = ("forget", "retain", "test"),
    col: str | None = "scenario",
    title: str | None = None,
) -> plt.Figure:
    """Bars of ``metric`` per method (on the x axis) and split (the hue), mean over seeds with their spread.

    Methods go on the axis and splits in the legend, so a panel never needs more than a handful of hues
    however many methods compete, and each panel (one per ``col`` value) shows only its own methods,
    in run order (original and retrain first), with a width to match.
    """
    sel = df[(df.metric == metric) & (df.split.isin(splits))]
    if sel.empty:
        raise ValueError(f"no rows with metric {metric!r} on splits {splits}")
    if len(splits) > MAX_HUES:
        raise ValueError(f"at most {MAX_HUES} splits per panel (one hue each), got {len(splits)}")
    import seaborn as sns  # here, not at the top: every kernel imports this module for save_figure

    sns.set_theme(style="whitegrid", context="notebook")
    panels = list(dict.fromkeys(sel[col])) if col else [None]
    methods = {p: list(dict.fromkeys(sel[sel[col] == p].method if col else sel.method)) for p in panels}
    widths = [max(len(m), 2) for m in methods.values()]
    fig, axes = plt.subplots(1, len(panels), figsize=(0.55 * sum(widths) + 1.5, 3.8), sharey=True, width_ratios=widths, squeeze=False)
    for ax, p in zip(axes[0], panels):
        rows = sel[sel[col] == p] if col else sel
        sns.barplot(
            data=rows,
            x="method",
            y="value",
            hue="split",
            order=methods[p],
            hue_order=list(splits),
            errorbar="sd",
            palette="colorblind",
            ax=ax,
        )
        ax.set_title(str(p) if p is not None else "")
        ax.set_xlabel("")
        ax.set_ylabel(metric)
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():  # the label's end sits under its own bars
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
        if ax is not axes[0][-1]:
            ax.get_legend().remove()
    sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.01, 1), title="split")
    if title:
        fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


def cost_closeness(df: pd.DataFrame, title: str = "Cost against closeness to retraining") -> plt.Figure:
    """One panel per scenario: each method's wall time against its average gap to retrain (mean over
    seeds), every point labelled with its method, so no legend of many hues is needed."""
    sel = df[df.metric.isin(["seconds", "gap_to_retrain"]) & df.split.isin(["all", "average"]) & ~df.method.isin(["original"])]
    piv = sel.pivot_table(index=["scenario", "method"], columns="metric", values="value", aggfunc="mean").reset_index()
    if piv.empty or not {"seconds", "gap_to_retrain"} <= set(piv.columns):
        raise ValueError("no (all, seconds) and (average, gap_to_retrain) rows: run retrain beside the methods")
    import seaborn as sns  # here, not at the top: every kernel imports this module for save_figure

    sns.set_theme(style="whitegrid", context="notebook")
    scenarios = [s for s in dict.fromkeys(sel.scenario) if s in set(piv.scenario)]  # run order
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.6 * len(scenarios), 3.8), sharey=True, squeeze=False)
    for ax, sc in zip(axes[0], scenarios):
        rows = piv[piv.scenario == sc]
        sns.scatterplot(data=rows, x="seconds", y="gap_to_retrain", s=60, color="tab:blue", ax=ax)
        for _, r in rows.iterrows():
            ax.annotate(r.method, (r.seconds, r.gap_to_retrain), xytext=(4, 3), textcoords="offset points", fontsize=8)
        ax.set(title=sc, xlabel="wall time (s)", ylabel="average gap to retrain")
    fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig
