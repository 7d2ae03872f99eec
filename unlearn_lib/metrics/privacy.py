"""Membership-inference metrics the field adopted after SCRUB.

* **MIA-efficacy** (SalUn, Fan et al., ICLR 2024): an RBF support-vector classifier learns to tell
  retain examples (members) from test examples (non-members) from per-example output features
  (confidence in the true label, prediction entropy); MIA-efficacy is the share of *forget* examples
  it calls non-members. Higher means more forgotten; the reference is the retrained model's value.
* **Forget quality** (NeurIPS 2023 unlearning challenge; Triantafillou et al., 2024): for every
  forget example, the logit-scaled confidence of the true class under K unlearned models (different
  seeds) and K retrained models. Every threshold attack on those 2K numbers has a false-positive and
  a false-negative rate; the example's epsilon is the largest
  ``log(1 - delta - FPR) - log(FNR)`` or ``log(1 - delta - FNR) - log(FPR)`` over attacks, as in
  (epsilon, delta)-unlearning. 0 means indistinguishable from retraining. The challenge's score
  buckets each epsilon into bins of width 0.5 and averages ``2 / 2**n`` (n the 1-based bin index), so
  a perfect unlearner scores 1 and a distinguishable one tends to 0. Both come with a percentile
  bootstrap confidence interval over the forget examples.
* **U-LiRA** (Hayes et al., *Inexact unlearning needs more careful evaluations*, SaTML 2025): a
  per-example likelihood-ratio attack on the same scores. For each forget example it fits one Gaussian
  to the scores of unlearned models and one to those of retrained models, and calls a held-out model
  "unlearned" where the first is the likelier. Its accuracy over models and examples (leave-one-model-
  out, both sides equally weighted) is 0.5 for an unlearner indistinguishable from retraining and 1.0
  for one any attacker can tell apart; unlike the threshold epsilon it does not saturate at log(K K').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.svm import SVC

__all__ = [
    "ForgetQuality",
    "ForgetQualityResult",
    "SVCMembershipInference",
    "ULiraResult",
    "example_epsilon",
    "example_epsilons",
    "forget_quality",
    "logit_scaled_confidence",
    "mia_features",
    "svc_mia_efficacy",
    "ulira",
]

FEATURES = ("confidence", "entropy")


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_logits(logits: np.ndarray, targets: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    logits, targets = np.asarray(logits, dtype=np.float64), np.asarray(targets).astype(np.int64).ravel()
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"{name} logits must have shape (N, C) with C >= 2, got {logits.shape}")
    if len(logits) != len(targets):
        raise ValueError(f"{name}: {len(logits)} logits but {len(targets)} targets")
    if len(targets) == 0:
        raise ValueError(f"{name} is empty")
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ValueError(f"{name} targets must be in [0, {logits.shape[1] - 1}]")
    if not np.isfinite(logits).all():
        raise ValueError(f"{name} logits contain non-finite values")
    return logits, targets


def mia_features(logits: np.ndarray, targets: np.ndarray, features: tuple[str, ...] | str = "confidence") -> np.ndarray:
    """Per-example attack features: ``confidence`` (softmax prob of the true class), ``entropy``."""
    feats = (features,) if isinstance(features, str) else tuple(features)
    bad = [f for f in feats if f not in FEATURES]
    if not feats or bad:
        raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {features!r}")
    logits, targets = _check_logits(logits, targets, "features")
    p = _softmax(logits)
    cols = {
        "confidence": p[np.arange(len(targets)), targets],
        "entropy": -(p * np.log(np.clip(p, 1e-30, None))).sum(axis=1),
    }
    return np.stack([cols[f] for f in feats], axis=1)


def svc_mia_efficacy(
    retain: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    forget: tuple[np.ndarray, np.ndarray],
    *,
    features: tuple[str, ...] | str = "confidence",
    max_per_group: int = 2000,
    seed: int = 0,
) -> float:
    """SalUn's MIA-efficacy: share of forget examples an SVC (members = retain, non-members = test)
    predicts as non-members.

    Args:
        retain, test, forget: ``(logits (N, C), targets (N,))`` of the model under audit.
        features: ``"confidence"`` (SalUn's reported variant), ``"entropy"`` or both.
        max_per_group: members and non-members are balanced by subsampling to the smaller group,
            capped here (an RBF SVC is quadratic in its training size).
        seed: subsampling.

    Raises:
        ValueError: bad shapes, too few examples (< 2 per group), unknown features.
    """
    if max_per_group < 2:
        raise ValueError(f"max_per_group must be >= 2, got {max_per_group}")
    xm, xn, xf = (mia_features(*pair, features) for pair in (retain, test, forget))
    k = min(len(xm), len(xn), max_per_group)
    if k < 2:
        raise ValueError(f"svc_mia_efficacy needs >= 2 retain and test examples, got {len(xm)} and {len(xn)}")
    rng = np.random.default_rng(seed)
    xm, xn = xm[rng.choice(len(xm), k, replace=False)], xn[rng.choice(len(xn), k, replace=False)]
    clf = SVC(C=3.0, gamma="auto", kernel="rbf")
    clf.fit(np.concatenate([xm, xn]), np.concatenate([np.ones(k), np.zeros(k)]))
    return float(1.0 - clf.predict(xf).mean())


class SVCMembershipInference:
    """Class form of :func:`svc_mia_efficacy`, holding its settings."""

    def __init__(self, features: tuple[str, ...] | str = "confidence", max_per_group: int = 2000, seed: int = 0) -> None:
        mia_features(np.zeros((1, 2)), np.zeros(1), features)  # validate now
        if max_per_group < 2:
            raise ValueError(f"max_per_group must be >= 2, got {max_per_group}")
        self.features, self.max_per_group, self.seed = features, max_per_group, seed

    def __call__(
        self, retain: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], forget: tuple[np.ndarray, np.ndarray]
    ) -> float:
        return svc_mia_efficacy(retain, test, forget, features=self.features, max_per_group=self.max_per_group, seed=self.seed)


def logit_scaled_confidence(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log(p_y / (1 - p_y)) of the true class, computed stably as z_y - logsumexp_{j != y} z_j."""
    logits, targets = _check_logits(logits, targets, "confidence")
    rows = np.arange(len(targets))
    true = logits[rows, targets]
    others = logits.copy()
    others[rows, targets] = -np.inf
    m = others.max(axis=1)
    return true - (m + np.log(np.exp(others - m[:, None]).sum(axis=1)))


def example_epsilon(unlearned: np.ndarray, retrained: np.ndarray, delta: float = 1e-5) -> float:
    """Epsilon of one forget example from its scores under K unlearned and K' retrained models.

    Every threshold on the pooled scores, in both directions, is an attack predicting "unlearned";
    FPR = share of retrained scores so labelled, FNR = share of unlearned ones missed. Following the
    challenge's scoring code: an attack with FPR = FNR = 0 separates perfectly (epsilon = inf), an
    attack with exactly one of them 0 is discarded (its log is undefined), and attacks with
    ``1 - delta - rate <= 0`` contribute nothing.
    """
    u, r = np.asarray(unlearned, dtype=np.float64).ravel(), np.asarray(retrained, dtype=np.float64).ravel()
    if len(u) == 0 or len(r) == 0:
        raise ValueError("example_epsilon needs at least one unlearned and one retrained score")
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"delta must be in [0, 1), got {delta}")
    thresholds = np.unique(np.concatenate([u, r]))
    above_u = (u[None, :] > thresholds[:, None]).mean(axis=1)
    above_r = (r[None, :] > thresholds[:, None]).mean(axis=1)
    # direction ">": predict unlearned above t; direction "<=": below or at t.
    fpr = np.concatenate([above_r, 1.0 - above_r])
    fnr = np.concatenate([1.0 - above_u, above_u])
    if np.any((fpr == 0) & (fnr == 0)):
        return float("inf")
    ok = (fpr > 0) & (fnr > 0)
    if not ok.any():
        return 0.0
    fpr, fnr = fpr[ok], fnr[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        e1 = np.log(1.0 - delta - fpr) - np.log(fnr)
        e2 = np.log(1.0 - delta - fnr) - np.log(fpr)
    best = np.nanmax(np.concatenate([e1, e2])) if np.isfinite(np.concatenate([e1, e2])).any() else 0.0
    return float(max(best, 0.0))


def example_epsilons(unlearned: np.ndarray, retrained: np.ndarray, delta: float = 1e-5) -> np.ndarray:
    """:func:`example_epsilon` of every forget example at once: (K, N) and (K', N) scores to N epsilons.

    Vectorised over examples: one pass for the hundreds of forget examples a class holds.
    """
    u, r = np.asarray(unlearned, dtype=np.float64).T, np.asarray(retrained, dtype=np.float64).T  # (N, K), (N, K')
    thresholds = np.concatenate([u, r], axis=1)[:, :, None]  # repeated thresholds give repeated attacks: same max
    above_u = (u[:, None, :] > thresholds).mean(axis=2)
    above_r = (r[:, None, :] > thresholds).mean(axis=2)
    fpr = np.concatenate([above_r, 1.0 - above_r], axis=1)
    fnr = np.concatenate([1.0 - above_u, above_u], axis=1)
    perfect = ((fpr == 0) & (fnr == 0)).any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.fmax(np.log(1.0 - delta - fpr) - np.log(fnr), np.log(1.0 - delta - fnr) - np.log(fpr))  # fmax: skip a NaN side
    e = np.where((fpr > 0) & (fnr > 0) & np.isfinite(e), e, -np.inf).max(axis=1)
    return np.where(perfect, np.inf, np.maximum(e, 0.0))


@dataclass
class ForgetQualityResult:
    """Per-example epsilons, their mean (infinite ones capped at ``epsilon_cap``), the score, and
    percentile bootstrap intervals of both (``(nan, nan)`` when no bootstrap was drawn)."""

    epsilons: np.ndarray
    epsilon: float
    score: float
    epsilon_cap: float
    epsilon_ci: tuple[float, float] = (float("nan"), float("nan"))
    score_ci: tuple[float, float] = (float("nan"), float("nan"))
    k: tuple[int, int] = (0, 0)
    #: U-LiRA on the same models, where the caller computed it (:func:`ulira`).
    ulira: ULiraResult | None = None


def _check_scores(unlearned: np.ndarray, retrained: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' (models, examples) score matrices as float64, checked once for every attack on them."""
    u, r = np.atleast_2d(np.asarray(unlearned, dtype=np.float64)), np.atleast_2d(np.asarray(retrained, dtype=np.float64))
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1] or u.shape[1] == 0:
        raise ValueError(f"{name}: unlearned (K, N) and retrained (K', N) must share N >= 1, got {u.shape} and {r.shape}")
    if not (np.isfinite(u).all() and np.isfinite(r).all()):
        raise ValueError(f"{name} scores must be finite")
    return u, r


def _summary(eps: np.ndarray, cap: float, bin_width: float, n_bins: int) -> tuple[float, float]:
    """Mean capped epsilon and the challenge's score of per-example epsilons."""
    bins = np.digitize(eps, np.arange(n_bins) * bin_width)  # 1 for [0, w), 2 for [w, 2w), ...
    return float(np.minimum(eps, cap).mean()), float(np.mean(2.0 / 2.0**bins))


def forget_quality(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    *,
    delta: float = 1e-5,
    bin_width: float = 0.5,
    n_bins: int = 13,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ForgetQualityResult:
    """The challenge's forget quality from per-example scores (rows: models, columns: forget examples).

    Args:
        unlearned: (K, N) logit-scaled confidences of K unlearned models on the N forget examples.
        retrained: (K', N) the same for K' retrained models.
        delta: the delta of (epsilon, delta)-unlearning.
        bin_width, n_bins: the score's buckets (width 0.5, 13 edges from 0, as in the challenge).
        n_boot: bootstrap resamples for the intervals (0: none).
        confidence: the intervals' coverage (percentile bootstrap).
        seed: the bootstrap's random draws.

    The mean epsilon caps infinite per-example values at ``log(K * K')``, about the largest epsilon
    K x K' models can resolve, so a perfect separation reads as "large" rather than ``inf``.

    The intervals resample forget examples (the challenge averages over them), the models staying
    fixed. Resampling the models with replacement is not offered: a repeated model is a tie that a
    threshold attack exploits, which inflates epsilon instead of measuring its spread. With few
    models epsilon is also biased upwards, which no interval corrects: compare with retraining's own.

    Raises:
        ValueError: shapes that disagree, fewer than one model or example, non-finite scores.
    """
    u, r = _check_scores(unlearned, retrained, "forget_quality")
    if bin_width <= 0 or n_bins < 1:
        raise ValueError(f"bin_width must be > 0 and n_bins >= 1, got {bin_width} and {n_bins}")
    if n_boot < 0 or not 0.0 < confidence < 1.0:
        raise ValueError(f"n_boot must be >= 0 and confidence in (0, 1), got {n_boot} and {confidence}")
    (k, n), k_ref = u.shape, r.shape[0]
    eps = example_epsilons(u, r, delta)
    cap = float(np.log(max(k * k_ref, 2)))
    epsilon, score = _summary(eps, cap, bin_width, n_bins)
    nan = (float("nan"), float("nan"))
    if n_boot == 0:
        return ForgetQualityResult(eps, epsilon, score, cap, nan, nan, (k, k_ref))
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, 2))
    for b in range(n_boot):
        draws[b] = _summary(eps[rng.integers(0, n, n)], cap, bin_width, n_bins)
    lo, hi = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return ForgetQualityResult(eps, epsilon, score, cap, (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])), (k, k_ref))


