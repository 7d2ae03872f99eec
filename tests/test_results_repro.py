"""Atomic results, the same seed giving the same metrics, and the README table machinery."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from unlearn_lib.data import make_forget_split
from unlearn_lib.experiment import ClassifierExperiment, model_factory
from unlearn_lib.report import END, START, classifier_summary, update_readme
from unlearn_lib.results import COLUMNS, ResultsRecorder, load_metrics
from unlearn_lib.training import TrainConfig, train_model
from unlearn_lib.utils import atomic_write_text

RECIPE = TrainConfig(epochs=1, batch_size=16)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    atomic_write_text(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"], "temporary file left behind"


def test_recorder_writes_tidy_csv_and_run_json(tmp_path):
    rec = ResultsRecorder("exp", "data", "model")
    with pytest.raises(ValueError, match="no metrics"):
        rec.write(tmp_path / "out", {})
    assert not (tmp_path / "out" / "metrics.csv").exists()
    rec.add(scenario="s", method="m", seed=0, split="forget", metric="accuracy", value=0.5)
    rec.add_time("s/m", 1.5)
    rec.write(tmp_path / "out", {"seed": 0}, "cpu")
    df = load_metrics(tmp_path / "out")
    assert list(df.columns) == COLUMNS and df.value.tolist() == [0.5]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["parameters"] == {"seed": 0} and run["wall_seconds"] == {"s/m": 1.5} and run["packages"]["torch"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        rec.write(tmp_path / "file", {})
    with pytest.raises(ValueError, match="experiment"):
        ResultsRecorder("", "d", "m")


def _run(tiny_images, tiny_task, seed):
    split = make_forget_split(tiny_images.labels, "class", forget_class=2, seed=seed)
    factory = model_factory("small_cnn", seed, in_channels=1, num_classes=4, width=0.25)
    model, secs = train_model(factory(), tiny_images.subset(split.trained), tiny_task, RECIPE, device="cpu", seed=seed)
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    exp = ClassifierExperiment(
        tiny_images, tiny_images.subset(split.val), split, tiny_task, model, factory, seed=seed, device="cpu", mia_folds=2, recipe=RECIPE
    )
    exp.run(["retrain", "scrub"], rec, "class", {"scrub": {"epochs": 1, "msteps": 1}}, secs)
    df = rec.frame()
    return df[df.metric != "seconds"].drop(columns="value"), df[~df.metric.isin(["seconds", "scale_up"])].value.to_numpy()


def test_same_seed_same_metrics(tiny_images, tiny_task):
    keys_a, a = _run(tiny_images, tiny_task, 0)
    keys_b, b = _run(tiny_images, tiny_task, 0)
    assert keys_a.equals(keys_b)
    np.testing.assert_array_equal(a, b)


def test_experiment_rows_and_summary(tiny_images, tiny_task, tmp_path):
    split = make_forget_split(tiny_images.labels, "class", forget_class=2, seed=0)
    factory = model_factory("small_cnn", 0, in_channels=1, num_classes=4, width=0.25)
    model, secs = train_model(factory(), tiny_images.subset(split.trained), tiny_task, RECIPE, device="cpu")
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    exp = ClassifierExperiment(
        tiny_images, tiny_images.subset(split.val), split, tiny_task, model, factory, device="cpu", mia_folds=2, recipe=RECIPE
    )
    with pytest.raises(ValueError, match="not in the run"):
        exp.run(["retrain"], rec, "class", {"scrub": {}})
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        exp.run(["retrain", "scrub"], rec, "class", {"scrub": {"nope": 1}})
    assert rec.rows == [], "validation must fail before any method runs"
    exp.run(["retrain", "finetune"], rec, "class", {"finetune": {"epochs": 1}}, secs)
    df = rec.frame()
    retrain_gap = df[(df.method == "retrain") & (df.metric == "gap_to_retrain")].value
    assert (retrain_gap == 0).all()
    assert {"test_forget_class", "test_other_classes"} <= set(df.split)
    table = classifier_summary(df, "class")
    assert list(table.index) == ["original", "retrain", "finetune"] and "avg gap" in table.columns
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\nafter\n")
    (tmp_path / "r" / "x").mkdir(parents=True)
    (tmp_path / "r" / "x" / "summary.md").write_text("## x\n| a |\n")
    update_readme(readme, tmp_path / "r")
    text = readme.read_text()
    assert "## x" in text and "old" not in text and text.startswith("intro") and text.endswith("after\n")
