"""Segmentation metrics: Dice per class and mean over foreground classes (MONAI), and MAE.

Definitions used throughout the segmentation study:

* **Dice** of class ``k`` for one subject: ``2 |P_k ∩ T_k| / (|P_k| + |T_k|)`` with ``P_k`` the voxels
  predicted ``k`` (arg-max of the logits) and ``T_k`` the true ones, computed by
  :func:`monai.metrics.compute_dice` on one-hot maps. A class absent from the truth gives NaN
  (``ignore_empty=True``, MONAI's default) and is left out of the mean.
* **Mean Dice** of a subject: the mean of its per-class Dice over the *foreground* classes (background
  excluded), i.e. CSF, GM, WM for the simulated cohort. Split-level numbers average subjects.
* **MAE** (``kind="probability"``, the default): the mean absolute error between the softmax
  probabilities and the one-hot truth, averaged over voxels *and* classes:
  ``mean_{v, k} |softmax(z)_{v,k} - 1[y_v = k]|``. It is 0 for a confident correct model, about
  ``2 / C`` for a confident wrong one, and sees confidence that Dice ignores. ``kind="label"`` is the
  mean absolute difference of the predicted and true label *values* (label maps read as images),
  which some segmentation papers report; it depends on the label numbering, so it is not the default.
  The source paper does not define its MAE **[reconstructed]**; both are kept as a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..loops import batches
from ..tasks import Task

__all__ = [
    "DiceScore",
    "SegmentationOutputs",
    "dice_per_class",
    "evaluate_segmentation",
    "mean_dice",
    "predict_segmentation",
    "segmentation_mae",
]

MAE_KINDS = ("probability", "label")


def _labels_and_onehot(prediction: torch.Tensor, target: torch.Tensor, num_classes: int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Accept logits (N, C, ...) or label maps (N, ...) as ``prediction``; return one-hot pred and truth."""
    if target.dtype.is_floating_point:
        raise ValueError(f"target must be an integer label map, got dtype {target.dtype}")
    if prediction.ndim == target.ndim + 1:
        c = prediction.shape[1]
        if num_classes is not None and num_classes != c:
            raise ValueError(f"num_classes={num_classes} but the logits have {c} classes on dim 1")
        num_classes = c
        prediction = prediction.argmax(dim=1)
    elif prediction.ndim != target.ndim:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} must be logits (N, C, ...) or labels shaped like target {tuple(target.shape)}"
        )
    if prediction.shape != target.shape:
        raise ValueError(f"prediction labels {tuple(prediction.shape)} and target {tuple(target.shape)} must have the same shape")
    if target.ndim < 2:
        raise ValueError(f"target must be (N, ...) with at least one spatial dim, got {tuple(target.shape)}")
    if num_classes is None:
        raise ValueError("num_classes is required when prediction is a label map")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    hi = int(max(prediction.max(), target.max())) if target.numel() else 0
    lo = int(min(prediction.min(), target.min())) if target.numel() else 0
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], found values in [{lo}, {hi}]")
    to_1h = lambda t: F.one_hot(t.long(), num_classes).movedim(-1, 1).float()  # noqa: E731
    return to_1h(prediction), to_1h(target), num_classes


def dice_per_class(
    prediction: torch.Tensor,
    target: torch.Tensor,
    num_classes: int | None = None,
    include_background: bool = False,
    ignore_empty: bool = True,
) -> torch.Tensor:
    """Dice of every class for every example (MONAI ``compute_dice``).

    Args:
        prediction: logits (N, C, *spatial) or predicted labels (N, *spatial).
        target: true labels (N, *spatial).
        num_classes: required with label maps; checked against C with logits.
        include_background: keep class 0 as the first column.
        ignore_empty: NaN where a class is absent from the truth (MONAI's convention).

    Returns:
        (N, C) or (N, C - 1) float tensor.
    """
    pred_1h, true_1h, _ = _labels_and_onehot(prediction, target, num_classes)
    from monai.metrics import compute_dice

    return compute_dice(pred_1h, true_1h, include_background=include_background, ignore_empty=ignore_empty)


def mean_dice(
    prediction: torch.Tensor, target: torch.Tensor, num_classes: int | None = None, include_background: bool = False
) -> torch.Tensor:
    """Per-example mean Dice over the (foreground) classes present in the truth: shape (N,)."""
    return torch.nanmean(dice_per_class(prediction, target, num_classes, include_background), dim=1)


