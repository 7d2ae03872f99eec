"""Figures (seaborn): each analysis drawn from the saved metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .analyses import TUNING_GRID, TUNING_REFERENCE
from .tables import SIZE, _ordered, _with_size, analysis_rows, vs_retrain

_PANELS = {
    ("forget", "accuracy"): "forget acc",
    ("retain", "accuracy"): "retain acc",
    ("test", "accuracy"): "test acc",
    ("forget", "mia"): "MIA",
}


def _panels(rows: pd.DataFrame) -> pd.DataFrame:
    keep = [(s, m) for s, m in _PANELS]
    sel = rows[[(s, m) in keep for s, m in zip(rows.split, rows.metric)]]
    return sel.assign(panel=[_PANELS[(s, m)] for s, m in zip(sel.split, sel.metric)])


def plot_forget_sizes(df: pd.DataFrame) -> plt.Figure:
    """Forget / retain / test accuracy and MIA against forget-set size, one line per method (± sd)."""
    rows = _panels(analysis_rows(df, "size"))
    rows = rows[rows.method != "original"].assign(size=lambda r: 100 * r.level.astype(float))
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.relplot(
        data=rows, x="size", y="value", hue="method", hue_order=_ordered(rows.method.unique()), col="panel", col_order=list(_PANELS.values()),
        kind="line", marker="o", errorbar="sd", height=3.0, aspect=1.0, facet_kws={"sharey": False},
    )  # fmt: skip
    g.set(xscale="log")
    sizes = sorted(rows["size"].unique())
    for ax in g.axes.flat:  # the sizes themselves as ticks, in plain numbers (not 10^0, 10^1)
        ax.set_xticks(sizes, [f"{v:g}" for v in sizes])
        ax.minorticks_off()
    g.set_axis_labels("forget set (% of training)", "")
    g.set_titles("{col_name}")
    return g.figure


def plot_sex(df: pd.DataFrame) -> plt.Figure:
    """Test accuracy drop (original - unlearned) on each sex, after forgetting only F or only M."""
    rows = analysis_rows(df, "sex")
    acc = rows[(rows.metric == "accuracy") & rows.split.isin(["test:F", "test:M"])]
    orig = acc[acc.method == "original"].set_index(["seed", "level", "split"])["value"].rename("orig")
    drop = acc[acc.method != "original"].join(orig, on=["seed", "level", "split"])
    drop = drop.assign(drop=drop.orig - drop.value, evaluated=drop.split.str.split(":").str[1], forgotten="forgot " + drop.level)
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=drop, kind="bar", x="method", y="drop", hue="evaluated", col="forgotten", order=_ordered(drop.method.unique()),
        errorbar="sd", height=3.4, aspect=1.5,
    )  # fmt: skip
    g.set_axis_labels("", "test accuracy drop vs original")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", rotation=30)
    return g.figure


def plot_difficulty(df: pd.DataFrame) -> plt.Figure:
    """Forget accuracy minus retrain's (signed) and MIA minus retrain's, easy vs hard forget sets."""
    rows = analysis_rows(df, "difficulty")
    d = pd.concat(
        [
            vs_retrain(rows, "forget", "accuracy").assign(panel="forget acc - retrain"),
            vs_retrain(rows, "forget", "mia").assign(panel="MIA - retrain"),
        ]
    )
    d = d[d.method != "original"]
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=d, kind="bar", x="method", y="diff", hue="level", hue_order=["easy", "hard"], col="panel", order=_ordered(d.method.unique()),
        errorbar="sd", height=3.4, aspect=1.4, sharey=False,
    )  # fmt: skip
    g.set_axis_labels("", "difference to retrain")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.axhline(0, color="k", lw=0.8)
        ax.tick_params(axis="x", rotation=30)
    return g.figure


def plot_subject(df: pd.DataFrame) -> plt.Figure:
    """Forgetting one patient: accuracy per split and MIA, per method (± sd over seeds)."""
    rows = _panels(analysis_rows(df, "subject"))
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=rows, kind="bar", x="panel", y="value", hue="method", hue_order=_ordered(rows.method.unique()), order=list(_PANELS.values()),
        errorbar="sd", height=3.4, aspect=2.2,
    )  # fmt: skip
    g.set_axis_labels("", "")
    return g.figure


def plot_tuning(df: pd.DataFrame) -> plt.Figure:
    """Left: search time as a multiple of one retraining. Right: every config's validation score."""
    rows = _with_size(analysis_rows(df, "tuning"))
    secs = rows[(rows.split == "all") & (rows.metric == "seconds") & (rows.method != "original")]
    ref = secs[secs.scenario == TUNING_REFERENCE].groupby(["seed", SIZE])["value"].mean()
    search = secs[secs.scenario == TUNING_GRID].groupby(["method", "seed", SIZE])["value"].sum().reset_index()
    search["ratio"] = [v / ref.loc[(s, f)] for v, s, f in zip(search.value, search.seed, search[SIZE], strict=True)]
    order = _ordered(search.method.unique())
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    sns.barplot(data=search, x="method", y="ratio", order=order, errorbar="sd", ax=axes[0])
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set(xlabel="", ylabel="search time / retrain time", title="cost of the lr x epochs search (per size)")
    grid = rows[(rows.metric == "accuracy") & (rows.scenario == TUNING_GRID) & (rows.method != "original")]
    acc = grid.pivot_table(index=["method", "seed", SIZE, "tuning_lr", "tuning_epochs"], columns="split", values="value").reset_index()
    sns.scatterplot(data=acc, x="val", y="forget", hue="method", hue_order=order, ax=axes[1])
    lo = float(min(acc.val.min(), acc.forget.min()))
    axes[1].plot([lo, 1], [lo, 1], "k--", lw=0.8)
    axes[1].set(xlabel="validation accuracy", ylabel="forget accuracy", title="configs tried (target: near the diagonal)")
    for ax in axes[:1]:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_salun_sweep(df: pd.DataFrame, fraction: float) -> plt.Figure:
    """SalUn's four panels against mask fraction, with retrain and Random Label as reference lines."""
    rows = _panels(analysis_rows(df, "salun_mask"))
    rows = rows[rows.method != "original"].assign(mask=lambda r: r.level.astype(float))
    ref = _panels(df[(df.scenario == f"size:{fraction:g}") & df.method.isin(["retrain", "random_label"])])
    sns.set_theme(style="whitegrid", context="notebook")
    panels = list(_PANELS.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
    for ax, panel in zip(axes, panels):
        sns.lineplot(data=rows[rows.panel == panel], x="mask", y="value", marker="o", errorbar="sd", ax=ax, label="salun")
        for method, style in (("retrain", "--"), ("random_label", ":")):
            v = ref[(ref.panel == panel) & (ref.method == method)]["value"]
            if len(v):
                ax.axhline(float(v.mean()), color="k", ls=style, lw=1, label=method)
        ax.set(title=panel, xlabel="mask fraction (share of weights updated)", ylabel="")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
