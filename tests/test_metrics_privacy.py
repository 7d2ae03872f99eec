"""The loss MIA's bootstrap interval, SVC MIA-efficacy, forget quality and KL/JS divergence on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from unlearn_lib.metrics import (
    ForgetQuality,
    OutputDivergence,
    SVCMembershipInference,
    example_epsilon,
    example_epsilons,
    forget_quality,
    js_divergence,
    kl_divergence,
    logit_scaled_confidence,
    mia_features,
    mia_loss_lr,
    mia_loss_lr_ci,
    svc_mia_efficacy,
)


def _logits_with_confidence(conf: np.ndarray, targets: np.ndarray, classes: int = 4) -> np.ndarray:
    """Logits whose softmax gives probability ``conf`` to the target and spreads the rest evenly."""
    p = np.tile(((1 - conf) / (classes - 1))[:, None], (1, classes))
    p[np.arange(len(targets)), targets] = conf
    return np.log(p)


# ---------- loss MIA: bootstrap confidence interval ----------


def _overlapping_losses(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.exponential(0.7, n), rng.exponential(1.0, n)


def test_mia_ci_contains_the_score_which_is_mia_loss_lr():
    for seed in range(5):
        member, nonmember = _overlapping_losses(200, seed)
        score, low, high = mia_loss_lr_ci(member, nonmember, seed=seed)
        assert score == mia_loss_lr(member, nonmember, seed=seed)  # the recorded MIA value is unchanged
        assert 0.0 <= low <= score <= high <= 1.0
        assert high - low > 0.02  # overlapping losses on 400 examples: a real interval, not a point


def test_mia_ci_narrows_with_more_examples():
    widths = []
    for n in (50, 500, 5000):
        _, low, high = mia_loss_lr_ci(*_overlapping_losses(n, 0))
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[2] < widths[0] / 4  # ~1/sqrt(n): a hundred times the examples, about a tenth of the width


def test_mia_ci_is_reproducible_with_its_seed():
    member, nonmember = _overlapping_losses(300, 3)
    assert mia_loss_lr_ci(member, nonmember, seed=7) == mia_loss_lr_ci(member, nonmember, seed=7)
    assert mia_loss_lr_ci(member, nonmember, seed=7) != mia_loss_lr_ci(member, nonmember, seed=8)


def test_mia_ci_of_a_separable_case_is_near_one():
    rng = np.random.default_rng(0)
    score, low, high = mia_loss_lr_ci(rng.uniform(0, 0.01, 200), rng.uniform(2, 3, 200))
    assert score == pytest.approx(1.0)
    assert low > 0.98 and high == pytest.approx(1.0)


def test_mia_ci_coverage():
    # a wider requested coverage gives a wider interval, and bad settings are refused
    member, nonmember = _overlapping_losses(300, 1)
    _, l90, h90 = mia_loss_lr_ci(member, nonmember, confidence=0.90)
    _, l99, h99 = mia_loss_lr_ci(member, nonmember, confidence=0.99)
    assert l99 <= l90 and h90 <= h99 and (h99 - l99) > (h90 - l90)
    for bad in ({"n_boot": 0}, {"confidence": 1.0}, {"confidence": 0.0}):
        with pytest.raises(ValueError):
            mia_loss_lr_ci(member, nonmember, **bad)
    with pytest.raises(ValueError):
        mia_loss_lr_ci(np.ones(3), np.ones(100))


# ---------- KL / JS ----------


def test_kl_js_of_identical_outputs_is_zero():
    z = np.random.default_rng(0).normal(size=(50, 5))
    assert kl_divergence(z, z) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(z, z) == pytest.approx(0.0, abs=1e-12)


def test_kl_known_value_and_asymmetry():
    p, q = np.log([[0.5, 0.5]]), np.log([[0.9, 0.1]])
    expected = 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)
    assert kl_divergence(p, q) == pytest.approx(expected)
    assert kl_divergence(q, p) != pytest.approx(kl_divergence(p, q))


def test_js_symmetric_and_bounded_by_ln2():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(30, 6)) * 5, rng.normal(size=(30, 6)) * 5
    assert js_divergence(a, b) == pytest.approx(js_divergence(b, a))
    disjoint_a = np.array([[50.0, -50.0]] * 4)
    disjoint_b = disjoint_a[:, ::-1].copy()
    assert js_divergence(disjoint_a, disjoint_b) == pytest.approx(np.log(2), rel=1e-6)
    assert (js_divergence(a, b, reduction="none") <= np.log(2) + 1e-12).all()


def test_divergence_on_segmentation_shaped_logits():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4, 2, 5, 5))
    per = kl_divergence(a, a + rng.normal(size=a.shape), reduction="none")
    assert per.shape == (3,) and (per > 0).all()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.zeros((3, 4)), np.zeros((3, 5))),
        (np.zeros(3), np.zeros(3)),
        (np.zeros((0, 3)), np.zeros((0, 3))),
        (np.full((2, 3), np.nan), np.zeros((2, 3))),
    ],
)
def test_divergence_bad_input(a, b):
    with pytest.raises(ValueError):
        kl_divergence(a, b)


def test_output_divergence_class():
    z = np.random.default_rng(0).normal(size=(5, 3))
    assert OutputDivergence("js")(z, z) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="kind"):
        OutputDivergence("tv")


# ---------- SVC MIA-efficacy ----------


def test_mia_features_known_values():
    logits = np.log(np.array([[0.7, 0.1, 0.1, 0.1]]))
    f = mia_features(logits, np.array([0]), ("confidence", "entropy"))
    assert f[0, 0] == pytest.approx(0.7)
    assert f[0, 1] == pytest.approx(-(0.7 * np.log(0.7) + 3 * 0.1 * np.log(0.1)))
    with pytest.raises(ValueError, match="features"):
        mia_features(logits, np.array([0]), "loss")


def test_svc_mia_efficacy_separable_cases():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 200)
    member = (_logits_with_confidence(rng.uniform(0.95, 0.999, 200), t), t)  # retain: confident
    nonmember = (_logits_with_confidence(rng.uniform(0.3, 0.6, 200), t), t)  # test: unsure
    still_remembered = (_logits_with_confidence(rng.uniform(0.95, 0.999, 100), t[:100]), t[:100])
    forgotten = (_logits_with_confidence(rng.uniform(0.3, 0.6, 100), t[:100]), t[:100])
    assert svc_mia_efficacy(member, nonmember, still_remembered) < 0.05
    assert svc_mia_efficacy(member, nonmember, forgotten) > 0.95
    assert SVCMembershipInference(("confidence", "entropy"))(member, nonmember, forgotten) > 0.95


def test_svc_mia_efficacy_bad_input():
    z, t = np.zeros((5, 3)), np.zeros(5, dtype=int)
    with pytest.raises(ValueError, match="targets"):
        svc_mia_efficacy((z, t), (z, t + 7), (z, t))
    with pytest.raises(ValueError, match=">= 2"):
        svc_mia_efficacy((z[:1], t[:1]), (z, t), (z, t))


# ---------- forget quality ----------


def test_logit_scaled_confidence_matches_definition():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    got = logit_scaled_confidence(np.log(p), np.array([0, 1]))
    assert got == pytest.approx(np.log([0.6 / 0.4, 0.2 / 0.8]))
    big = logit_scaled_confidence(np.array([[200.0, 0.0]]), np.array([0]))
    assert np.isfinite(big).all() and big[0] == pytest.approx(200.0)


def test_identical_distributions_give_epsilon_near_zero():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(8, 20))
    res = forget_quality(scores, scores.copy())
    assert res.epsilon == pytest.approx(0.0, abs=1e-3)
    assert res.score == pytest.approx(1.0)


def test_epsilon_grows_with_separation():
    # Finite K biases epsilon upwards (tail thresholds exploit noise), so compare, do not expect 0.
    rng = np.random.default_rng(1)
    eps = [forget_quality(rng.normal(shift, 1, size=(64, 30)), rng.normal(size=(64, 30))).epsilon for shift in (0.0, 1.0, 3.0)]
    assert eps[0] < eps[1] < eps[2]


def test_perfectly_separable_gives_large_epsilon():
    rng = np.random.default_rng(0)
    res = forget_quality(rng.normal(10, 1, size=(8, 20)), rng.normal(-10, 1, size=(8, 20)))
    assert np.isinf(res.epsilons).all()
    assert res.epsilon == pytest.approx(np.log(64)) and res.epsilon > 4
    assert res.score < 1e-3
    flipped = forget_quality(rng.normal(-10, 1, size=(8, 20)), rng.normal(10, 1, size=(8, 20)))
    assert np.isinf(flipped.epsilons).all(), "the symmetric attack must catch the other direction too"


def test_example_epsilon_known_value():
    # K=4 each; threshold 0.5: FPR = 1/4 (one retrained above), FNR = 1/4 -> eps = log(0.75 - d) - log(0.25)
    u, r = np.array([1.0, 2.0, 3.0, 0.0]), np.array([-1.0, -2.0, -3.0, 1.5])
    delta = 1e-5
    eps = example_epsilon(u, r, delta)
    assert eps >= np.log(0.75 - delta) - np.log(0.25) - 1e-9
    assert np.isfinite(eps)


def test_forget_quality_class_and_errors():
    rng = np.random.default_rng(0)
    fq = ForgetQuality()
    t = rng.integers(0, 3, 10)
    z = rng.normal(size=(10, 3))
    for _ in range(3):
        fq.update(z, t, retrained=False)
        fq.update(z, t, retrained=True)
    assert fq.compute().epsilon == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="share N"):
        forget_quality(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="delta"):
        ForgetQuality(delta=1.0)
    with pytest.raises(ValueError, match="at least one"):
        ForgetQuality().compute()


def test_vectorised_epsilons_match_the_per_example_attack():
    rng = np.random.default_rng(3)
    u, r = rng.normal(0.5, 1, size=(6, 40)).round(1), rng.normal(size=(5, 40)).round(1)  # rounding: ties
    u[:, :3] = 10.0  # perfectly separated examples
    want = [example_epsilon(u[:, j], r[:, j]) for j in range(40)]
    np.testing.assert_allclose(example_epsilons(u, r), want)
    assert np.isinf(example_epsilons(u, r)[:3]).all()


def test_bootstrap_interval_brackets_the_estimate_and_separates_methods():
    """With K = 8 a side, a shifted unlearner is told from an indistinguishable one beyond both
    intervals; each interval holds its own estimate; fewer forget examples give a wider interval."""
    rng = np.random.default_rng(0)
    same = forget_quality(rng.normal(size=(8, 200)), rng.normal(size=(8, 200)), n_boot=300)
    shifted = forget_quality(rng.normal(1.0, 1, size=(8, 200)), rng.normal(size=(8, 200)), n_boot=300)
    for res in (same, shifted):
        assert res.epsilon_ci[0] <= res.epsilon <= res.epsilon_ci[1]
        assert res.score_ci[0] <= res.score <= res.score_ci[1]
        assert res.k == (8, 8)
    assert same.epsilon_ci[1] < shifted.epsilon_ci[0] and shifted.score_ci[1] < same.score_ci[0]
    few = forget_quality(rng.normal(size=(8, 20)), rng.normal(size=(8, 20)), n_boot=300)
    assert np.diff(few.epsilon_ci)[0] > np.diff(same.epsilon_ci)[0]
    assert np.isnan(forget_quality(rng.normal(size=(8, 5)), rng.normal(size=(8, 5)), n_boot=0).epsilon_ci).all()
    with pytest.raises(ValueError, match="confidence"):
        forget_quality(np.zeros((2, 3)), np.zeros((2, 3)), confidence=1.0)


def test_two_models_a_side_cap_epsilon_below_what_eight_resolve():
    """The reason K defaults to 8: with two models a side epsilon cannot exceed log 4, however
    separable the unlearned models are, so a cut-off method and a faithful one can read the same."""
    rng = np.random.default_rng(0)
    far = forget_quality(rng.normal(10, 1, size=(2, 20)), rng.normal(size=(2, 20)), n_boot=0)
    near = forget_quality(rng.normal(1.5, 1, size=(8, 20)), rng.normal(size=(8, 20)), n_boot=0)
    assert far.epsilon == pytest.approx(np.log(4))
    assert near.epsilon > far.epsilon


# --- U-LiRA: per-example likelihood-ratio attack --------------------------------------------------


def test_ulira_tells_shifted_models_apart_and_not_identical_ones():
    from unlearn_lib.metrics import ulira

    rng = np.random.default_rng(0)
    retrained = rng.normal(0.0, 1.0, size=(8, 200))
    same = rng.normal(0.0, 1.0, size=(8, 200))
    shifted = rng.normal(3.0, 1.0, size=(8, 200))
    far = ulira(shifted, retrained, n_boot=200)
    near = ulira(same, retrained, n_boot=200)
    assert far.accuracy > 0.9 and far.accuracy_ci[0] > 0.85
    assert abs(near.accuracy - 0.5) < 0.08  # chance, up to the noise of 8 models a side
    assert near.accuracy_ci[0] < 0.5 < far.accuracy_ci[0]
    assert far.per_example.shape == (200,) and far.k == (8, 8)


def test_ulira_uses_each_example_own_distribution():
    # Half the examples are shifted (not forgotten), half not: the per-example accuracies say which.
    from unlearn_lib.metrics import ulira

    rng = np.random.default_rng(1)
    retrained = rng.normal(0.0, 1.0, size=(10, 100))
    unlearned = rng.normal(0.0, 1.0, size=(10, 100))
    unlearned[:, :50] += 4.0
    res = ulira(unlearned, retrained, n_boot=0)
    assert res.per_example[:50].mean() > 0.9 > 0.7 > res.per_example[50:].mean()
    assert np.isnan(res.accuracy_ci[0])


@pytest.mark.parametrize(
    "u, r, match",
    [
        (np.zeros((2, 5)), np.zeros((4, 5)), "at least 3 models"),
        (np.zeros((4, 5)), np.zeros((4, 6)), "share N"),
        (np.full((4, 5), np.nan), np.zeros((4, 5)), "finite"),
    ],
)
def test_ulira_refuses_bad_input(u, r, match):
    from unlearn_lib.metrics import ulira

    with pytest.raises(ValueError, match=match):
        ulira(u, r)
