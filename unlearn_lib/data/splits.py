"""Seeded, disjoint forget / retain / validation splits of a training set.

A split is index arrays into the *training* set; the test set stays separate. The validation part is
carved out first (stratified), so it always holds examples "like the forget set" that the model never
saw - which SCRUB+R and the membership-inference attacks need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FORGET_KINDS", "ForgetSplit", "make_forget_split", "stratified_partition"]

FORGET_KINDS = ("class", "selective", "random", "attribute")


@dataclass(frozen=True)
class ForgetSplit:
    """Disjoint index arrays into the training set, plus what the forget set is."""

    retain: np.ndarray
    forget: np.ndarray
    val: np.ndarray
    kind: str
    description: str
    forget_class: int | None = None

    def __post_init__(self) -> None:
        if len(self.forget) == 0:
            raise ValueError(f"the forget set is empty ({self.description}); choose a non-empty forget set")
        parts = {"retain": self.retain, "forget": self.forget, "val": self.val}
        for a, b in (("retain", "forget"), ("retain", "val"), ("forget", "val")):
            both = np.intersect1d(parts[a], parts[b])
            if both.size:
                raise ValueError(f"{a} and {b} overlap in {both.size} indices (e.g. {both[:5].tolist()})")
        for name, idx in parts.items():
            if np.unique(idx).size != idx.size:
                raise ValueError(f"{name} indices contain duplicates")

    @property
    def trained(self) -> np.ndarray:
        """Indices the original model trains on: retain and forget (validation stays held out)."""
        return np.union1d(self.retain, self.forget)

    def sizes(self) -> dict[str, int]:
        return {"retain": len(self.retain), "forget": len(self.forget), "val": len(self.val)}


def stratified_partition(labels: np.ndarray, n_first: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (first, rest) with ``n_first`` samples spread evenly over the classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError("stratified_partition needs one label per sample")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    # Largest-remainder allocation: every class gets its share, rounding spread fairly.
    quota = counts / counts.sum() * n_first
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take))[: n_first - take.sum()]:
        take[i] += 1
    first = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(labels == c)
        first.append(rng.permutation(idx)[:k])
    first_idx = np.sort(np.concatenate(first))
    rest_idx = np.setdiff1d(np.arange(len(labels)), first_idx)
    return first_idx, rest_idx


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def make_forget_split(
    labels: Sequence[int] | np.ndarray,
    kind: str,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    forget_class: int | None = None,
    n_forget: int | None = None,
    fraction: float | None = None,
    attribute: np.ndarray | Sequence | None = None,
    value: object = None,
) -> ForgetSplit:
    """Build a forget split of a training set.

    Args:
        labels: class label of every training sample (used to stratify validation and to pick
            classes).
        kind: ``"class"`` (every sample of ``forget_class``), ``"selective"`` (``n_forget`` samples of
            ``forget_class``), ``"random"`` (a ``fraction`` of all samples) or ``"attribute"`` (every
            sample whose ``attribute`` equals ``value``: a subject, a sex, ...).
        seed: makes the split reproducible.
        val_fraction: share of the training set held out, stratified, before the forget set is drawn.

    Raises:
        ValueError: unknown ``kind``, a missing or ill-typed parameter, or an empty forget set.
    """
    labels = np.asarray(labels)
    if kind not in FORGET_KINDS:
        raise ValueError(f"kind must be one of {FORGET_KINDS}, got {kind!r}")
    if not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be a float in [0, 1), got {val_fraction!r}")
    n = len(labels)
    classes = np.unique(labels)
    if kind in ("class", "selective"):
        if forget_class is None or int(forget_class) not in set(classes.tolist()):
            raise ValueError(f"forget_class must be one of the classes {classes.tolist()}, got {forget_class!r}")
        forget_class = int(forget_class)
    if kind == "selective":
        n_forget = _check_int("n_forget", n_forget, 1)
    if kind == "random":
        if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ValueError(f"fraction must be a float in (0, 1), got {fraction!r}")
    if kind == "attribute":
        if attribute is None or len(attribute) != n:
            raise ValueError("attribute must give one value per training sample for kind='attribute'")

    val, pool = stratified_partition(labels, round(val_fraction * n), seed)
    rng = np.random.default_rng(seed + 1)
    if kind == "class":
        forget = pool[labels[pool] == forget_class]
        desc = f"all training samples of class {forget_class}"
    elif kind == "selective":
        candidates = pool[labels[pool] == forget_class]
        if n_forget > len(candidates):
            raise ValueError(f"n_forget={n_forget} but class {forget_class} has only {len(candidates)} training samples")
        forget = np.sort(rng.choice(candidates, size=n_forget, replace=False))
        desc = f"{n_forget} samples of class {forget_class}"
    elif kind == "random":
        k = max(1, round(fraction * len(pool)))
        forget = np.sort(rng.choice(pool, size=k, replace=False))
        desc = f"random {fraction:.0%} of the training samples"
    else:
        attr = np.asarray(attribute)
        forget = pool[attr[pool] == value]
        desc = f"all training samples with attribute == {value!r}"
    retain = np.setdiff1d(pool, forget)
    return ForgetSplit(retain, forget, val, kind, desc, forget_class if kind in ("class", "selective") else None)
