"""Each metric against a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.metrics import Accuracy, MembershipInference, accuracy, gap_to_reference, mia_loss_lr, predict, speed_up
from unlearn_lib.tasks import ClassificationTask


def test_accuracy_functional_and_stateful():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, y) == pytest.approx(0.75)
    assert accuracy(torch.tensor([1, 1]), torch.tensor([1, 0])) == pytest.approx(0.5)
    acc = Accuracy()
    acc.update(logits[:2], y[:2])
    acc.update(logits[2:], y[2:])
    assert acc.compute() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same shape"):
        accuracy(torch.tensor([1, 2, 3]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.tensor([]), torch.tensor([]))
    with pytest.raises(ValueError, match="before any update"):
        Accuracy().compute()


def test_gap_to_reference_by_hand():
    gaps = gap_to_reference({"forget": 0.10, "retain": 0.95, "test": 0.90}, {"forget": 0.0, "retain": 1.0, "test": 0.93})
    assert gaps["forget"] == pytest.approx(0.10) and gaps["retain"] == pytest.approx(0.05) and gaps["test"] == pytest.approx(0.03)
    assert gaps["average"] == pytest.approx(0.06)
    with pytest.raises(ValueError, match="missing"):
        gap_to_reference({"forget": 0.1}, {"retain": 0.2}, ["forget"])


def test_speed_up():
    assert speed_up(100.0, 4.0) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="positive"):
        speed_up(10.0, 0.0)


def test_mia_separable_and_indistinguishable():
    rng = np.random.default_rng(0)
    # Members have tiny losses, non-members large ones: a threshold separates them perfectly.
    assert mia_loss_lr(rng.uniform(0, 0.01, 200), rng.uniform(2, 3, 200)) == pytest.approx(1.0)
    # Same distribution: the attack is a coin flip.
    same = mia_loss_lr(rng.exponential(1.0, 2000), rng.exponential(1.0, 2000))
    assert 0.45 < same < 0.55
    assert MembershipInference(n_splits=3)(rng.uniform(0, 0.01, 30), rng.uniform(2, 3, 30)) == pytest.approx(1.0)


def test_mia_balances_groups_and_validates():
    rng = np.random.default_rng(1)
    # 10 members vs 1000 non-members: balancing keeps chance at 0.5, not 0.99 for "always non-member".
    score = mia_loss_lr(rng.exponential(1.0, 10), rng.exponential(1.0, 1000), n_splits=2)
    assert score < 0.8
    with pytest.raises(ValueError, match="at least n_splits"):
        mia_loss_lr(np.ones(3), np.ones(100))
    with pytest.raises(ValueError, match="finite"):
        mia_loss_lr(np.array([1, 2, np.nan, 1, 1, 2]), np.ones(10))


def test_predict_per_example_loss_by_hand():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x

    x = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    ds = ArrayDataset(x, torch.tensor([0, 1]))
    out = predict(Fixed(), ds, ClassificationTask(2))
    np.testing.assert_allclose(out.loss, [np.log(2.0), 10.0 + np.log1p(np.exp(-10.0))], rtol=1e-5)
    np.testing.assert_array_equal(out.correct, [1.0, 0.0])  # argmax of a tie is class 0
    assert out.accuracy == pytest.approx(0.5)
