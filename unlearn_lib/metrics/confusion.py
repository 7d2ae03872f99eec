"""Remaining confusion between two classes, the inter-class confusion test's measure (SCRUB paper)."""

from __future__ import annotations

import numpy as np

__all__ = ["interclass_confusion"]


def interclass_confusion(predictions: np.ndarray, true_labels: np.ndarray, class_a: int, class_b: int) -> float:
    """Share of true-A examples predicted B plus true-B examples predicted A, over all A and B examples.

    0 means the model never swaps the pair; a model that memorised the swapped labels scores high
    on the mislabelled examples themselves, and leaks some confusion onto held-out ones.

    Raises:
        ValueError: shapes differ, ``class_a == class_b``, or no example of either class.
    """
    p, t = np.asarray(predictions).ravel(), np.asarray(true_labels).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predictions {p.shape} and true_labels {t.shape} must have the same shape")
    if class_a == class_b:
        raise ValueError(f"class_a and class_b must differ, both are {class_a}")
    in_pair = (t == class_a) | (t == class_b)
    if not in_pair.any():
        raise ValueError(f"no example of class {class_a} or {class_b}")
    swapped = ((t == class_a) & (p == class_b)) | ((t == class_b) & (p == class_a))
    return float(swapped.sum() / in_pair.sum())
