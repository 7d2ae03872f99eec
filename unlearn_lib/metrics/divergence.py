"""How far a model's output distribution is from the retrained model's: KL and Jensen-Shannon.

Both take logits with classes on dimension 1 ((N, C) for classification, (N, C, ...) for masks),
compare the softmax distributions position by position and average per example, then over
examples. The retrained model is the reference: KL(P_retrain || P_model) asks how surprised the
unlearned model is by what an exact unlearner would answer. JS is symmetric and bounded by ln 2,
so it stays readable when one model is confidently wrong.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["OutputDivergence", "js_divergence", "kl_divergence"]


def _log_probs(logits: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits).double()
    if t.ndim < 2 or t.shape[1] < 2:
        raise ValueError(f"{name} must be logits with classes on dimension 1 (N, C, ...), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains non-finite values")
    return F.log_softmax(t, dim=1)


def _pair(reference: np.ndarray | torch.Tensor, other: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lp, lq = _log_probs(reference, "reference"), _log_probs(other, "other")
    if lp.shape != lq.shape:
        raise ValueError(f"reference {tuple(lp.shape)} and other {tuple(lq.shape)} logits must have the same shape")
    if lp.shape[0] == 0:
        raise ValueError("divergence of an empty set is undefined")
    return lp, lq


def _reduce(per_position: torch.Tensor, reduction: str) -> float | np.ndarray:
    per_example = per_position.reshape(per_position.shape[0], -1).mean(dim=1)
    if reduction == "none":
        return per_example.numpy()
    if reduction == "mean":
        return float(per_example.mean())
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def kl_divergence(reference: np.ndarray | torch.Tensor, other: np.ndarray | torch.Tensor, reduction: str = "mean") -> float | np.ndarray:
    """KL(softmax(reference) || softmax(other)) in nats, per example (``"none"``) or averaged.

    Raises:
        ValueError: shapes differ, no class dimension, empty or non-finite input, unknown reduction.
    """
    lp, lq = _pair(reference, other)
    return _reduce((lp.exp() * (lp - lq)).sum(dim=1), reduction)


def js_divergence(first: np.ndarray | torch.Tensor, second: np.ndarray | torch.Tensor, reduction: str = "mean") -> float | np.ndarray:
    """Jensen-Shannon divergence in nats: symmetric, 0 for identical outputs, at most ln 2."""
    lp, lq = _pair(first, second)
    log_m = torch.logsumexp(torch.stack([lp, lq]), dim=0) - np.log(2.0)
    js = 0.5 * (lp.exp() * (lp - log_m)).sum(dim=1) + 0.5 * (lq.exp() * (lq - log_m)).sum(dim=1)
    return _reduce(js.clamp_min(0.0), reduction)


class OutputDivergence:
    """Class form: ``OutputDivergence("js")(retrain_logits, model_logits)``."""

    def __init__(self, kind: str = "kl", reduction: str = "mean") -> None:
        if kind not in ("kl", "js"):
            raise ValueError(f"kind must be 'kl' or 'js', got {kind!r}")
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self.kind, self.reduction = kind, reduction

    def __call__(self, reference: np.ndarray | torch.Tensor, other: np.ndarray | torch.Tensor) -> float | np.ndarray:
        fn = kl_divergence if self.kind == "kl" else js_divergence
        return fn(reference, other, self.reduction)
