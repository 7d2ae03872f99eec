"""Trivial baselines a sceptic would try first: the floors a trained model must clear before any claim.

For segmentation:

* :class:`IntensityThresholds`: a per-voxel rule that sees one voxel's brightness and nothing else,
  ``background < t1 <= CSF < t2 <= GM < t3 <= WM`` (the T1 tissue order), with the three thresholds
  picked on the training subjects to maximise their mean foreground Dice (an exhaustive search over
  intensity bins). If the simulation painted labels into intensity, this rule would be near perfect.
* :class:`LabelAtlas`: the voxel-wise majority label of the training subjects' label maps, ignoring the
  image. If subjects were one brain, this would be near perfect.

Both follow the scikit-learn ``fit`` / ``predict`` shape and are scored with the study's Dice
(:func:`~unlearn_lib.metrics.segmentation.dice_per_class`), so their rows sit beside the model's.

For image classification (:func:`classification_floors`): the **centre pixel** alone (a depth-4 tree
on its value: the best few brightness thresholds) and a **logistic regression on the raw pixels**. A
CNN that does not clear them by a wide margin has not learnt what makes the task a task.

Floors are recorded as rows of scenario :data:`FLOORS` (method = the floor's name), so every table
and figure reads them from ``metrics.csv`` like any other result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import torch

from .data.datasets import ArrayDataset
from .metrics.segmentation import dice_per_class

__all__ = ["FLOORS", "IntensityThresholds", "LabelAtlas", "classification_floors", "floor_margins", "record_floors", "segmentation_floors"]

#: Scenario of the floors' rows in ``metrics.csv`` (method = the floor's name).
FLOORS = "floors"


def _volumes(dataset: ArrayDataset) -> tuple[np.ndarray, np.ndarray]:
    if dataset.x.ndim != 5 or dataset.x.shape[1] < 1 or dataset.y.ndim != 4:
        raise ValueError(
            f"expected volumes x (N, C, D, H, W) and labels (N, D, H, W), got {tuple(dataset.x.shape)} and {tuple(dataset.y.shape)}"
        )
    if len(dataset) == 0:
        raise ValueError(f"dataset {dataset.name!r} is empty")
    return dataset.x[:, 0].numpy(), dataset.y.numpy()


@dataclass
class IntensityThresholds:
    """Three intensity thresholds in tissue order, fitted to maximise mean foreground Dice (4 labels:
    background, CSF, GM, WM). ``bins`` is the resolution of the search over [0, 1] intensities."""

    bins: int = 64
    thresholds: np.ndarray | None = field(default=None, init=False)

    def fit(self, dataset: ArrayDataset) -> IntensityThresholds:
        x, y = _volumes(dataset)
        if int(y.max()) > 3 or int(y.min()) < 0:
            raise ValueError("IntensityThresholds expects labels 0..3 (background, CSF, GM, WM)")
        edges = np.linspace(float(x.min()), float(x.max()) + 1e-6, self.bins + 1)
        b = np.clip(np.digitize(x.ravel(), edges) - 1, 0, self.bins - 1)
        hist = np.zeros((self.bins, 4))
        np.add.at(hist, (b, y.ravel()), 1)
        cum = np.vstack([np.zeros(4), np.cumsum(hist, axis=0)])  # cum[i] = counts in bins < i
        truth = hist.sum(0)
        combos = np.array(list(combinations(range(1, self.bins), 3)))  # every t1 < t2 < t3, vectorised
        bounds = np.column_stack([combos, np.full(len(combos), self.bins)])
        dice = np.zeros(len(combos))
        for k in (1, 2, 3):
            lo, hi = bounds[:, k - 1], bounds[:, k]
            inter = cum[hi, k] - cum[lo, k]
            pred = (cum[hi] - cum[lo]).sum(1)
            dice += 2 * inter / np.maximum(pred + truth[k], 1.0)
        best_t = combos[int(dice.argmax())]
        self.thresholds = edges[list(best_t)]
        return self

    def predict(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Labels (N, D, H, W) for volumes (N, 1, D, H, W)."""
        if self.thresholds is None:
            raise ValueError("IntensityThresholds.fit() must run before predict()")
        arr = np.asarray(x)[:, 0]
        return torch.from_numpy(np.digitize(arr, self.thresholds).astype(np.int64))


