"""Atomic results, the same seed giving the same metrics, and the README table machinery."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from unlearn_lib.data import make_forget_split
from unlearn_lib.experiments import model_factory
from unlearn_lib.report import END, START, classifier_summary, markdown_table, update_readme
from unlearn_lib.results import COLUMNS, ResultsRecorder, load_metrics, load_runs
from unlearn_lib.studies.classifiers import ClassifierExperiment
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
    assert not (tmp_path / "out").exists()
    rec.add(scenario="s", method="m", seed=0, split="forget", metric="accuracy", value=0.5)
    rec.add(scenario="s", method="m", seed=0, split="forget", metric="error", value=0.4, step=3, phase="max", epoch=1)
    with pytest.raises(ValueError, match=r"unknown result column\(s\) \['lr'\]"):
        rec.add(scenario="s", method="m", seed=0, split="forget", metric="error", value=0.4, lr=0.1)
    rec.add_time("s/m", 1.5)
    run_dir = rec.write(tmp_path / "out", {"seed": 0}, "cpu")
    assert run_dir == tmp_path / "out" / rec.run_id
    df = load_metrics(tmp_path / "out")  # the notebook dir resolves to its latest run
    assert list(df.columns) == COLUMNS and df.value.tolist() == [0.5, 0.4]
    assert (df.run_id == rec.run_id).all() and df.step.isna().tolist() == [True, False] and df.phase.iloc[1] == "max"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["parameters"] == {"seed": 0} and run["wall_seconds"] == {"s/m": 1.5} and run["packages"]["torch"]
    assert run["run_id"] == rec.run_id and run["schema"] == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        rec.write(tmp_path / "file", {})
    with pytest.raises(ValueError, match="experiment"):
        ResultsRecorder("", "d", "m")
    with pytest.raises(ValueError, match="run_id"):
        ResultsRecorder("e", "d", "m", run_id="../x")


def test_runs_are_kept_side_by_side_and_read_together(tmp_path):
    """A second run never overwrites the first; latest.json picks what readers load by default."""
    ids = []
    for value in (0.1, 0.2):
        rec = ResultsRecorder("exp", "data", "model")
        rec.add(scenario="s", method="m", seed=0, split="forget", metric="accuracy", value=value)
        rec.write(tmp_path / "nb", {})
        ids.append(rec.run_id)
    assert ids[0] != ids[1] and all((tmp_path / "nb" / i / "metrics.csv").is_file() for i in ids)
    assert load_metrics(tmp_path / "nb").value.tolist() == [0.2]
    both = load_runs(tmp_path / "nb", which="all")
    assert sorted(both.value.tolist()) == [0.1, 0.2] and set(both.run_id) == set(ids)
    assert load_metrics(tmp_path / "nb" / ids[0]).value.tolist() == [0.1]
    other = ResultsRecorder("exp2", "data", "model")
    other.add(scenario="s", method="m", seed=1, split="forget", metric="accuracy", value=0.3)
    other.write(tmp_path / "nb2", {})
    root = load_runs(tmp_path)  # a results root: every notebook's latest run
    assert sorted(root.value.tolist()) == [0.2, 0.3]
    with pytest.raises(FileNotFoundError, match="no results"):
        load_runs(tmp_path / "missing")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.csv").write_text("experiment,scenario,value\ne,s,1\n")
    with pytest.raises(ValueError, match="schema v2"):
        load_metrics(tmp_path / "old")


def _run(tiny_images, tiny_task, seed):
    split = make_forget_split(tiny_images.labels, "class", forget_class=2, seed=seed)
    factory = model_factory("small_cnn", seed, in_channels=1, num_classes=4, width=0.25)
    model, secs = train_model(factory(), tiny_images.subset(split.trained), tiny_task, RECIPE, device="cpu", seed=seed)
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    exp = ClassifierExperiment(
        tiny_images, tiny_images.subset(split.val), split, tiny_task, model, factory, seed=seed, device="cpu", mia_folds=2, recipe=RECIPE
    )
    exp.run(["retrain", "scrub"], rec, "class", {"scrub": {"epochs": 1, "msteps": 1}}, secs)
    df = rec.frame().drop(columns=["run_id", "timestamp"])
    return df[df.metric != "seconds"].drop(columns="value"), df[~df.metric.isin(["seconds", "speed_up"])].value.to_numpy()


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
    (tmp_path / "r" / "x" / "run1").mkdir(parents=True)
    (tmp_path / "r" / "x" / "run1" / "summary.md").write_text("## x\n\n" + markdown_table(table) + "\n" + markdown_table(table.head(1)))
    (tmp_path / "r" / "x" / "run1" / "metrics.csv").write_text("")
    (tmp_path / "r" / "x" / "latest.json").write_text('{"runs": ["run1"]}')
    update_readme(readme, tmp_path / "r")
    text = readme.read_text()
    assert "### x" in text and "old" not in text and text.startswith("intro") and text.endswith("after\n")
    assert text.count("| method |") == 1 and "| finetune |" in text  # one headline: the summary's first table
    assert "(r/x/run1/summary.md)" in text
