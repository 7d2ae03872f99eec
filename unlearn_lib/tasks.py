"""The task interface strategies talk to: loss, logits, predictions, random targets, divergence.

Classification logits are (N, C); segmentation logits are (N, C, D, H, W). Both keep classes on
dimension 1, so one implementation reduces "per example" over every other dimension and a strategy
such as SCRUB or NegGrad+ is written once for both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassificationTask", "SegmentationTask", "Task"]


class Task:
    """Base task: logits with classes on dim 1, integer targets of the logits' shape without dim 1."""

    name = "task"
    #: Whether unlearning keeps the original's normalisation statistics (BatchNorm running mean and
    #: variance) instead of re-estimating them from the unlearning batches (see :func:`~unlearn_lib.strategies.unlearn`).
    freeze_norm_stats: bool = False

    def __init__(self, num_classes: int) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes

    def logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Forward pass; a hook for tasks whose models return more than logits."""
        return model(x)

    @staticmethod
    def _per_example(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(values.shape[0], -1).mean(dim=1)

    def per_example_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy averaged over everything but the batch dimension: shape (N,)."""
        return self._per_example(F.cross_entropy(logits, targets, reduction="none"))

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy: the training loss of the original model and of retraining."""
        return F.cross_entropy(logits, targets)

    def predictions(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=1)

    def per_example_correct(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Fraction of correct predictions per example (0/1 for classification, voxel share for masks)."""
        return self._per_example((self.predictions(logits) == targets).float())

    def random_targets(self, targets: torch.Tensor, generator: torch.Generator | None = None, exclude_true: bool = True) -> torch.Tensor:
        """Uniform random labels of the targets' shape; with ``exclude_true`` never the true label.

        Random Label draws from the *other* classes, so the forget loss cannot be minimised by the
        original answer.
        """
        shape, device = targets.shape, targets.device
        if exclude_true:
            offset = torch.randint(1, self.num_classes, shape, generator=generator).to(device)
            return (targets + offset) % self.num_classes
        return torch.randint(0, self.num_classes, shape, generator=generator).to(device)

    def divergence(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Per-example KL(p_T(teacher) || p_T(student)) * T^2 (SCRUB's d(x)): shape (N,)."""
        t = float(temperature)
        log_p_s = F.log_softmax(student_logits / t, dim=1)
        log_p_t = F.log_softmax(teacher_logits / t, dim=1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
        return self._per_example(kl) * t * t

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softmax(logits, dim=1)


class ClassificationTask(Task):
    """Image classification: logits (N, C), targets (N,)."""

    name = "classification"


class SegmentationTask(Task):
    """Dense (voxel-wise) segmentation: logits (N, C, *spatial), targets (N, *spatial).

    Everything the base class does already works per voxel: the loss is voxel-wise cross-entropy,
    ``per_example_loss`` and ``divergence`` average over voxels, ``random_targets`` draws a random
    label per voxel (Noisy Label), so SCRUB, NegGrad+ and Finetune run unchanged.
    ``per_example_correct`` stays the voxel accuracy (what a loss-based MIA or an accuracy table
    expects); the study's headline metric, Dice, lives in :mod:`unlearn_lib.metrics.segmentation`. Background (class 0)
    dominates volumes, so voxel accuracy is high even for poor segmentations: read Dice.
    """

    name = "segmentation"
    #: Unlearning steps see one 3D patch at a time: re-estimating BatchNorm statistics from them would
    #: change every prediction (Noisy Label at a learning rate of 1e-12 lowered Dice by about 0.1 on
    #: every split through the statistics alone), a change that is neither unlearning nor keeping.
    freeze_norm_stats = True

    def __init__(self, num_classes: int, include_background: bool = False) -> None:
        super().__init__(num_classes)
        self.include_background = bool(include_background)

    def logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        if out.ndim < 3 or out.shape[1] != self.num_classes:
            raise ValueError(f"segmentation logits must be (N, {self.num_classes}, *spatial), got {tuple(out.shape)}")
        return out
