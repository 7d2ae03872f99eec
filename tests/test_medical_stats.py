"""The sex-bias test's equivalence half (issue #13): TOST at a margin, the verdict, the MDE, on planted data.

A non-significant paired t-test cannot show "no bias"; these tests plant a null, a bias and too few
noisy seeds, and check that TOST, the Holm-adjusted t-test and the minimum detectable effect tell them apart.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestPower

from unlearn_lib.studies import medical as M

SEX_CLAIM = "no bias against male or female samples"


def _paired_frame(n_seeds: int, bias: float, sd: float, rng_seed: int = 0) -> pd.DataFrame:
    """Retrain and one method ``m`` over ``n_seeds`` paired seeds: the own-sex drop beyond retrain is 0.02
    when M is forgotten and 0.02 + ``bias`` + N(0, ``sd``) when F is, so harm(F) - harm(M) ~ N(bias, sd)."""
    rng = np.random.default_rng(rng_seed)
    cols = ["scenario", "method", "seed", "split", "metric", "value", "tuning_lr", "tuning_epochs"]
    rec = []
    for seed in range(n_seeds):
        noise = sd * rng.standard_normal()
        for g, other in (("F", "M"), ("M", "F")):
            sc = f"sex:{g}"
            drop = 0.02 + (bias + noise if g == "F" else 0.0)
            rec += [(sc, "original", seed, f"test:{s}", "accuracy", 0.9) for s in "FM"]
            rec += [(sc, "retrain", seed, f"test:{s}", "accuracy", 0.88) for s in "FM"]
            rec += [(sc, "m", seed, f"test:{g}", "accuracy", 0.88 - drop), (sc, "m", seed, f"test:{other}", "accuracy", 0.87)]
            rec += [(sc, "m", seed, "average", "gap_to_retrain", 0.01), (sc, "retrain", seed, "average", "gap_to_retrain", 0.0)]
    return pd.DataFrame([dict(zip(cols, r)) for r in rec], columns=cols)


def _own(df: pd.DataFrame, **kw) -> pd.Series:
    table = M.sex_bias_test(df, **kw).set_index(["method", "harm"])
    return table.loc[("m", M.SEX_BIAS_HARM)]


def _sex_verdict(df: pd.DataFrame, **kw) -> str:
    return M.claims_table(df, **kw).set_index("study's claim").loc[SEX_CLAIM, "verdict"]


def test_planted_null_is_shown_equivalent():
    df = _paired_frame(12, bias=0.0, sd=0.005)
    row = _own(df, margin=0.02)
    assert row["n seeds"] == 12 and row["margin"] == 0.02
    assert row["tost p"] < 0.001 and row["holm p"] > 0.05
    assert row["verdict"] == "equivalent within ±0.02"
    assert row["MDE"] < 0.02  # 12 pairs at sd 0.005 could see a 2-point bias
    assert _sex_verdict(df, margin=0.02).startswith("no bias: every method equivalent within ±0.02")


def test_planted_bias_is_detected_and_not_called_equivalent():
    df = _paired_frame(12, bias=0.05, sd=0.005)
    row = _own(df)
    assert row["mean diff"] == pytest.approx(0.05, abs=0.005)
    assert row["holm p"] < 0.001 and row["tost p"] > 0.5
    assert row["verdict"] == "bias detected"
    assert _sex_verdict(df).startswith("bias detected for m")


def test_three_noisy_seeds_are_inconclusive_with_an_mde_above_the_margin():
    df = _paired_frame(3, bias=0.0, sd=0.05)
    row = _own(df, margin=0.02)
    assert row["holm p"] >= 0.05 and row["tost p"] >= 0.05
    assert row["verdict"] == "inconclusive"
    assert row["MDE"] > 0.02
    verdict = _sex_verdict(df, margin=0.02)
    assert verdict.startswith("inconclusive for m (MDE = ") and f"{row['MDE']:.3f}" in verdict  # formatted from the table
    assert "3 seeds" in verdict and "±0.02" in verdict


def test_the_margin_decides_equivalence():
    """The same noisy seeds are equivalent within a margin wide enough for them, and not within 2 points."""
    df = _paired_frame(3, bias=0.0, sd=0.05)
    assert _own(df, margin=0.5)["verdict"] == "equivalent within ±0.5"
    assert _own(df, margin=0.02)["verdict"] == "inconclusive"


def test_mde_is_the_effect_a_paired_t_test_finds_with_power_080():
    d = np.array([0.01, -0.02, 0.015, 0.0, -0.005, 0.02])
    mde = M.min_detectable_effect(d)
    power = TTestPower().power(effect_size=mde / np.std(d, ddof=1), nobs=len(d), alpha=0.05)
    assert power == pytest.approx(0.8, abs=1e-6)
    assert math.isnan(M.min_detectable_effect(np.array([0.01])))  # one pair: no spread to scale by
    assert math.isnan(M.min_detectable_effect(np.zeros(5)))  # no spread


def test_degenerate_pairs_give_nan_not_a_verdict():
    """Harms without spread (the other-sex drop is constant here) get no p-values, so no verdict but inconclusive."""
    table = M.sex_bias_test(_paired_frame(6, bias=0.0, sd=0.005)).set_index(["method", "harm"])
    row = table.loc[("m", "other-sex test drop")]
    assert math.isnan(row["tost p"]) and math.isnan(row["MDE"]) and row["verdict"] == "inconclusive"


@pytest.mark.parametrize("margin", [0, 0.0, -0.02, math.nan, math.inf, True, "0.02"])
def test_bad_margin_is_refused_by_name(margin):
    df = _paired_frame(4, bias=0.0, sd=0.005)
    with pytest.raises(ValueError, match="margin"):
        M.sex_bias_test(df, margin=margin)
    with pytest.raises(ValueError, match="margin"):  # not swallowed as "this analysis did not run"
        M.claims_table(df, margin=margin)
    with pytest.raises(ValueError, match="margin"):
        M.summary_parts(df, margin=margin)
