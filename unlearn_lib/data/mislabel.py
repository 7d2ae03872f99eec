"""Mislabelled forget sets: the "remove corrupted data" request, with a signal by construction.

A stated fraction of the training labels is flipped to another class, uniformly at random, *before*
the original is trained. The original fits the wrong labels (it has to memorise them: nothing else in
the data supports them); a model retrained without them predicts the true class. The forget set is
exactly the flipped examples, so the original leads retraining on the forget set by about the
fraction of flips it memorised, which is the signal an unlearning method must remove.

Success is measured on two sets (REM, arXiv 2505.17730; Zhao et al. 2024): test accuracy, and the
flipped examples' accuracy against their *true* labels, should both move toward retraining's.
Unlike :mod:`.confusion`, which swaps two chosen classes, the flips here spread over every class, so
no class pair is singled out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .splits import ForgetSplit, make_forget_split, validation_partition

if TYPE_CHECKING:
    from .datasets import ArrayDataset

__all__ = ["MislabelledSplit", "RelabelledSplit", "make_mislabelled_split"]


@dataclass(frozen=True)
class RelabelledSplit:
    """Training labels with some changed, the true labels, and the split whose forget set is the changed examples."""

    labels: np.ndarray
    true_labels: np.ndarray
    split: ForgetSplit

    def apply(self, train: ArrayDataset) -> ArrayDataset:
        """``train`` with the changed labels as targets, and metadata ``true_label`` and ``mislabelled``.

        The validation part keeps its true labels (it is never changed), so validation-tuned methods
        are scored on clean examples.

        Raises:
            ValueError: ``train`` is not the training set the split was made for (another length).
        """
        import torch

        if len(train) != len(self.labels):
            raise ValueError(f"train has {len(train)} samples but the relabelled split was made for {len(self.labels)}")
        changed = np.zeros(len(self.labels), dtype=bool)
        changed[self.split.forget] = True
        out = train.with_meta(true_label=self.true_labels.copy(), mislabelled=changed)
        return dataclasses.replace(out, y=torch.as_tensor(self.labels, dtype=train.y.dtype), name=f"{train.name}-relabelled")


@dataclass(frozen=True)
class MislabelledSplit(RelabelledSplit):
    """Labels flipped at random to other classes; ``fraction`` of the training pool."""

    fraction: float


def make_mislabelled_split(
    labels: Sequence[int] | np.ndarray,
    fraction: float,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> MislabelledSplit:
    """Flip ``fraction`` of the training labels outside the seed's validation part; forget exactly them.

    Each flipped label becomes one of the *other* classes, uniformly at random (seeded). The
    validation part is the one :func:`~unlearn_lib.data.make_forget_split` carves out for ``seed``, so
    the mislabelled scenario shares it with every other kind of the same seed.

    Raises:
        ValueError: ``fraction`` outside (0, 0.5] (a majority of wrong labels is not "a few corrupted
            examples"), fewer than two classes, or labels outside ``range(num_classes)``.
    """
    true = np.asarray(labels)
    if true.ndim != 1 or true.dtype.kind not in "iu":
        raise ValueError(f"labels must be one integer class label per training sample, got an array of shape {true.shape} ({true.dtype})")
    true = true.astype(np.int64)
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be a float in (0, 0.5], the share of training labels flipped, got {fraction!r}")
    k = int(num_classes) if num_classes is not None else int(true.max()) + 1
    if k < 2:
        raise ValueError(f"mislabelling needs at least two classes, got num_classes={k}")
    if true.min() < 0 or true.max() >= k:
        raise ValueError(f"labels must lie in [0, {k - 1}] (num_classes={k}), got [{true.min()}, {true.max()}]")
    _, pool = validation_partition(true, seed=seed, val_fraction=val_fraction)
    rng = np.random.default_rng([seed, 7])
    n_flip = max(1, round(fraction * len(pool)))
    chosen = np.sort(rng.choice(pool, size=n_flip, replace=False))
    noisy = true.copy()
    # An offset in 1..k-1 (mod k) is a uniformly random *other* class.
    noisy[chosen] = (true[chosen] + rng.integers(1, k, size=n_flip)) % k
    split = make_forget_split(true, "index", forget=chosen, seed=seed, val_fraction=val_fraction)
    desc = f"{n_flip} training samples ({fraction:.0%} of the pool) with a flipped label"
    return MislabelledSplit(noisy, true, dataclasses.replace(split, kind="mislabelled", description=desc), float(fraction))