class ForgetQuality:
    """Class form: collect scores model by model with ``update``, then ``compute``."""

    def __init__(self, delta: float = 1e-5, bin_width: float = 0.5, n_bins: int = 13, n_boot: int = 1000, seed: int = 0) -> None:
        if not 0.0 <= delta < 1.0:
            raise ValueError(f"delta must be in [0, 1), got {delta}")
        self.delta, self.bin_width, self.n_bins, self.n_boot, self.seed = delta, bin_width, n_bins, n_boot, seed
        self.reset()

    def reset(self) -> None:
        self.unlearned: list[np.ndarray] = []
        self.retrained: list[np.ndarray] = []

    def update(self, logits: np.ndarray, targets: np.ndarray, *, retrained: bool) -> None:
        """Add one model's forget-set logits (unlearned, or retrained if ``retrained``)."""
        (self.retrained if retrained else self.unlearned).append(logit_scaled_confidence(logits, targets))

    def compute(self) -> ForgetQualityResult:
        if not self.unlearned or not self.retrained:
            raise ValueError("ForgetQuality.compute() needs at least one unlearned and one retrained model")
        return forget_quality(
            np.stack(self.unlearned),
            np.stack(self.retrained),
            delta=self.delta,
            bin_width=self.bin_width,
            n_bins=self.n_bins,
            n_boot=self.n_boot,
            seed=self.seed,
        )


