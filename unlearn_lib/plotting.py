"""Seaborn figures drawn from saved tidy metrics, saved atomically."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .utils import atomic_write

__all__ = ["save_figure", "split_bars"]


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save through a temporary file and ``os.replace``, so a figure is never half-written."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight"))


def split_bars(
    df: pd.DataFrame,
    metric: str = "accuracy",
    splits: tuple[str, ...] = ("forget", "retain", "test"),
    col: str | None = "scenario",
    title: str | None = None,
) -> sns.FacetGrid:
    """Bars of ``metric`` per split and method (mean over seeds, with their spread)."""
    sel = df[(df.metric == metric) & (df.split.isin(splits))]
    if sel.empty:
        raise ValueError(f"no rows with metric {metric!r} on splits {splits}")
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=sel, kind="bar", x="split", y="value", hue="method", col=col, order=list(splits), errorbar="sd", height=3.6, aspect=1.2
    )
    g.set_axis_labels("", metric)
    if title:
        g.figure.suptitle(title, y=1.04)
    return g
