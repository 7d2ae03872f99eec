"""Notebook 04's corrected analyses on hand-made metrics with a known answer: per-size tuning picks,
grid-edge counts, search cost per size, and difficulty bias judged against the original's own asymmetry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.studies import medical as M

COLS = ["scenario", "method", "seed", "split", "metric", "value", "tuning_lr", "tuning_epochs", "forget_fraction"]


def _frame(records: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(COLS, r)) for r in records], columns=COLS)


def tuning_rows(best: dict[float, float], lrs=(0.001, 0.01, 0.1), retrain_s: float = 10.0) -> pd.DataFrame:
    """A grid of three lrs (one epoch) at each size; at size f the config with lr ``best[f]`` puts forget
    accuracy on validation accuracy, the others miss it by 0.2 (and have better test accuracy)."""
    rec = []
    for f, good in best.items():
        rec.append(("tuning:reference", "original", 0, "val", "accuracy", 0.8, None, None, f))
        rec.append(("tuning:reference", "retrain", 0, "all", "seconds", retrain_s, None, None, f))
        rec += [("tuning:reference", "retrain", 0, s, "accuracy", 0.8, None, None, f) for s in ("forget", "retain", "test", "val")]
        for lr in lrs:
            forget, test = (0.8, 0.7) if lr == good else (1.0, 0.9)
            c = (lr, 1, f)
            rec += [
                ("tuning:grid", "m", 0, "forget", "accuracy", forget, *c),
                ("tuning:grid", "m", 0, "val", "accuracy", 0.8, *c),
                ("tuning:grid", "m", 0, "test", "accuracy", test, *c),
                ("tuning:grid", "m", 0, "retain", "accuracy", 0.9, *c),
                ("tuning:grid", "m", 0, "all", "seconds", 2.0, *c),
            ]
    return _frame(rec)


class _Study:
    """What tuned_hparams reads from a study: the method's configured hyper-parameters."""

    def _hparams_for(self, method: str) -> dict:
        return {}


def test_per_size_picks_can_differ_by_size():
    df = tuning_rows({0.1: 0.01, 0.5: 0.1})
    best = M.select_by_validation(df).set_index("forget_fraction")
    assert best.loc[0.1, "tuning_lr"] == 0.01 and best.loc[0.5, "tuning_lr"] == 0.1
    with pytest.raises(ValueError, match="fraction"):
        M.tuned_hparams(df, _Study())  # two sizes searched: which one's picks?


def test_tuned_hparams_by_size_and_edges(monkeypatch):
    monkeypatch.setattr(M.tables, "_grid_config", lambda method, base, lr, epochs: {"lr": lr, "epochs": epochs})
    df = tuning_rows({0.1: 0.01, 0.5: 0.1})
    picks = M.tuned_hparams_by_size(df, _Study())
    assert picks == {0.1: {"m": {"lr": 0.01, "epochs": 1}}, 0.5: {"m": {"lr": 0.1, "epochs": 1}}}
    assert M.tuned_hparams(df, _Study(), 0.5) == picks[0.5]
    with pytest.raises(ValueError, match="no tuning picks"):
        M.tuned_hparams(df, _Study(), 0.2)
    edges = M.tuning_edges(df)
    # 0.01 is the grid's middle, 0.1 its top; one epoch everywhere is no edge (a one-value axis has none).
    assert edges.loc["m", "picks"] == 2 and edges.loc["m", "lr on edge"] == 1 and edges.loc["m", "epochs on edge"] == 0
    assert edges.loc["m", "share on edge"] == 0.5


def test_search_cost_is_per_size_against_that_sizes_retraining():
    df = tuning_rows({0.1: 0.01, 0.5: 0.01})
    df.loc[(df.scenario == "tuning:reference") & (df.metric == "seconds") & (df.forget_fraction == 0.5), "value"] = 3.0
    table = M.tuning_table(df)
    # Three configs of 2 s at each size: 6 / 10 at 0.1 and 6 / 3 at 0.5, averaged.
    assert table.loc["m", "search / retrain"] == pytest.approx((0.6 + 2.0) / 2)
    assert table.loc["m", "sizes"] == 2 and table.loc["m", "configs"] == 3
    assert table.loc["m", "picked test acc"] == pytest.approx(0.7)  # reported, never used to pick
    assert table.loc["m", "picks on edge"] == "0/2"