def segmentation_mae(logits: torch.Tensor, target: torch.Tensor, kind: Literal["probability", "label"] = "probability") -> torch.Tensor:
    """Per-example MAE, shape (N,); see the module docstring for both definitions.

    Args:
        logits: (N, C, *spatial) raw scores.
        target: (N, *spatial) integer labels in [0, C).
        kind: ``"probability"`` (softmax vs one-hot, averaged over voxels and classes) or ``"label"``
            (|predicted label - true label| averaged over voxels).
    """
    if kind not in MAE_KINDS:
        raise ValueError(f"kind must be one of {MAE_KINDS}, got {kind!r}")
    if logits.ndim != target.ndim + 1:
        raise ValueError(f"logits must be (N, C, ...) with target (N, ...), got {tuple(logits.shape)} and {tuple(target.shape)}")
    if kind == "label":
        diff = (logits.argmax(dim=1) - target).abs().float()
    else:
        _, onehot, _ = _labels_and_onehot(logits, target, logits.shape[1])
        diff = (F.softmax(logits.float(), dim=1) - onehot).abs()
    return diff.reshape(diff.shape[0], -1).mean(dim=1)


class DiceScore:
    """Stateful Dice over batches (MONAI ``DiceMetric`` inside): ``update`` then ``compute``.

    ``compute`` returns ``(mean over foreground classes, per-class means)``, averaging subjects.
    """

    def __init__(self, num_classes: int, include_background: bool = False) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        from monai.metrics import DiceMetric

        self.num_classes = num_classes
        self._metric = DiceMetric(include_background=include_background, reduction="none", ignore_empty=True)

    def reset(self) -> None:
        self._metric.reset()

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        pred_1h, true_1h, _ = _labels_and_onehot(prediction, target, self.num_classes)
        self._metric(pred_1h, true_1h)

    def compute(self) -> tuple[float, np.ndarray]:
        try:
            values = self._metric.aggregate()
        except (RuntimeError, ValueError) as err:
            raise ValueError("DiceScore.compute() called before any update") from err
        per_class = torch.nanmean(values, dim=0).cpu().numpy()
        return float(torch.nanmean(torch.nanmean(values, dim=1))), per_class


@dataclass
class SegmentationOutputs:
    """Per-subject metrics of a model on one dataset: mean Dice, Dice per class, MAE, loss, accuracy."""

    dice: np.ndarray
    dice_per_class: np.ndarray
    mae: np.ndarray
    loss: np.ndarray
    voxel_accuracy: np.ndarray

    def summary(self) -> dict[str, float]:
        """Split-level means (subjects averaged; NaN classes skipped)."""
        out = {
            "dice": float(np.nanmean(self.dice)),
            "mae": float(self.mae.mean()),
            "loss": float(self.loss.mean()),
            "voxel_accuracy": float(self.voxel_accuracy.mean()),
        }
        return out


@torch.no_grad()
def predict_segmentation(
    model: nn.Module,
    dataset: Dataset,
    task: Task,
    device: torch.device | str = "cpu",
    batch_size: int = 2,
    mae_kind: Literal["probability", "label"] = "probability",
    roi_size: int | None = None,
) -> SegmentationOutputs:
    """Run ``model`` in eval mode over ``dataset`` and keep per-subject metrics.

    ``roi_size``: predict with MONAI's ``sliding_window_inference`` over windows of that edge (25 %
    overlap, Gaussian blending), as for a model trained on patches of that size; None: whole volumes.
    """
    if len(dataset) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    if mae_kind not in MAE_KINDS:
        raise ValueError(f"mae_kind must be one of {MAE_KINDS}, got {mae_kind!r}")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("dice", "per_class", "mae", "loss", "acc")}
    for x, y in batches(dataset, batch_size, shuffle=False):
        x, y = x.to(device), y.to(device)
        if roi_size is None:
            logits = task.logits(model, x).float()
        else:
            from monai.inferers import sliding_window_inference

            logits = sliding_window_inference(
                x, (roi_size,) * (x.ndim - 2), 4, lambda t: task.logits(model, t), overlap=0.25, mode="gaussian"
            )
            logits = torch.as_tensor(logits).as_subclass(torch.Tensor).float()
        per_class = dice_per_class(logits, y)
        parts["per_class"].append(per_class.cpu())
        parts["dice"].append(torch.nanmean(per_class, dim=1).cpu())
        parts["mae"].append(segmentation_mae(logits, y, mae_kind).cpu())
        parts["loss"].append(task.per_example_loss(logits, y).cpu())
        parts["acc"].append(task.per_example_correct(logits, y).cpu())
    model.train(was_training)
    cat = {k: torch.cat(v).numpy() for k, v in parts.items()}
    return SegmentationOutputs(cat["dice"], cat["per_class"], cat["mae"], cat["loss"], cat["acc"])


def evaluate_segmentation(
    model: nn.Module,
    splits: Mapping[str, Dataset],
    task: Task,
    device: torch.device | str = "cpu",
    batch_size: int = 2,
    mae_kind: Literal["probability", "label"] = "probability",
    roi_size: int | None = None,
) -> dict[str, SegmentationOutputs]:
    """:func:`predict_segmentation` on every non-empty named split (retain, forget, heldout, ...)."""
    return {name: predict_segmentation(model, ds, task, device, batch_size, mae_kind, roi_size) for name, ds in splits.items() if len(ds)}
