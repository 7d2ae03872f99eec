"""ClassifierExperiment's study helpers: prepare, new metrics, forget quality, curves, confusion."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from unlearn_lib.data import make_confusion_split, make_forget_split
from unlearn_lib.results import ResultsRecorder, load_metrics
from unlearn_lib.studies.classifiers import ClassifierExperiment, curve_frame
from unlearn_lib.tasks import ClassificationTask

SMALL = {"model": "small_cnn", "model_kwargs": {"num_classes": 4, "width": 0.25}, "train_config": {"epochs": 1, "batch_size": 32}}
FAST = {"scrub": {"preset": "small", "epochs": 2, "msteps": 1}}


@pytest.fixture(scope="module")
def experiment(shared_quadrant_images):
    """The conftest's quadrant images, module-scoped so the original is trained once for all tests."""
    data = shared_quadrant_images
    split = make_forget_split(data.labels, "class", forget_class=1, seed=0, val_fraction=0.1)
    return ClassifierExperiment.prepare(data, data, split, ClassificationTask(4), seed=0, device="cpu", mia_folds=2, **SMALL)


def test_no_experiment_overrides_the_shared_run_loop():
    """#31: every study runs ``Experiment.run`` itself; a specialisation adds work through its hooks
    (``begin_run``, ``end_run``, ``original_cost``, ``row_columns``), so one loop records every study's rows."""
    import importlib

    from unlearn_lib.experiments.base import Experiment

    for module in (
        "unlearn_lib.studies.gan.experiment",
        "unlearn_lib.studies.segmentation.experiment",
    ):  # the subclasses exist once imported
        importlib.import_module(module)

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    found = subclasses(Experiment)
    assert {"ClassifierExperiment", "SegmentationExperiment", "GANExperiment"} <= {c.__name__ for c in found}
    assert [c.__qualname__ for c in found if "run" in vars(c)] == []


def test_every_trained_from_scratch_model_goes_through_one_path():
    """#31: a model trained from scratch through the cache (every study's original, the GAN's evaluator)
    comes from ``experiments.base.train_or_load``; only the references that run a strategy
    (``cached_retrain``) and the GAN, whose adversarial recipe is not a ``Recipe``, call the cache's
    ``load_or_train`` themselves. A fifth copy of "train or load the original" fails here."""
    import ast
    from pathlib import Path

    import unlearn_lib

    root = Path(unlearn_lib.__file__).parent
    allowed = {
        ("experiments/base.py", "train_or_load"),
        ("experiments/base.py", "cached_retrain"),
        ("studies/gan/training.py", "load_or_train_gan"),
    }
    found = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load_or_train":
                        found.add((path.relative_to(root).as_posix(), fn.name))
    assert found == allowed, found ^ allowed


def test_prepare_trains_once_and_reuses(experiment):
    exp, seconds = experiment
    assert seconds is not None and seconds > 0
    again, s2 = ClassifierExperiment.prepare(exp.train, exp.test, exp.split, exp.task, original=exp.original, device="cpu", **SMALL)
    assert s2 is None and again.original is exp.original
    assert again.recipe == exp.recipe and exp.recipe.epochs == 1 and exp.recipe.batch_size == 32


def test_retrain_uses_the_originals_recipe(experiment):
    """The reference model is trained with the recipe that trained the original, not a default one."""
    exp, _ = experiment
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    exp.run(["retrain"], rec, "recipe")
    assert exp.results["retrain"].config == exp.recipe.to_dict()
    bare = ClassifierExperiment(exp.train, exp.test, exp.split, exp.task, exp.original, exp.factory, device="cpu")
    with pytest.raises(ValueError, match="repeat the original model's training recipe"):
        bare.run(["finetune", "retrain"], rec, "no-recipe")


def test_run_records_new_metrics(experiment, tmp_path):
    exp, _ = experiment
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    res = exp.run(["retrain", "scrub"], rec, "class", hparams=FAST)
    for key in [("forget", "mia_efficacy"), ("forget", "kl_to_retrain"), ("test", "js_to_retrain")]:
        assert key in res["scrub"], key
    assert res["retrain"][("forget", "kl_to_retrain")] == pytest.approx(0.0, abs=1e-9)
    assert 0 <= res["scrub"][("test", "js_to_retrain")] <= np.log(2)
    assert 0.0 <= res["original"][("forget", "mia_efficacy")] <= 1.0
    rec.write(tmp_path, {})
    df = load_metrics(tmp_path)
    assert set(df.metric) >= {"mia_efficacy", "kl_to_retrain", "js_to_retrain", "gap_to_retrain", "mia", "mia_ci_low", "mia_ci_high"}
    for values in res.values():  # the loss MIA's bootstrap 95% interval, recorded next to it
        assert 0.0 <= values[("forget", "mia_ci_low")] <= values[("forget", "mia")] <= values[("forget", "mia_ci_high")] <= 1.0