def test_rows_without_a_size_still_select_as_one_size():
    df = tuning_rows({0.1: 0.01}).assign(forget_fraction=np.nan)
    assert M.select_by_validation(df).tuning_lr.tolist() == [0.01]


def test_forget_sizes_refuse_picks_that_miss_a_size():
    with pytest.raises(ValueError, match="no picks for forget fractions"):
        M.run_forget_sizes(None, [0.1, 0.5], [0], None, {0.1: {"m": {"lr": 0.1}}})


def difficulty_rows(original: tuple[float, float], method: tuple[float, float], seeds: int = 3) -> pd.DataFrame:
    """Forget accuracy on easy / hard sets: retrain at (0.95, 0.55); original and one method as given."""
    rec = []
    for seed in range(seeds):
        for level, k in (("easy", 0), ("hard", 1)):
            sc = f"difficulty:{level}"
            rec += [
                (sc, "retrain", seed, "forget", "accuracy", (0.95, 0.55)[k]),
                (sc, "original", seed, "forget", "accuracy", original[k]),
                (sc, "m", seed, "forget", "accuracy", method[k]),
            ]
    return _frame([(*r, None, None, None) for r in rec])


@pytest.mark.parametrize(
    ("method", "biased"),
    [
        ((1.0, 1.0), False),  # does nothing: exactly the original's asymmetry
        ((0.95, 0.55), False),  # exact unlearning: no asymmetry at all
        ((0.96, 0.80), False),  # some asymmetry, less than the original's
        ((0.80, 1.0), True),  # hard samples kept and easy ones over-forgotten: beyond the original's
    ],
)
def test_difficulty_bias_is_judged_beyond_the_originals_asymmetry(method, biased):
    df = difficulty_rows((1.0, 1.0), method)
    table = M.difficulty_bias_table(df, tol=0.05)
    assert table.loc["original", "asymmetry (hard − easy)"] == pytest.approx(0.4)
    assert table.loc["m", "easy − retrain"] == pytest.approx(method[0] - 0.95)
    assert (table.loc["m", "verdict"] == "biased beyond the original") is biased
    claim = M.claims_table(df)
    row = claim[claim["study's claim"].str.contains("easy or hard")].iloc[0]
    assert ("holds for m" in row.verdict) is biased


def test_the_old_rule_would_flag_a_method_that_does_nothing():
    """Why the normalisation: hard minus easy of a do-nothing method is 0.4, far over a 0.05 tolerance."""
    table = M.difficulty_bias_table(difficulty_rows((1.0, 1.0), (1.0, 1.0)))
    assert table.loc["m", "asymmetry (hard − easy)"] > 0.05 and table.loc["m", "excess over original"] == pytest.approx(0.0)


class _RecordingStudy:
    """Stands in for MedicalStudy: records which hyper-parameters each forget-size run was given."""

    labels = np.repeat(np.arange(3), 40)
    val_fraction = 0.1

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict | None]] = []

    def run(self, split, seed, scenario, recorder, hparams=None, **extra):
        self.calls.append((scenario, hparams))


def test_each_size_runs_with_its_own_picks():
    study = _RecordingStudy()
    picks = {0.1: {"m": {"lr": 0.01, "epochs": 1}}, 0.5: {"m": {"lr": 0.1, "epochs": 4}}}
    M.run_forget_sizes(study, [0.1, 0.5], [0, 1], None, picks)
    assert study.calls == [("size:0.1", picks[0.1]), ("size:0.5", picks[0.5])] * 2
    plain = _RecordingStudy()
    M.run_forget_sizes(plain, [0.1], [0], None)
    assert plain.calls == [("size:0.1", None)]  # no per-size picks: the study's own hparams


def test_an_edge_pick_tied_with_an_interior_config_is_not_counted():
    """Configs that all leave the forget set untouched tie; the lowest lr then wins only by order."""
    df = tuning_rows({0.1: 0.5})  # no config matches validation: all three tie
    best = M.select_by_validation(df).iloc[0]
    assert best.tied == 3 and best.tuning_lr == 0.001 and not best.lr_on_edge
    assert M.tuning_edges(df).loc["m", "tied picks"] == 1
