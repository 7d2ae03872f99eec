"""Classification floors: the centre-pixel rule and a pixel logistic regression, and the margin table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.floors import FLOORS, classification_floors, floor_margins, record_floors
from unlearn_lib.results import ResultsRecorder


def _patches(n: int, centre_encodes_label: bool, seed: int) -> ArrayDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.rand(n, 1, 9, 9, generator=g)
    if centre_encodes_label:
        x[:, 0, 4, 4] = y.float() / 2 + 0.05 * torch.rand(n, generator=g)
    return ArrayDataset(x, y, num_classes=3)


def _acc(floors, name: str, split: str = "test") -> float:
    return float(floors[(floors.floor == name) & (floors.split == split)].value.iloc[0])


def test_centre_pixel_solves_a_task_painted_into_the_centre_and_nothing_else():
    painted = classification_floors(_patches(300, True, 0), _patches(200, True, 1))
    assert _acc(painted, "centre_pixel") > 0.99
    noise = classification_floors(_patches(300, False, 0), _patches(600, False, 1))
    assert _acc(noise, "centre_pixel") < 0.45 and _acc(noise, "pixel_logreg") < 0.45  # chance is 1/3
    assert _acc(noise, "pixel_logreg", "train") > 0.5  # it fits noise it cannot generalise


def test_floor_margins_read_saved_rows():
    rec = ResultsRecorder("04", "toy", "cnn")
    floors = classification_floors(_patches(120, True, 0), _patches(90, True, 1))
    record_floors(rec, floors, seed=0)
    for seed, acc in ((0, 0.9), (1, 0.8)):
        rec.add(scenario="size", method="original", seed=seed, split="test", metric="accuracy", value=acc)
        rec.add(scenario="sex", method="original", seed=seed, split="test", metric="accuracy", value=acc)
    table = floor_margins(rec.frame())["accuracy"]
    assert table["original"] == pytest.approx(0.85)
    assert table["original − centre_pixel"] == pytest.approx(0.85 - _acc(floors, "centre_pixel"))
    assert set(rec.frame()[rec.frame().scenario == FLOORS].method) == {"centre_pixel", "pixel_logreg"}
    with pytest.raises(ValueError, match="no 'floors' rows"):
        floor_margins(rec.frame()[rec.frame().scenario != FLOORS])
    assert np.isfinite(table.values).all()