def test_mia_interval_can_be_turned_off(experiment):
    exp, _ = experiment
    bare = ClassifierExperiment(exp.train, exp.test, exp.split, exp.task, exp.original, exp.factory, device="cpu", mia_boot=0)
    values = bare.evaluate(exp.original)
    assert ("forget", "mia") in values and ("forget", "mia_ci_low") not in values and ("forget", "mia_ci_high") not in values


def test_record_curves_round_trip(experiment, tmp_path):
    exp, _ = experiment
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    frame = exp.record_curves("scrub", rec, "class", FAST["scrub"])
    phases = frame.drop_duplicates("step").phase.tolist()
    assert phases == ["start", "max", "min", "min"]  # epoch 0: max then min; epoch 1: min only
    rec.write(tmp_path, {})
    back = curve_frame(load_metrics(tmp_path))
    assert len(back) == len(frame) and set(back.split) == {"forget", "retain", "test"}
    assert back.sort_values(["step", "split"]).error.to_numpy() == pytest.approx(frame.sort_values(["step", "split"]).error.to_numpy())
    with pytest.raises(ValueError, match="curve"):
        curve_frame(load_metrics(tmp_path).query("metric == 'nothing'"))


def test_a_diverged_model_reads_as_all_wrong_in_the_curves(experiment):
    """The curves read a model with NaN outputs as predicting nothing, as every other metric does; the
    argmax of NaN logits is class 0, which used to count the class-0 examples as right."""
    exp, _ = experiment
    broken = exp.factory()
    broken.load_state_dict(exp.original.state_dict())
    with torch.no_grad():
        next(broken.parameters()).fill_(float("nan"))
    nan_exp = ClassifierExperiment.prepare(exp.train, exp.test, exp.split, exp.task, original=broken, device="cpu", **SMALL)[0]
    frame = nan_exp.record_curves("finetune", ResultsRecorder("t", "tiny", "small_cnn"), "class", {"epochs": 1, "lr": 1e-9})
    assert (exp.test.labels == 0).any()  # there are class-0 examples that argmax would have called right
    assert frame.query("phase == 'start'").error.tolist() == [1.0, 1.0, 1.0]


def test_forget_quality_runs_k_models(experiment):
    exp, _ = experiment
    rec = ResultsRecorder("t", "tiny", "small_cnn")
    out = exp.forget_quality(["scrub"], rec, "class", k=2, hparams=FAST, n_boot=50)
    assert set(out) == {"scrub"}
    for r in out.values():
        assert r.epsilons.shape == (len(exp.split.forget),) and 0 < r.score <= 1 and r.k == (2, 2)
    got = rec.frame().set_index("metric").value
    for name in ("epsilon", "score"):
        low, value, high = (got[f"forget_quality_{name}{end}"] for end in ("_ci_low", "", "_ci_high"))
        assert low <= value <= high
    assert got["forget_quality_epsilon"] == pytest.approx(out["scrub"].epsilon)
    assert inspect.signature(exp.forget_quality).parameters["k"].default == 8
    with pytest.raises(ValueError, match="k must"):
        exp.forget_quality(["scrub"], rec, "class", k=1)


def test_confusion_pair_metric(experiment, tiny_images, tiny_task):
    cs = make_confusion_split(tiny_images.labels, 0, 2, n_per_class=6, seed=0, val_fraction=0.1)
    train = tiny_images.with_meta(true_label=cs.true_labels)
    train.y = torch.as_tensor(cs.labels)
    exp, _ = ClassifierExperiment.prepare(
        train, tiny_images, cs.split, tiny_task, device="cpu", mia_folds=2, confusion_pair=(0, 2), **SMALL
    )
    vals = exp.evaluate(exp.original)
    assert 0.0 <= vals[("forget", "interclass_confusion")] <= 1.0 and ("test", "interclass_confusion") in vals
    with pytest.raises(ValueError, match="true_label"):
        ClassifierExperiment.prepare(tiny_images, tiny_images, cs.split, tiny_task, original=exp.original, confusion_pair=(0, 2), **SMALL)
