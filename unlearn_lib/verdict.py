"""The project's one verdict rule for claims, over seeds.

A claim compares two things measured on the same seeds (a method and retrain, the original and retrain,
two methods). The paired differences over seeds give a mean and a Student-t confidence interval:

- *holds*: the 95 % CI excludes zero in the claimed direction;
- *not reproduced*: it excludes zero the other way;
- *inconclusive*: otherwise, and always with fewer than two seeds (one seed is never a result).

A "no difference" claim is judged by two one-sided tests (TOST) at a stated margin: *holds* when the
90 % CI lies inside ``(-margin, margin)`` (equivalence at the 5 % level), *not reproduced* when the 95 % CI
excludes zero and equivalence fails, *inconclusive* otherwise.

:func:`paired_difference` is the one helper; :func:`judge` and :func:`judge_equivalence` read it, and
:class:`Verdict` carries the numbers a table prints beside the word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "PairedDifference",
    "Verdict",
    "all_of",
    "judge",
    "judge_equivalence",
    "paired_difference",
]

HOLDS = "holds"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
DIRECTIONS = ("greater", "less")


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over seeds with its two-sided Student-t interval (infinite below two seeds)."""

    mean: float
    lo: float
    hi: float
    n: int
    confidence: float

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:+.3f} (1 seed: no interval)" if self.n else "no seeds"
        return f"{self.mean:+.3f} [{self.lo:+.3f}, {self.hi:+.3f}] ({self.n} seeds)"


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict and the numbers behind it."""

    label: str
    difference: PairedDifference
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def _values(x: Sequence[float] | np.ndarray | float, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one value per seed (a 1-D sequence), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers, got {arr.tolist()}")
    return arr


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | float = 0.0,
    confidence: float = 0.95,
) -> PairedDifference:
    """Mean and CI of ``a - b`` over seeds (``b`` per seed, or one reference value for all).

    Raises:
        ValueError: ``a`` and ``b`` of different lengths, non-finite values, or ``confidence`` outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    a_arr, b_arr = _values(a, "a"), _values(b, "b")
    if b_arr.size == 1 and a_arr.size != 1:
        b_arr = np.full_like(a_arr, b_arr[0])
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must pair seed for seed, got {a_arr.size} and {b_arr.size} values")
    d = a_arr - b_arr
    n = int(d.size)
    if n == 0:
        return PairedDifference(math.nan, -math.inf, math.inf, 0, confidence)
    mean = float(d.mean())
    if n < 2:
        return PairedDifference(mean, -math.inf, math.inf, n, confidence)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return PairedDifference(mean, mean - half, mean + half, n, confidence)


def judge(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | float = 0.0,
    direction: str = "greater",
    confidence: float = 0.95,
) -> Verdict:
    """The verdict on the claim "``a`` is ``direction`` than ``b``", paired over seeds."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    diff = paired_difference(a, b, confidence)
    sign = 1.0 if direction == "greater" else -1.0
    if diff.n < 2:
        return Verdict(INCONCLUSIVE, diff, f"{diff}: fewer than 2 seeds is never a result")
    lo, hi = sorted((sign * diff.lo, sign * diff.hi))
    if lo > 0:
        return Verdict(HOLDS, diff, f"{diff}: the {confidence:.0%} CI excludes 0 in the claimed direction")
    if hi < 0:
        return Verdict(NOT_REPRODUCED, diff, f"{diff}: the {confidence:.0%} CI excludes 0 against the claim")
    return Verdict(INCONCLUSIVE, diff, f"{diff}: the {confidence:.0%} CI includes 0")


def judge_equivalence(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | float = 0.0,
    margin: float = 0.05,
    alpha: float = 0.05,
) -> Verdict:
    """The verdict on "``a`` and ``b`` do not differ by more than ``margin``" (TOST at level ``alpha``)."""
    if not (isinstance(margin, (int, float)) and margin > 0):
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    tost = paired_difference(a, b, 1 - 2 * alpha)
    test = paired_difference(a, b, 1 - alpha)
    if tost.n < 2:
        return Verdict(INCONCLUSIVE, test, f"{test}: fewer than 2 seeds is never a result")
    if -margin < tost.lo and tost.hi < margin:
        return Verdict(HOLDS, test, f"{test}: equivalent within ±{margin:g} (TOST, {1 - 2 * alpha:.0%} CI inside the margin)")
    if test.lo > 0 or test.hi < 0:
        return Verdict(NOT_REPRODUCED, test, f"{test}: the {1 - alpha:.0%} CI excludes 0 and equivalence within ±{margin:g} fails")
    return Verdict(INCONCLUSIVE, test, f"{test}: neither equivalent within ±{margin:g} nor different")


def all_of(verdicts: Iterable[Verdict]) -> str:
    """A claim made of parts that must all hold: *holds* when every part holds, *not reproduced* when any
    part is not reproduced, else *inconclusive*."""
    labels = [v.label for v in verdicts]
    if not labels:
        raise ValueError("all_of needs at least one verdict")
    if all(label == HOLDS for label in labels):
        return HOLDS
    return NOT_REPRODUCED if NOT_REPRODUCED in labels else INCONCLUSIVE
