"""Dice (MONAI), MAE and the segmentation task, against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unlearn_lib.metrics import DiceScore, dice_per_class, mean_dice, predict_segmentation, segmentation_mae
from unlearn_lib.tasks import SegmentationTask


def _logits_from_labels(labels: torch.Tensor, num_classes: int, scale: float = 10.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).movedim(-1, 1).float() * scale


def test_dice_hand_computed():
    # One 1x2x4 "volume". truth: CSF at 2 voxels, GM at 3, WM at 1; prediction shifts one of each.
    truth = torch.tensor([[[0, 1, 1, 2], [2, 2, 3, 0]]])
    pred = torch.tensor([[[0, 1, 2, 2], [2, 3, 3, 0]]])
    d = dice_per_class(pred, truth, num_classes=4)
    # CSF: |P|=1 |T|=2 overlap 1 -> 2/3. GM: |P|=3 |T|=3 overlap 2 -> 4/6. WM: |P|=2 |T|=1 overlap 1 -> 2/3.
    assert d.shape == (1, 3)
    np.testing.assert_allclose(d[0].numpy(), [2 / 3, 4 / 6, 2 / 3], rtol=1e-6)
    assert float(mean_dice(pred, truth, 4)[0]) == pytest.approx(2 / 3)
    with_bg = dice_per_class(pred, truth, num_classes=4, include_background=True)
    assert with_bg.shape == (1, 4) and float(with_bg[0, 0]) == pytest.approx(1.0)
    # Logits give the same answer as their arg-max.
    np.testing.assert_allclose(dice_per_class(_logits_from_labels(pred, 4), truth).numpy(), d.numpy())


def test_dice_absent_class_is_left_out_of_the_mean():
    truth = torch.tensor([[[1, 1, 2, 2]]])  # no WM
    pred = torch.tensor([[[1, 1, 2, 3]]])
    d = dice_per_class(pred, truth, 4)
    assert math.isnan(float(d[0, 2]))
    assert float(mean_dice(pred, truth, 4)[0]) == pytest.approx((1.0 + 2 / 3) / 2)


def test_dice_score_class_matches_functional():
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (3, 4, 4, 4), generator=g)
    pred = torch.randint(0, 4, (3, 4, 4, 4), generator=g)
    metric = DiceScore(4)
    metric.update(pred[:2], truth[:2])
    metric.update(pred[2:], truth[2:])
    mean, per_class = metric.compute()
    d = dice_per_class(pred, truth, 4)
    assert mean == pytest.approx(float(d.mean(dim=1).mean()), abs=1e-6)
    np.testing.assert_allclose(per_class, d.mean(dim=0).numpy(), atol=1e-6)
    metric.reset()
    with pytest.raises(ValueError, match="before any update"):
        metric.compute()


def test_mae_definitions():
    truth = torch.tensor([[0, 1, 2, 3]])
    # Uniform probabilities over 4 classes: |1/4 - 1| for the true class, |1/4 - 0| for 3 others
    # -> per voxel (3/4 + 3/4) / 4 = 3/8.
    uniform = torch.zeros(1, 4, 4)
    assert float(segmentation_mae(uniform, truth)[0]) == pytest.approx(3 / 8)
    # Confidently right: ~0. Confidently wrong: 2/C = 0.5.
    assert float(segmentation_mae(_logits_from_labels(truth, 4, 50.0), truth)[0]) == pytest.approx(0.0, abs=1e-6)
    wrong = (truth + 1) % 4
    assert float(segmentation_mae(_logits_from_labels(wrong, 4, 50.0), truth)[0]) == pytest.approx(0.5, abs=1e-6)
    # Label MAE: |(1,2,3,0) - (0,1,2,3)| = (1+1+1+3)/4.
    assert float(segmentation_mae(_logits_from_labels(wrong, 4), truth, kind="label")[0]) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dice_per_class(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.long), 4), "same shape"),
        (lambda: dice_per_class(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long)), "num_classes"),
        (lambda: dice_per_class(torch.full((1, 2, 2), 5), torch.zeros(1, 2, 2, dtype=torch.long), 4), r"\[0, 3\]"),
        (lambda: dice_per_class(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), 4), "num_classes=4"),
        (lambda: dice_per_class(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), 4), "integer"),
        (lambda: segmentation_mae(torch.zeros(1, 4, 2), torch.zeros(1, 2, dtype=torch.long), kind="l1"), "kind"),
        (lambda: DiceScore(1), "num_classes"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_segmentation_task_reduces_over_voxels():
    task = SegmentationTask(4)
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 4, (2, 3, 3, 3), generator=g)
    logits = torch.randn(2, 4, 3, 3, 3, generator=g)
    per = task.per_example_loss(logits, y)
    assert per.shape == (2,)
    assert float(per.mean()) == pytest.approx(float(task.loss(logits, y)), rel=1e-5)
    assert task.per_example_correct(_logits_from_labels(y, 4), y).tolist() == [1.0, 1.0]
    assert mean_dice(_logits_from_labels(y, 4), y, 4).tolist() == pytest.approx([1.0, 1.0])
    noisy = task.random_targets(y, torch.Generator().manual_seed(0))
    assert noisy.shape == y.shape and bool((noisy != y).all())
    assert task.divergence(logits, logits).abs().max() < 1e-6
    with pytest.raises(ValueError, match="segmentation logits"):
        task.logits(torch.nn.Identity(), torch.zeros(2, 3, 4, 4, 4))


def test_predict_segmentation_on_a_perfect_model():
    from unlearn_lib.data import ArrayDataset

    y = torch.randint(0, 4, (3, 4, 4, 4), generator=torch.Generator().manual_seed(2))
    ds = ArrayDataset(_logits_from_labels(y, 4, 30.0), y, num_classes=4)
    out = predict_segmentation(torch.nn.Identity(), ds, SegmentationTask(4))
    s = out.summary()
    assert s["dice"] == pytest.approx(1.0) and s["voxel_accuracy"] == pytest.approx(1.0) and s["mae"] < 1e-6
    assert out.dice_per_class.shape == (3, 3)
