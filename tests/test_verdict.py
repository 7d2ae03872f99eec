"""The project's one verdict rule: holds on a planted effect, never on a planted null, not on one seed."""

from __future__ import annotations

import numpy as np
import pytest

from unlearn_lib.verdict import HOLDS, INCONCLUSIVE, NOT_REPRODUCED, judge, judge_equivalence, paired_difference


def _seeds(effect: float, noise: float, n: int, rng: int) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(rng)
    base = g.normal(0.5, 0.1, n)  # a seed's shared level: pairing removes it
    return base + effect + g.normal(0, noise, n), base + g.normal(0, noise, n)


def test_a_planted_effect_holds_and_its_opposite_is_not_reproduced():
    a, b = _seeds(effect=0.10, noise=0.02, n=5, rng=0)
    assert judge(a, b, "greater").label == HOLDS
    assert judge(a, b, "less").label == NOT_REPRODUCED
    assert judge(b, a, "less").label == HOLDS


def test_a_planted_null_is_never_called_an_effect():
    """Over 200 planted nulls, "holds" comes at about the test's 2.5 % one-sided rate, not more."""
    holds = sum(judge(*_seeds(effect=0.0, noise=0.05, n=5, rng=r), "greater").label == HOLDS for r in range(200))
    assert holds <= 12, f"{holds} of 200 nulls judged to hold"
    a, b = _seeds(effect=0.0, noise=0.01, n=8, rng=3)
    assert judge_equivalence(a, b, margin=0.05).label == HOLDS
    assert judge(a, b, "greater").label == INCONCLUSIVE


def test_a_difference_inside_the_spread_is_inconclusive():
    """02's old "SCRUB+R fixes selective MIA": a 0.02 difference in a ±0.05 spread over 3 seeds."""
    a, b = np.array([0.02, 0.08, -0.04]), np.zeros(3)
    assert judge(a, b, "greater").label == INCONCLUSIVE
    assert judge_equivalence(a, b, margin=0.01).label == INCONCLUSIVE


def test_one_seed_is_never_a_result():
    v = judge([0.9], [0.1], "greater")
    assert v.label == INCONCLUSIVE and "fewer than 2 seeds" in v.reason
    assert judge_equivalence([0.5], [0.5]).label == INCONCLUSIVE


def test_equivalence_fails_on_a_clear_difference():
    a, b = _seeds(effect=0.2, noise=0.01, n=5, rng=1)
    assert judge_equivalence(a, b, margin=0.05).label == NOT_REPRODUCED


def test_the_interval_is_students_t_over_paired_seeds():
    d = paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d.mean == pytest.approx(2.0) and d.n == 3
    assert d.hi - d.mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert paired_difference([0.3, 0.5], 0.1).mean == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: paired_difference([1, 2], [1, 2, 3]), "pair seed for seed"),
        (lambda: paired_difference([1, float("nan")]), "finite"),
        (lambda: paired_difference([[1, 2]]), "1-D"),
        (lambda: paired_difference([1, 2], confidence=1.5), "confidence"),
        (lambda: judge([1, 2], direction="up"), "direction"),
        (lambda: judge_equivalence([1, 2], margin=0), "margin"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
