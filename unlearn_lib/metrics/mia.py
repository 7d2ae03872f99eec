"""Membership inference as SCRUB measures it.

A logistic regression on the per-example loss tries to tell forget examples (trained on, then
unlearned) from test examples (never trained on). Classes are balanced by subsampling the larger
one; the score is the cross-validated accuracy. ~50% means the forget set looks like unseen data;
the ideal is the *retrained* model's value, not 0.5 and not 1.0.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

__all__ = ["MembershipInference", "mia_loss_lr"]


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
    return float(cross_val_score(LogisticRegression(), x, y, cv=folds, scoring="accuracy").mean())


class MembershipInference:
    """Class form of :func:`mia_loss_lr`, holding its settings."""

    def __init__(self, n_splits: int = 5, seed: int = 0) -> None:
        if n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {n_splits}")
        self.n_splits, self.seed = n_splits, seed

    def __call__(self, member_losses: np.ndarray, nonmember_losses: np.ndarray) -> float:
        return mia_loss_lr(member_losses, nonmember_losses, n_splits=self.n_splits, seed=self.seed)