@dataclass
class ULiraResult:
    """U-LiRA's balanced accuracy over models and examples, its per-example accuracies, and a
    percentile bootstrap interval over forget examples (``(nan, nan)`` when none was drawn)."""

    accuracy: float
    per_example: np.ndarray
    accuracy_ci: tuple[float, float] = (float("nan"), float("nan"))
    k: tuple[int, int] = (0, 0)


def _gaussian_loglik(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def ulira(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    *,
    min_std: float = 1e-3,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ULiraResult:
    """U-LiRA's accuracy from per-example scores (rows: models, columns: forget examples).

    Every model is the attack's target once: the per-example Gaussians are fitted on all *other*
    models (its own side without it, the other side whole), so no model is judged by a fit that saw
    it. A target is called unlearned where the unlearned-side log-likelihood is higher. The accuracy
    averages the two sides' hit rates (balanced, whatever K and K'). Variances are floored at
    ``min_std**2``: with few models a side can be nearly constant, and a zero variance would make any
    other value infinitely unlikely.

    Args:
        unlearned: (K, N) logit-scaled confidences of K unlearned models on the N forget examples.
        retrained: (K', N) the same for K' retrained models (K, K' >= 3: two left after leaving one out).
        min_std: the floor of each fitted standard deviation.
        n_boot, confidence, seed: the percentile bootstrap over forget examples (0: none).

    Raises:
        ValueError: shapes that disagree, fewer than 3 models a side, non-finite scores, bad settings.
    """
    u, r = _check_scores(unlearned, retrained, "ulira")
    if u.shape[0] < 3 or r.shape[0] < 3:
        raise ValueError(f"ulira needs at least 3 models a side (one left out, two to fit), got {u.shape[0]} and {r.shape[0]}")
    if min_std <= 0 or n_boot < 0 or not 0.0 < confidence < 1.0:
        raise ValueError(f"min_std must be > 0, n_boot >= 0 and confidence in (0, 1), got {min_std}, {n_boot}, {confidence}")
    floor = min_std**2

    def fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), np.maximum(x.var(axis=0, ddof=1), floor)

    def hits(targets: np.ndarray, same: np.ndarray, other: np.ndarray, target_is_unlearned: bool) -> np.ndarray:
        rows = []
        m_other, v_other = fit(other)
        for i in range(len(targets)):
            m_same, v_same = fit(np.delete(same, i, axis=0))
            ll_same = _gaussian_loglik(targets[i], m_same, v_same)
            ll_other = _gaussian_loglik(targets[i], m_other, v_other)
            # "unlearned" when the unlearned side's likelihood wins
            says_unlearned = ll_same > ll_other if target_is_unlearned else ll_other > ll_same
            rows.append(says_unlearned == target_is_unlearned)
        return np.asarray(rows, dtype=np.float64)  # (models, N)

    per_example = 0.5 * (hits(u, u, r, True).mean(axis=0) + hits(r, r, u, False).mean(axis=0))
    acc = float(per_example.mean())
    if n_boot == 0:
        return ULiraResult(acc, per_example, k=(u.shape[0], r.shape[0]))
    rng = np.random.default_rng(seed)
    n = len(per_example)
    draws = np.array([per_example[rng.integers(0, n, n)].mean() for _ in range(n_boot)])
    lo, hi = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return ULiraResult(acc, per_example, (float(lo), float(hi)), (u.shape[0], r.shape[0]))
