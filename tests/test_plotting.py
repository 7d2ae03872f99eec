"""Figures stay readable however many methods compete: few hues, one panel per scenario, its own methods."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from unlearn_lib.plotting import MAX_HUES, cost_closeness, split_bars

METHODS = {"class": ["original", "retrain", *[f"m{i}" for i in range(13)]], "random": ["original", "retrain", "scrub"]}


def _rows() -> pd.DataFrame:
    rows = []
    for sc, methods in METHODS.items():
        for k, m in enumerate(methods):
            for seed in (0, 1):
                rows += [
                    dict(scenario=sc, method=m, seed=seed, split=s, metric="error", value=0.1 * k) for s in ("forget", "retain", "test")
                ]
                rows += [dict(scenario=sc, method=m, seed=seed, split="all", metric="seconds", value=1.0 + k)]
                rows += [dict(scenario=sc, method=m, seed=seed, split="average", metric="gap_to_retrain", value=0.01 * k)]
    return pd.DataFrame(rows)


def test_split_bars_put_methods_on_the_axis_and_splits_in_a_small_legend():
    fig = split_bars(_rows(), metric="error")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == list(METHODS)  # run order, one panel per scenario
    for ax, methods in zip(axes, METHODS.values()):
        assert [t.get_text() for t in ax.get_xticklabels()] == methods  # only its own methods, in run order
    legend = axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["forget", "retain", "test"] and len(legend.get_texts()) <= MAX_HUES
    assert all(ax.get_legend() is None for ax in axes[:-1])
    plt.close(fig)
    with pytest.raises(ValueError, match="no rows"):
        split_bars(_rows(), metric="accuracy")


def test_cost_closeness_labels_every_method_instead_of_a_legend():
    fig = cost_closeness(_rows())
    for ax, methods in zip(fig.axes, METHODS.values()):
        assert sorted(t.get_text() for t in ax.texts) == sorted(set(methods) - {"original"})
        assert ax.get_legend() is None
    plt.close(fig)
    with pytest.raises(ValueError, match="run retrain beside"):
        cost_closeness(_rows()[lambda d: d.metric == "error"])
