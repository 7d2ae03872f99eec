"""Per-example outputs: what drill-down analysis reads, saved beside metrics.csv and read back whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.data import make_forget_split
from unlearn_lib.results import ResultsRecorder, load_examples, load_metrics, prune_runs
from unlearn_lib.studies.classifiers import ClassifierExperiment
from unlearn_lib.tasks import ClassificationTask

SMALL = {"model": "small_cnn", "model_kwargs": {"num_classes": 4, "width": 0.25}, "train_config": {"epochs": 1, "batch_size": 32}}


@pytest.fixture(scope="module")
def saved(shared_quadrant_images, tmp_path_factory):
    data = shared_quadrant_images
    split = make_forget_split(data.labels, "class", forget_class=1, seed=0, val_fraction=0.1)
    exp, _ = ClassifierExperiment.prepare(data, data, split, ClassificationTask(4), seed=0, device="cpu", mia_folds=2, **SMALL)
    exp.examples_cap = 10
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    per_method = exp.run(["retrain", "finetune"], rec, "class", {"finetune": {"epochs": 1}})
    out = tmp_path_factory.mktemp("results") / "nb"
    rec.write(out, {})
    return exp, per_method, out


def test_every_model_and_split_is_kept_with_the_same_examples(saved):
    exp, _, out = saved
    ex = load_examples(out)
    assert set(ex.method) == {"original", "retrain", "finetune"} and set(ex.split) == {"forget", "retain", "test", "val"}
    sizes = ex.groupby(["method", "split"]).size()
    assert (sizes <= 10).all() and sizes.loc[("original", "forget")] == min(10, len(exp.split.forget))
    ids = ex.groupby(["method", "split"]).id.apply(tuple).unstack("method")
    assert (ids.nunique(axis=1) == 1).all(), "every method is shown on the same examples"
    assert set(ex[ex.split == "forget"].id) <= set(exp.split.forget.tolist())  # ids index the training set
    assert (ex[ex.split == "forget"].label == 1).all()  # the forgotten class


def test_per_example_rows_agree_with_the_saved_metrics(saved):
    exp, _, out = saved
    ex = load_examples(out)
    probs = ex.filter(like="prob_").to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs.argmax(axis=1) == ex.label.to_numpy()).tolist() == ex.correct.tolist()
    np.testing.assert_allclose(ex.mia_score, -ex.loss)
    exp.examples_cap = None  # complete on request: the per-example mean is the recorded accuracy
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    exp.run(["finetune"], rec, "class", {"finetune": {"epochs": 1}})
    full = pd.concat(rec.examples)
    forget = full[(full.method == "finetune") & (full.split == "forget")]
    assert len(forget) == len(exp.split.forget)
    assert forget.correct.mean() == pytest.approx(
        rec.frame().query("method == 'finetune' and split == 'forget' and metric == 'accuracy'").value.iloc[0]
    )
    assert load_metrics(out).run_id.iloc[0] == ex.run_id.iloc[0]


def test_unknown_columns_are_refused_and_old_runs_can_be_pruned(saved, tmp_path):
    rec = ResultsRecorder("t", "tiny", "m")
    with pytest.raises(ValueError, match="unknown result column"):
        rec.add_examples(pd.DataFrame({"id": [0]}), scenario="s", method="m", seed=0, split="forget", lr=0.1)
    runs = []
    for v in (0.1, 0.2):
        r = ResultsRecorder("t", "tiny", "m")
        r.add(scenario="s", method="m", seed=0, split="forget", metric="accuracy", value=v)
        runs.append(r.write(tmp_path / "nb", {}))
    assert prune_runs(tmp_path) == [runs[0]] and not runs[0].exists() and runs[1].exists()
    with pytest.raises(FileNotFoundError, match="examples"):
        load_examples(tmp_path / "nb")
