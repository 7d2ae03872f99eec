"""The classifier unlearning experiment, as library code so notebooks stay thin.

``ClassifierExperiment`` holds the data, the forget split and the original model; ``run`` applies
each strategy, evaluates it on every split and records tidy rows (accuracy, error, loss, MIA, time),
then the derived comparisons with the retrained model (gap per split, average gap, scale-up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .data.datasets import ArrayDataset
from .data.splits import ForgetSplit
from .metrics import evaluate_splits, gap_to_reference, mia_loss_lr, scale_up
from .models import build_model
from .results import ResultsRecorder
from .strategies import get_strategy, make_config, unlearn
from .tasks import Task
from .utils import progress, resolve_device

__all__ = ["GAP_SPLITS", "ClassifierExperiment", "model_factory"]

#: Splits whose accuracy gap to the retrained model is averaged into "average gap".
GAP_SPLITS = ("forget", "retain", "test")


def model_factory(name: str, seed: int, **kwargs: Any) -> Callable[[], nn.Module]:
    """A zero-argument builder whose weights depend only on ``seed`` (retrain, EU-k use it)."""
    build_model(name, **kwargs)  # validate name and arguments now, before any work

    def make() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return build_model(name, **kwargs)

    return make


@dataclass
class ClassifierExperiment:
    """One forget split of one training set, with the original model trained on retain + forget."""

    train: ArrayDataset
    test: ArrayDataset
    split: ForgetSplit
    task: Task
    original: nn.Module
    factory: Callable[[], nn.Module]
    seed: int = 0
    device: str = "auto"
    mia_folds: int = 5
    results: dict[str, Any] = field(default_factory=dict)

    def datasets(self) -> dict[str, ArrayDataset]:
        """forget / retain / val / test, plus the test set split by the forgotten class if any."""
        ds = {
            "forget": self.train.subset(self.split.forget, "forget"),
            "retain": self.train.subset(self.split.retain, "retain"),
            "val": self.train.subset(self.split.val, "val"),
            "test": self.test,
        }
        if self.split.forget_class is not None:
            labels = self.test.labels
            ds["test_forget_class"] = self.test.subset(np.flatnonzero(labels == self.split.forget_class))
            ds["test_other_classes"] = self.test.subset(np.flatnonzero(labels != self.split.forget_class))
        return ds

    def _mia_reference(self, ds: Mapping[str, ArrayDataset]) -> str:
        # Non-members "like the forget set": held-out examples of the forgotten class when there is one.
        return "test_forget_class" if "test_forget_class" in ds else "test"

    def evaluate(self, model: nn.Module) -> dict[tuple[str, str], float]:
        """Accuracy, error and mean loss per split, and the loss-based MIA on forget vs held-out."""
        ds = self.datasets()
        outs = evaluate_splits(model, ds, self.task, resolve_device(self.device))
        values: dict[tuple[str, str], float] = {}
        for split, o in outs.items():
            values[(split, "accuracy")] = o.accuracy
            values[(split, "error")] = 1.0 - o.accuracy
            values[(split, "loss")] = float(o.loss.mean())
        values[("forget", "mia")] = mia_loss_lr(
            outs["forget"].loss, outs[self._mia_reference(ds)].loss, n_splits=self.mia_folds, seed=self.seed
        )
        return values

    def run(
        self,
        methods: Sequence[str],
        recorder: ResultsRecorder,
        scenario: str,
        hparams: Mapping[str, Mapping[str, Any]] | None = None,
        original_seconds: float | None = None,
    ) -> dict[str, dict[tuple[str, str], float]]:
        """Unlearn with every method, record metrics, then gaps and scale-up against ``retrain``."""
        hparams = dict(hparams or {})
        unknown = sorted(set(hparams) - set(methods))
        if unknown:
            raise ValueError(f"hparams given for methods not in the run: {unknown}")
        for m in methods:  # validate every name and config before the first method runs
            get_strategy(m)
            make_config(m, hparams.get(m))
        ds = self.datasets()
        per_method: dict[str, dict[tuple[str, str], float]] = {"original": self.evaluate(self.original)}
        seconds: dict[str, float] = {}
        if original_seconds is not None:
            seconds["original"] = original_seconds
        for method in progress(methods, desc=f"{scenario}: methods", leave=True):
            res = unlearn(
                method,
                self.original,
                retain=ds["retain"],
                forget=ds["forget"],
                val=ds["val"],
                task=self.task,
                config=hparams.get(method),
                model_factory=self.factory,
                device=self.device,
                seed=self.seed,
            )
            per_method[method] = self.evaluate(res.model)
            seconds[method] = res.seconds
            self.results[method] = res
        for method, values in per_method.items():
            if method in seconds:
                values[("all", "seconds")] = seconds[method]
                recorder.add_time(f"{scenario}/{method}/seed{self.seed}", seconds[method])
        if "retrain" in per_method:
            ref = {s: per_method["retrain"][(s, "accuracy")] for s in GAP_SPLITS}
            for method, values in per_method.items():
                acc = {s: values[(s, "accuracy")] for s in GAP_SPLITS}
                for s, g in gap_to_reference(acc, ref, GAP_SPLITS).items():
                    values[(s, "gap_to_retrain")] = g
                values[("forget", "mia_gap_to_retrain")] = abs(values[("forget", "mia")] - per_method["retrain"][("forget", "mia")])
                if method in seconds and method != "original":
                    values[("all", "scale_up")] = scale_up(seconds["retrain"], seconds[method])
        for method, values in per_method.items():
            recorder.add_many(scenario=scenario, method=method, seed=self.seed, values=values)
        return per_method
