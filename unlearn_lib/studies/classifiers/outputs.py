"""Reading a classifier's per-example outputs when they are not numbers.

A learning rate tuned on one seed can make another seed's run diverge. Its outputs are then read as a
prediction of nothing, so the run is measured and labelled (``all/diverged``) instead of stopping the
study at the first metric that refuses NaN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...metrics import ModelOutputs

__all__ = ["read_diverged"]


def read_diverged(outs: Mapping[str, ModelOutputs], num_classes: int) -> tuple[dict[str, ModelOutputs], float]:
    """Outputs a model that diverged can be measured by, and the share of its outputs over every split in
    ``outs`` that were not numbers: 0.0 for a healthy model, 1.0 for one that diverged everywhere. A budget
    or tuning pick can diverge on a seed it was not tuned on. Pass the splits as evaluated, before any
    split is read out of another, so that each example counts once.

    An example whose logits are not all finite predicts nothing: it is read as the uniform distribution
    (logits 0, loss log(k)) and counted wrong, so accuracy, the MIAs and the divergences to retrain stay
    defined and the run is recorded, labelled, instead of stopping the study (the MIA refuses NaN losses).
    """
    flags = {k: ~np.isfinite(o.logits).all(axis=1) for k, o in outs.items()}
    total = sum(len(f) for f in flags.values())
    bad = sum(int(f.sum()) for f in flags.values())
    if bad == 0:
        return dict(outs), 0.0
    out = {}
    for k, o in outs.items():
        f = flags[k]
        logits = np.where(f[:, None], 0.0, o.logits).astype(o.logits.dtype)
        loss = np.where(f, np.log(num_classes), o.loss).astype(o.loss.dtype)
        out[k] = ModelOutputs(loss, np.where(f, 0, o.correct).astype(o.correct.dtype), o.targets, logits)
    return out, bad / total
