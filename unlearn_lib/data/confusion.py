"""The inter-class confusion test (SCRUB paper, after Goel et al., 2022): a forget set of mislabels.

Part of class A is labelled B and part of B labelled A; the original model learns that confusion.
The forget set is exactly the mislabelled examples, so a good unlearner removes the confusion
between A and B (measured with :func:`~unlearn_lib.metrics.interclass_confusion`) while a retrained
model, never having seen the mislabels, shows only the natural confusion between the two classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .mislabel import RelabelledSplit
from .splits import make_forget_split, validation_partition

__all__ = ["ConfusionSplit", "make_confusion_split"]


@dataclass(frozen=True)
class ConfusionSplit(RelabelledSplit):
    """Training labels with the swap applied, the split (forget = the swapped examples), and the pair;
    :meth:`apply` gives the training set the original learns the confusion from."""

    class_a: int
    class_b: int


def make_confusion_split(
    labels: Sequence[int] | np.ndarray,
    class_a: int,
    class_b: int,
    *,
    n_per_class: int,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> ConfusionSplit:
    """Mislabel ``n_per_class`` training examples of A as B and as many of B as A; forget exactly them.

    The validation part is carved out first (stratified on the true labels) and keeps its true labels,
    so it holds clean held-out examples of both classes.

    Raises:
        ValueError: classes equal or absent, ``n_per_class`` < 1 or more than either class can give,
            ``val_fraction`` outside [0, 1).
    """
    true = np.asarray(labels).astype(np.int64)
    if true.ndim != 1:
        raise ValueError("labels must be one label per training sample")
    classes = set(np.unique(true).tolist())
    for name, c in (("class_a", class_a), ("class_b", class_b)):
        if not isinstance(c, (int, np.integer)) or isinstance(c, bool) or int(c) not in classes:
            raise ValueError(f"{name} must be one of the classes {sorted(classes)}, got {c!r}")
    if class_a == class_b:
        raise ValueError(f"class_a and class_b must differ, both are {class_a}")
    if not isinstance(n_per_class, (int, np.integer)) or isinstance(n_per_class, bool) or n_per_class < 1:
        raise ValueError(f"n_per_class must be an int >= 1, got {n_per_class!r}")
    _, pool = validation_partition(true, seed=seed, val_fraction=val_fraction)
    rng = np.random.default_rng(seed + 1)
    chosen = []
    for c in (class_a, class_b):
        candidates = pool[true[pool] == c]
        if n_per_class > len(candidates):
            raise ValueError(f"n_per_class={n_per_class} but class {c} has only {len(candidates)} training samples outside validation")
        chosen.append(np.sort(rng.choice(candidates, size=n_per_class, replace=False)))
    noisy = true.copy()
    noisy[chosen[0]], noisy[chosen[1]] = class_b, class_a
    # The split itself is an index split of the true labels: the same validation part as every other kind.
    split = make_forget_split(true, "index", forget=np.concatenate(chosen), seed=seed, val_fraction=val_fraction)
    desc = f"{n_per_class} samples of class {class_a} labelled {class_b} and {n_per_class} of {class_b} labelled {class_a}"
    return ConfusionSplit(noisy, true, dataclasses.replace(split, kind="confusion", description=desc), int(class_a), int(class_b))
