"""Comparisons with the retrained model (the gold standard) and with retraining's cost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["gap_to_reference", "speed_up"]


def gap_to_reference(values: Mapping[str, float], reference: Mapping[str, float], splits: Iterable[str] | None = None) -> dict[str, float]:
    """Absolute difference to the retrained model per split, plus their mean under ``"average"``.

    Both mappings are split -> metric (e.g. accuracy in [0, 1]). The average gap is the field's
    summary of "how close to exact unlearning" (Kurmanji et al.; Fan et al.).

    Raises:
        ValueError: a requested split missing from either mapping, or no split at all.
    """
    names = list(splits) if splits is not None else [s for s in values if s in reference]
    if not names:
        raise ValueError("gap_to_reference needs at least one split present in both values and reference")
    gaps = {}
    for s in names:
        if s not in values or s not in reference:
            raise ValueError(f"split {s!r} missing from {'values' if s not in values else 'reference'}")
        gaps[s] = abs(float(values[s]) - float(reference[s]))
    gaps["average"] = float(np.mean([gaps[s] for s in names]))
    return gaps


def speed_up(retrain_seconds: float, method_seconds: float) -> float:
    """How many times faster than retraining: retrain time / method time."""
    if retrain_seconds <= 0 or method_seconds <= 0:
        raise ValueError(f"times must be positive, got retrain={retrain_seconds}, method={method_seconds}")
    return float(retrain_seconds) / float(method_seconds)
