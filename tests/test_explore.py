"""The explorer (unlearn_lib.explore): pure tables on toy frames, and the widgets driven from Python over
copies of the committed results (never the results themselves: views only read, but copies let a test
remove a study, a metric or a file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unlearn_lib.batch import REPO_ROOT, find_notebooks, study_notebooks
from unlearn_lib.explore import compute as C
from unlearn_lib.explore import explorer
from unlearn_lib.explore.views import AttackView, ContrastView, GANView, ScreenView, SegmentationView

RESULTS = REPO_ROOT / "results"
pytestmark = pytest.mark.skipif(not (RESULTS / "01_quickstart" / "latest.json").is_file(), reason="needs the committed results")


def _copy(tmp_path: Path, *studies: str) -> Path:
    out = tmp_path / "results"
    for s in studies:
        shutil.copytree(RESULTS / s, out / s)
    return out


def _copy_latest(dest: Path, study: str) -> Path:
    """A results dir holding only the runs ``latest.json`` lists: the committed dir may also keep earlier runs."""
    src = RESULTS / study
    (dest / study).mkdir(parents=True)
    shutil.copy2(src / "latest.json", dest / study / "latest.json")
    for run in json.loads((src / "latest.json").read_text())["runs"]:
        shutil.copytree(src / run, dest / study / run)
    return dest


def _toy(values: dict[tuple[str, int], float], metric: str = "accuracy") -> pd.DataFrame:
    rows = [{"scenario": "class", "method": m, "seed": s, "split": "forget", "metric": metric, "value": v} for (m, s), v in values.items()]
    return pd.DataFrame(rows)


# -- pure functions ---------------------------------------------------------------------------------------------


def test_method_table_sorts_by_distance_to_retrain_with_a_t_interval():
    df = _toy({("retrain", 0): 0.0, ("retrain", 1): 0.0, ("a", 0): 0.9, ("a", 1): 1.0, ("b", 0): 0.1, ("b", 1): 0.3})
    t = C.method_table(df, "class", "accuracy", "forget")
    assert list(t.method) == ["retrain", "b", "a"]
    b = t.set_index("method").loc["b"]
    assert b["mean"] == pytest.approx(0.2) and b["delta"] == pytest.approx(0.2)
    assert b["ci95"] == pytest.approx(12.706 * np.std([0.1, 0.3], ddof=1) / np.sqrt(2), rel=1e-3)
    assert C.method_table(df, "class", "accuracy", "forget", seeds=[0]).set_index("method").loc["b", "mean"] == pytest.approx(0.1)
    with pytest.raises(C.Missing, match="no 'loss' on split 'forget'"):
        C.method_table(df, "class", "loss", "forget")


def test_attack_at_a_threshold_and_its_worst_case():
    forget, unseen = np.array([-0.1, -0.2, -3.0]), np.array([-1.0, -2.0, -4.0, -0.05])
    p = C.attack_at(forget, unseen, -0.5)
    assert (p.tpr, p.fpr) == (pytest.approx(2 / 3), pytest.approx(1 / 4))
    assert p.accuracy == pytest.approx(0.5 * (2 / 3 + 3 / 4))
    curve = C.attack_curve(forget, unseen)
    assert curve.accuracy.max() >= p.accuracy and curve.accuracy.min() >= 0.0
    assert C.attack_at(forget, unseen, np.inf).accuracy == pytest.approx(0.5)  # flag nobody: a coin


def test_run_diff_lists_what_changed_largest_first():
    a = _toy({("x", 0): 0.5, ("y", 0): 0.5})
    b = _toy({("x", 0): 0.6, ("y", 0): 0.1})
    d = C.run_diff(a, b)
    assert list(d.method) == ["y", "x"] and d["b − a"].iloc[0] == pytest.approx(-0.4)
    with pytest.raises(C.Missing, match="share no"):
        C.run_diff(a, _toy({("z", 0): 1.0}, metric="loss"))


def test_prediction_matrix_counts_argmax_against_truth():
    ex = pd.DataFrame(
        {"scenario": "class", "split": "forget", "method": "m", "label": [0, 0, 1], "prob_0": [0.9, 0.2, 0.1], "prob_1": [0.1, 0.8, 0.9]}
    )
    m = C.prediction_matrix(ex, "class", "m")
    assert m.loc[0, 0] == 1 and m.loc[0, 1] == 1 and m.loc[1, 1] == 1
    only_one = C.prediction_matrix(ex[ex.label == 1], "class", "m")
    assert list(only_one.columns) == [0, 1] and only_one.loc[1, 0] == 0  # every class keeps its column


# -- widgets driven from Python -----------------------------------------------------------------------------------


def test_study_kind_reads_what_the_arrays_hold_not_which_files_are_missing(tmp_path):
    """A classifier run keeps features in arrays.npz; without its examples.parquet it is still no GAN."""
    for name, arrays in {
        "clf": {"features/retrain": np.zeros((2, 3))},
        "gan": {"samples/class/seed0/original": np.zeros((2, 28, 28))},
    }.items():
        run = tmp_path / name / "r0"
        run.mkdir(parents=True)
        (run / "metrics.csv").write_text("")
        (tmp_path / name / "latest.json").write_text('{"runs": ["r0"]}')
        np.savez(run / "arrays.npz", **arrays)
    assert C.study_kind(tmp_path / "clf") == "classifier"
    assert C.study_kind(tmp_path / "gan") == "gan"
    np.savez(tmp_path / "seg.npz")  # and slices.npz still marks a segmentation run
    (tmp_path / "clf" / "r0" / "slices.npz").write_bytes((tmp_path / "seg.npz").read_bytes())
    assert C.study_kind(tmp_path / "clf") == "segmentation"


def test_screen_table_and_scatter_follow_the_dropdowns():
    v = ScreenView(C.discover_studies(RESULTS))
    assert v.study.value == "01_quickstart" and v.scenario.value == "class" and v.metric.value == "accuracy"
    before, png = v.frame.copy(), v.images[0].value
    assert "retrain" in set(before.method) and png
    v.metric.value = "loss"
    assert not v.frame["mean"].equals(before["mean"]) and v.images[0].value != png
    v.study.value = "02_scrub_and_baselines"
    seeds = C.load_study(RESULTS / "02_scrub_and_baselines").seed.nunique()  # as many as the committed run has
    assert len(v.frame) == 15 and v.frame.seeds.max() == seeds >= 3  # every method, over every seed
    v.seeds.value = (0,)
    assert v.frame.seeds.max() == 1
    assert v.diff_frame is not None and "b − a" in v.diff_frame


def test_two_runs_from_another_results_dir_show_their_differences(tmp_path):
    here = _copy_latest(tmp_path / "here", "01_quickstart")
    other = _copy_latest(tmp_path / "other", "01_quickstart")
    run = next(p for p in (other / "01_quickstart").iterdir() if p.is_dir())
    df = pd.read_csv(run / "metrics.csv")
    df.loc[(df.method == "scrub") & (df.metric == "accuracy"), "value"] += 0.25
    df.to_csv(run / "metrics.csv", index=False)
    v = ScreenView(C.discover_studies(here))
    assert v.run_a.value == v.run_b.value  # one run kept here: nothing to compare yet
    assert v.diff_frame["b − a"].abs().max() == 0
    v.other.value = str(other)
    choice = next(value for label, value in v.run_b.options if label.startswith("other: "))
    v.run_b.value = choice
    top = v.diff_frame.iloc[0]
    assert top.method == "scrub" and top.metric == "accuracy" and top["b − a"] == pytest.approx(0.25)
    v.other.value = str(tmp_path / "nowhere")
    assert "has no run of this study" in v.other_note.value


def test_contrast_and_attack_follow_method_and_threshold():
    studies = C.discover_studies(RESULTS)
    c = ContrastView(studies)
    first = c.frame.copy()
    c.method.value = next(m for m in c.method.options if m != c.method.value)
    assert c.frame.columns[0] == c.method.value and not c.frame.equals(first)
    a = AttackView(studies)
    tpr = a.frame.TPR.iloc[0]
    a.threshold.value = a.threshold.min
    assert a.frame.TPR.iloc[0] >= tpr and a.frame.TPR.iloc[0] > 0.9  # a low bar flags nearly every forget example
    assert list(a.frame.model) == [a.method.value, "retrain", "original"]
    assert (a.frame["worst-case accuracy"] >= 0.5).all()


def test_segmentation_overlays_and_dice_follow_request_subject_and_method():
    v = SegmentationView(C.discover_studies(RESULTS))
    requests = json.loads((RESULTS / "03_segmentation_unlearning" / "latest.json").read_text())["runs"]  # one run per request
    assert len(v.run.options) == len(requests) and "forget subjects" in v.run.options[0][0]
    assert list(v.frame.columns) == ["scrub", "retrain", "original"] and set(v.frame.index.get_level_values("label_name")) == {
        "CSF",
        "GM",
        "WM",
    }
    assert [label.split()[-1] for label, _ in v.subject.options] == ["(forget)", "(retain)", "(retain)"]
    png = v.images[0].value
    v.subject.value = v.subject.options[1][1]  # a retain subject
    assert v.images[0].value != png
    v.method.value = "noisy_label"
    assert v.frame.columns[0] == "noisy_label"
    first = v.frame.copy()
    v.run.value = v.run.options[1][1]
    assert not v.frame.equals(first)  # another request: another forgotten subject


def test_gan_grid_redraws_with_the_number_of_samples():
    v = GANView(C.discover_studies(RESULTS))
    # the class requests and the item requests (tasks of the split study) are both offered, beside any others
    assert {"class", "items"} <= {str(k).split("_")[0] for k in v.scenario.options}
    v.scenario.value = next(k for k in v.scenario.options if str(k).startswith("class_"))
    assert "forgotten_class_share" in v.frame.columns
    png = v.images[0].value
    v.n.value = 4
    assert v.images[0].value and v.images[0].value != png
    assert v.images[1].value  # the class request: samples beside their nearest forgotten digits
    v.scenario.value = next(k for k in v.scenario.options if k.startswith("items_"))
    # the committed run kept its forgotten items: samples beside their nearest forgotten and held-out images
    assert v.images[1].value and "closer to a forgotten image" in v.tables[0].value
    assert "nn_distance_ratio" in v.frame.columns and "forgotten_class_share" not in v.frame.columns


def test_missing_study_metric_or_file_gives_a_message_not_a_traceback(tmp_path):
    out = _copy(tmp_path, "05_gan_unlearning")
    e = explorer(out)
    assert "no classifier study" in e.views["Contrast"].message.value
    assert "no classifier study" in e.views["Attack"].message.value
    assert "no segmentation study" in e.views["Segmentation"].message.value
    assert e.views["GAN"].message.value == ""

    assert "no results directory" in explorer(tmp_path / "nowhere").message.value

    out = _copy_latest(tmp_path / "b" / "results", "01_quickstart")  # the committed dir also keeps earlier runs
    (run,) = [p for p in (out / "01_quickstart").iterdir() if p.is_dir()]
    (run / "examples.parquet").unlink()
    (run / "arrays.npz").unlink(missing_ok=True)  # a run that kept neither examples nor features
    df = pd.read_csv(run / "metrics.csv")
    df[df.metric != "seconds"].to_csv(run / "metrics.csv", index=False)
    e = explorer(out)
    assert "kept no per-example outputs" in e.views["Contrast"].message.value
    s = e.views["Screen"]
    assert s.frame is not None and "No scatter" in s.tables[0].value and s.images[0].value == b""
    s.metric.value = "accuracy"
    s.split.value = "all"  # measured there: wall time, steps; never accuracy
    assert "no &#x27;accuracy&#x27; on split &#x27;all&#x27;" in s.message.value and s.frame is None and s.tables[0].value == ""


def test_the_batch_never_runs_the_explorer(tmp_path):
    for name in ("00_explore", "01_a", "02_b"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert [p.stem for p in study_notebooks(tmp_path)] == ["01_a", "02_b"]
    notebooks, stems = find_notebooks(REPO_ROOT / "notebooks")
    assert (REPO_ROOT / "notebooks" / "00_explore.ipynb").is_file() and "00_explore" not in stems
    assert "01_quickstart" in stems and len(notebooks) == len(stems)


def _small_experiment(tmp_path, monkeypatch):
    """A 600-image original on embedded MNIST (one epoch, seconds on a CPU), cached under tmp_path."""
    monkeypatch.setenv("UNLEARN_CACHE", str(tmp_path / "cache"))
    from unlearn_lib.data import load_dataset, make_forget_split
    from unlearn_lib.studies.classifiers import ClassifierExperiment
    from unlearn_lib.tasks import ClassificationTask

    data = load_dataset("mnist-embedded")
    rng = np.random.default_rng(0)
    train = data.train.subset(np.sort(rng.choice(len(data.train), 600, replace=False)), "small")
    test = data.test.subset(np.arange(0, len(data.test), 5), "test")
    split = make_forget_split(train.labels, "class", forget_class=3, seed=0)
    mkw = {"in_channels": 1, "num_classes": 10, "input_size": 28}
    exp, _ = ClassifierExperiment.prepare(
        train,
        test,
        split,
        ClassificationTask(num_classes=10),
        model="small_cnn",
        model_kwargs=mkw,
        train_config={"epochs": 1},
        device="cpu",
    )
    return exp


def test_linear_cka_is_one_for_a_rotation_and_low_for_unrelated_features():
    from unlearn_lib.metrics.representation import linear_cka

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    assert np.isclose(linear_cka(x, 3.0 * x @ q), 1.0)
    assert linear_cka(x, rng.normal(size=(200, 16))) < 0.3
    with pytest.raises(ValueError, match="same examples"):
        linear_cka(x, x[:10])


def test_runs_keep_features_and_cka_that_the_contrast_view_draws(tmp_path, monkeypatch):
    from unlearn_lib.results import ResultsRecorder

    exp = _small_experiment(tmp_path, monkeypatch)
    exp.examples_cap = 40
    rec = ResultsRecorder("01_quickstart", "mnist-embedded", "small_cnn")
    exp.run(["retrain", "finetune"], rec, "class", {"finetune": {"epochs": 1}})
    cka = {m: rec.arrays[f"cka/class/seed0/{m}"] for m in ("original", "retrain", "finetune")}
    assert np.allclose(cka["retrain"], 1.0) and (cka["original"] < 0.999).any()
    assert list(rec.arrays["cka/class/seed0/layers"]) == ["block1.0", "block2.0", "block3.1", "head"]
    emb = rec.arrays["embedding/class/seed0/finetune"]
    assert emb.shape == (len(rec.arrays["embedding/class/seed0/split"]), 2) and set(rec.arrays["embedding/class/seed0/split"]) == {
        "forget",
        "retain",
        "test",
    }
    rec.write(tmp_path / "results" / "01_quickstart", {})
    v = ContrastView(C.discover_studies(tmp_path / "results"))
    assert v.message.value == "" and v.method.value == "finetune"
    assert list(v.cka.columns) == ["finetune", "retrain", "original"] and "CKA" in v.note.value
    assert v.images[1].value  # the penultimate-feature embedding


def test_live_unlearning_button_fills_before_after_and_retrain(tmp_path, monkeypatch):
    """One press runs the method from the notebook's original; another digit gets its own retrain."""
    from unlearn_lib.explore.live import live_unlearning

    exp = _small_experiment(tmp_path, monkeypatch)
    w = live_unlearning(exp, {"neggrad_plus": {"epochs": 1, "beta": 0.9}})
    assert w.frame is None and w.table.value == ""  # nothing runs until the button is pressed
    w.method.value = "neggrad_plus"
    assert w.knobs["beta"].value == pytest.approx(0.9) and w.knobs["alpha"].layout.display == "none"
    w.button.click()
    f = w.frame
    assert list(f.index) == ["original (before)", "neggrad_plus (after)", "retrain"] and "forget mia" in f
    assert f.loc["retrain", "forget acc"] == 0.0  # retrain never saw a 3
    assert f.loc["neggrad_plus (after)", "seconds"] > 0 and "<table" in w.table.value
    w.digit.value = 5
    w.button.click()
    assert w.frame.loc["retrain", "forget acc"] == 0.0 and set(w._retrain) == {3, 5}
    assert w.frame.loc["original (before)", "forget acc"] != f.loc["original (before)", "forget acc"]


