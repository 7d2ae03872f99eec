"""Membership inference as SCRUB measures it.

A logistic regression on the per-example loss tries to tell forget examples (trained on, then
unlearned) from test examples (never trained on). Classes are balanced by subsampling the larger
one; the score is the cross-validated accuracy. ~50% means the forget set looks like unseen data;
the ideal is the *retrained* model's value, not 0.5 and not 1.0.

:func:`mia_loss_lr_ci` adds a seeded percentile bootstrap confidence interval: the attack's
held-out (out-of-fold) verdicts are resampled over examples, within each fold, the fitted attacks
staying fixed, so the interval reflects how many examples the score rests on.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

__all__ = ["MembershipInference", "mia_loss_lr", "mia_loss_lr_ci"]


def _fold_verdicts(member_losses: np.ndarray, nonmember_losses: np.ndarray, n_splits: int, seed: int) -> list[np.ndarray]:
    """Per cross-validation fold, whether the attack fitted on the other folds got each held-out example right."""
    m = np.asarray(member_losses, dtype=np.float64).ravel()
    n = np.asarray(nonmember_losses, dtype=np.float64).ravel()
    k = min(len(m), len(n))
    if k < n_splits:
        raise ValueError(f"MIA needs at least n_splits={n_splits} examples per group, got {len(m)} members and {len(n)} non-members")
    if not (np.isfinite(m).all() and np.isfinite(n).all()):
        raise ValueError("MIA losses must be finite")
    rng = np.random.default_rng(seed)
    m, n = rng.choice(m, k, replace=False), rng.choice(n, k, replace=False)
    x = np.log1p(np.concatenate([m, n]))[:, None]  # monotone: the same threshold attack, better conditioned
    y = np.concatenate([np.ones(k), np.zeros(k)])
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    verdicts = []
    for fit_idx, held_idx in folds.split(x, y):
        attack = clone(LogisticRegression()).fit(x[fit_idx], y[fit_idx])
        verdicts.append(attack.predict(x[held_idx]) == y[held_idx])
    return verdicts


def mia_loss_lr(member_losses: np.ndarray, nonmember_losses: np.ndarray, *, n_splits: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a loss-threshold logistic regression (members vs non-members).

    Args:
        member_losses: per-example losses of the forget set.
        nonmember_losses: per-example losses of held-out (test) examples.
        n_splits: cross-validation folds; each class needs at least this many examples.
        seed: subsampling and fold shuffling.

    Raises:
        ValueError: too few examples for ``n_splits`` folds, or non-finite losses.
    """
    return float(np.mean([v.mean() for v in _fold_verdicts(member_losses, nonmember_losses, n_splits, seed)]))


def mia_loss_lr_ci(
    member_losses: np.ndarray,
    nonmember_losses: np.ndarray,
    *,
    n_splits: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """:func:`mia_loss_lr` and a percentile bootstrap confidence interval: ``(score, low, high)``.

    The score is exactly :func:`mia_loss_lr`'s (same subsample, folds and attacks). The interval
    resamples, ``n_boot`` times and with replacement, the held-out examples of every fold (the
    attacks fitted once, as for the score) and takes the mean fold accuracy of each resample; its
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles are the bounds. Seeded by
    ``seed``: the same inputs and seed give the same interval.

    Raises:
        ValueError: as :func:`mia_loss_lr`, or ``n_boot < 1`` or ``confidence`` outside (0, 1).
    """
    if n_boot < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"n_boot must be >= 1 and confidence in (0, 1), got {n_boot} and {confidence}")
    verdicts = _fold_verdicts(member_losses, nonmember_losses, n_splits, seed)
    score = float(np.mean([v.mean() for v in verdicts]))
    rng = np.random.default_rng([seed, 0x4D4941])  # its own stream: the score's subsample is untouched
    draws = np.zeros(n_boot)
    for v in verdicts:
        draws += v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1)
    draws /= len(verdicts)
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return score, float(low), float(high)


class MembershipInference:
    """Class form of :func:`mia_loss_lr`, holding its settings."""

    def __init__(self, n_splits: int = 5, seed: int = 0) -> None:
        if n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {n_splits}")
        self.n_splits, self.seed = n_splits, seed

    def __call__(self, member_losses: np.ndarray, nonmember_losses: np.ndarray) -> float:
        return mia_loss_lr(member_losses, nonmember_losses, n_splits=self.n_splits, seed=self.seed)
