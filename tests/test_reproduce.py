"""make reproduce's comparison: tolerances come from the committed seed spread, and every row is counted."""

from __future__ import annotations

import pandas as pd
import pytest

from unlearn_lib.batch.reproduce import compare, report, tolerances


def _rows(values: dict[tuple[str, int, str], float]) -> pd.DataFrame:
    rows = [
        {
            "run_id": "r",
            "timestamp": "t",
            "experiment": "01_toy",
            "scenario": "s",
            "method": m,
            "seed": seed,
            "split": "forget",
            "metric": metric,
            "value": v,
        }
        for (m, seed, metric), v in values.items()
    ]
    return pd.DataFrame(rows)


COMMITTED = {
    ("a", 0, "accuracy"): 0.90,
    ("a", 1, "accuracy"): 0.94,  # std 0.028
    ("b", 0, "accuracy"): 0.80,
    ("b", 1, "accuracy"): 0.82,  # std 0.014: median std 0.021, tolerance 0.042
    ("a", 0, "seconds"): 3.0,  # time: never compared
    ("a", 0, "dice"): 0.5,  # one seed only: no tolerance
}


def test_tolerance_is_twice_the_median_seed_std_per_metric_kind():
    tol = tolerances(_rows(COMMITTED))
    assert set(tol) == {"accuracy"}
    assert tol["accuracy"] == pytest.approx(2 * (0.04 / 2**0.5 + 0.02 / 2**0.5) / 2)


def test_every_row_is_identical_within_or_beyond_and_time_is_ignored():
    here = {**COMMITTED, ("a", 1, "accuracy"): 0.93, ("b", 0, "accuracy"): 0.70, ("a", 0, "seconds"): 9.0, ("a", 0, "dice"): 0.51}
    del here[("b", 1, "accuracy")]
    here[("c", 0, "accuracy")] = 0.5
    out = compare(_rows(COMMITTED), _rows(here), tolerances(_rows(COMMITTED))).set_index(["method", "seed", "metric"])
    status = out.status.to_dict()
    assert status[("a", "0", "accuracy")] == "identical"
    assert status[("a", "1", "accuracy")] == "within tolerance"
    assert status[("b", "0", "accuracy")] == "beyond tolerance"
    assert status[("a", "0", "dice")] == "beyond tolerance", "no seed spread for dice: identical or beyond"
    assert status[("b", "1", "accuracy")] == "missing here" and status[("c", "0", "accuracy")] == "extra here"
    assert "seconds" not in out.index.get_level_values("metric")
    text = report({"01_toy": out.reset_index()}, tolerances(_rows(COMMITTED)), "context")
    assert "| 01_toy | 6 | 1 | 1 | 2 | 1 | 1 |" in text and "dice | none" in text