def test_the_explorer_names_what_it_cannot_read_and_shows_the_rest(tmp_path):
    """Issue #36: a latest.json that is not JSON, one that lists no runs, or an arrays.npz holding an
    object array each raised in Explorer(); now the broken studies are named in the message, and no file
    makes Explorer() raise."""
    from unlearn_lib.explore import Explorer

    root = tmp_path / "results"
    for stem in ("01_quickstart", "05_gan_unlearning"):
        shutil.copytree(RESULTS / stem, root / stem)
    (root / "02_broken").mkdir()
    (root / "02_broken" / "latest.json").write_text("{not json")
    (root / "03_empty").mkdir()
    (root / "03_empty" / "latest.json").write_text('{"runs": []}')
    for run in json.loads((root / "05_gan_unlearning" / "latest.json").read_text())["runs"]:
        np.savez(root / "05_gan_unlearning" / run / "arrays.npz", bad=np.array([{"a": 1}], dtype=object))
    ex = Explorer(root)
    problems = "\n".join(ex.problems)
    assert "02_broken" in problems and "is not JSON" in problems
    assert "03_empty" in problems and "lists no runs" in problems
    assert "Not shown, and why" in ex.message.value
    assert len(ex.views) == len(Explorer.VIEWS), "every tab is there, broken ones say why"
