"""What success means for a mislabelled forget set: accuracy against the examples' *true* labels.

On flipped examples the recorded ``forget`` accuracy is against the wrong labels the original was
trained on (it falls as a method forgets them). The request's purpose, removing corrupted data, is
better read on the same examples against their true labels: a model retrained without them predicts
the true class for most, and an unlearning method should move the original toward that (REM, arXiv
2505.17730). :func:`record_true_label_accuracy` adds it as split ``forget_true``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..metrics import predict
from ..results import ResultsRecorder
from ..utils import resolve_device

__all__ = ["TRUE_SPLIT", "record_true_label_accuracy"]

#: The split name of the forget set scored against its true labels.
TRUE_SPLIT = "forget_true"


def record_true_label_accuracy(
    exp: Any, true_labels: np.ndarray, recorder: ResultsRecorder, scenario: str, methods: Sequence[str]
) -> dict[str, float]:
    """Record ``forget_true/accuracy`` for the original and each of ``methods`` that ``exp`` has run.

    ``exp`` is a :class:`~unlearn_lib.experiments.ClassifierExperiment` after ``run``; ``true_labels``
    holds every training example's true label (``MislabelledSplit.true_labels``).

    Raises:
        ValueError: ``true_labels`` of another length than the training set, or a method ``exp`` did not run.
    """
    true_labels = np.asarray(true_labels)
    if len(true_labels) != len(exp.train):
        raise ValueError(f"true_labels has {len(true_labels)} entries for a training set of {len(exp.train)}")
    missing = [m for m in methods if m not in exp.results]
    if missing:
        raise ValueError(f"methods {missing} have not run in this experiment (it ran {sorted(exp.results)})")
    forget = exp.train.subset(exp.split.forget, TRUE_SPLIT)
    forget = dataclasses.replace(forget, y=torch.as_tensor(true_labels[exp.split.forget], dtype=forget.y.dtype))
    device = resolve_device(exp.device)
    out = {}
    for method in ["original", *methods]:
        model = exp.original if method == "original" else exp.results[method].model
        out[method] = float(predict(model, forget, exp.task, device).accuracy)
        recorder.add(scenario=scenario, method=method, seed=exp.seed, split=TRUE_SPLIT, metric="accuracy", value=out[method])
    return out