@dataclass
class LabelAtlas:
    """The voxel-wise majority label of the training label maps (ties to the lower label)."""

    atlas: np.ndarray | None = field(default=None, init=False)

    def fit(self, dataset: ArrayDataset) -> LabelAtlas:
        _, y = _volumes(dataset)
        k = int(y.max()) + 1
        counts = np.stack([(y == c).sum(0) for c in range(k)])
        self.atlas = counts.argmax(0).astype(np.int64)
        return self

    def predict(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        if self.atlas is None:
            raise ValueError("LabelAtlas.fit() must run before predict()")
        n, shape = len(x), tuple(np.asarray(x).shape[2:])
        if shape != self.atlas.shape:
            raise ValueError(f"volumes of shape {shape} do not match the atlas grid {self.atlas.shape}")
        return torch.from_numpy(np.broadcast_to(self.atlas, (n, *shape)).copy())


def segmentation_floors(
    train: ArrayDataset, splits: dict[str, ArrayDataset], label_names: Sequence[str] | None = None, num_classes: int = 4
) -> pd.DataFrame:
    """Mean and per-tissue Dice of both floors on each split (fitted on ``train``): tidy rows with
    columns ``floor, split, metric, value``."""
    names = list(label_names or range(num_classes))
    rows = []
    for name, rule in (("intensity rule", IntensityThresholds()), ("label atlas", LabelAtlas())):
        rule.fit(train)
        for split, data in splits.items():
            if len(data) == 0:
                continue
            d = dice_per_class(rule.predict(data.x), data.y, num_classes).numpy()
            per_class = np.nanmean(d, axis=0)
            rows.append({"floor": name, "split": split, "metric": "dice", "value": float(np.nanmean(per_class))})
            rows += [
                {"floor": name, "split": split, "metric": f"dice_{names[k]}", "value": float(v)} for k, v in enumerate(per_class, start=1)
            ]
    return pd.DataFrame(rows)


def classification_floors(train: ArrayDataset, test: ArrayDataset, seed: int = 0) -> pd.DataFrame:
    """Test accuracy of the centre-pixel rule and of a logistic regression on raw pixels, both fitted on
    ``train``: tidy rows ``floor, split, metric, value``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if train.x.ndim < 3 or len(train) == 0 or len(test) == 0:
        raise ValueError(
            f"classification_floors needs non-empty image datasets (N, C, ...), got {tuple(train.x.shape)} and {tuple(test.x.shape)}"
        )
    xtr, xte = train.x.reshape(len(train), -1).numpy(), test.x.reshape(len(test), -1).numpy()
    ytr, yte = train.labels, test.labels
    centre = tuple(s // 2 for s in train.x.shape[2:])
    pixel = lambda x: x[(slice(None), slice(None), *centre)].reshape(len(x), -1).numpy()  # noqa: E731
    rules = {
        "centre_pixel": (DecisionTreeClassifier(max_depth=4, random_state=seed), pixel(train.x), pixel(test.x)),
        "pixel_logreg": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)), xtr, xte),
    }
    rows = []
    for name, (rule, a, b) in rules.items():
        rule.fit(a, ytr)
        rows.append({"floor": name, "split": "test", "metric": "accuracy", "value": float((rule.predict(b) == yte).mean())})
        rows.append({"floor": name, "split": "train", "metric": "accuracy", "value": float((rule.predict(a) == ytr).mean())})
    return pd.DataFrame(rows)


def record_floors(recorder: Any, floors: pd.DataFrame, seed: int, **extra: Any) -> None:
    """The floors' numbers (tidy ``floor, split, metric, value`` rows) as rows of scenario :data:`FLOORS`."""
    for name, rows in floors.groupby("floor", sort=False):
        values = {(r.split, r.metric): float(r.value) for r in rows.itertuples()}
        recorder.add_many(scenario=FLOORS, method=str(name).replace(" ", "_"), seed=seed, values=values, **extra)


def floor_margins(df: pd.DataFrame, split: str = "test", metric: str = "accuracy", model: str = "original") -> pd.DataFrame:
    """``metric`` on ``split`` of every recorded floor and of ``model`` (mean over its seeds), and the
    model's margin over each floor, from saved rows only."""
    floors = df[(df.scenario == FLOORS) & (df.split == split) & (df.metric == metric)]
    if floors.empty:
        raise ValueError(f"no {FLOORS!r} rows of {metric!r} on {split!r} in these results")
    mine = df[(df.scenario != FLOORS) & (df.method == model) & (df.split == split) & (df.metric == metric)]
    if mine.empty:
        raise ValueError(f"no {model!r} rows of {metric!r} on {split!r} in these results")
    value = float(mine.groupby("seed").value.mean().mean())
    rows = {f: float(g.value.mean()) for f, g in floors.groupby("method", sort=False)}
    out = {**rows, model: value, **{f"{model} − {f}": value - v for f, v in rows.items()}}
    return pd.DataFrame({metric: out}).rename_axis(f"{split} set")
