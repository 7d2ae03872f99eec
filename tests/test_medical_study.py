"""The medical study's analyses (unlearn_lib.studies.medical): splits, records, tables, tests and claims.

One tiny plan runs once per module on the conftest's quadrant images (120 samples, 12 subjects, a sex
column); the table and statistics functions are also checked on hand-made metrics with a known answer.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import ArrayDataset, make_forget_split
from unlearn_lib.metrics import predict
from unlearn_lib.results import ResultsRecorder, load_metrics
from unlearn_lib.studies import medical as M

pytestmark = pytest.mark.usefixtures("one_thread")

METHODS = ["retrain", "random_label", "finetune"]
HPARAMS = {"random_label": {"epochs": 1, "lr": 0.003}, "finetune": {"epochs": 1, "lr": 0.003}}
TRAIN = {"epochs": 2, "lr": 0.01, "batch_size": 32}


def make_study(data: ArrayDataset, **kw) -> M.MedicalStudy:
    args = {"model_kwargs": {"width": 0.25}, "recipe": TRAIN, "methods": METHODS, "hparams": HPARAMS, "device": "cpu", "mia_folds": 2}
    return M.MedicalStudy(data, data.subset(np.arange(0, 120, 2)), **{**args, **kw})


def tiny_plan(**kw) -> M.MedicalPlan:
    args = {
        "seeds": [0, 1],
        "forget_fractions": [0.1, 0.3],
        "sex_n_forget": 8,
        "difficulty_n_forget": 4,
        "difficulty_quantile": 0.3,
        "tuning_methods": ["random_label", "finetune"],
        "tuning_lr_factors": [1.0, 3.0],
        "tuning_epochs": [1],
        "tuning_seeds": [0],
        "tuning_fraction": 0.1,
        "salun_masks": [0.2, 0.6],
        "salun_fraction": 0.1,
        "mislabel_fraction": 0.05,
        "budget_request": "mislabelled:0.05",
        "budget_fractions": [0.25, 0.5],
        "budget_lr_factors": [1.0, 10.0],
    }
    return M.MedicalPlan(**{**args, **kw})


@pytest.fixture(scope="module")
def study_run(shared_quadrant_images, tmp_path_factory):
    """Every analysis of a tiny plan, written and read back as the notebook does."""
    study = make_study(shared_quadrant_images)
    plan = tiny_plan()
    assert plan.check(study) == {}
    rec = ResultsRecorder("04", "quadrants", "small_cnn")
    for analysis in M.ANALYSES:
        if analysis == "salun_mask":
            study.methods.append("salun")  # the sweep's one method; run after the size analysis
        assert plan.run(study, analysis, rec)
    out = tmp_path_factory.mktemp("medical")
    rec.write(out, {"seed": 0}, "cpu")
    return study, plan, load_metrics(out)


# -- the study object --------------------------------------------------------------------------


def test_a_run_already_made_is_reused_and_is_what_a_recomputation_gives(tiny_images):
    """A pick run on a tuning seed is the search's own candidate run: the study hands it back instead of
    training it again, and that is sound because a recomputation gives the same weights, bit for bit."""
    study = make_study(tiny_images)
    split = make_forget_split(study.labels, "random", fraction=0.1, seed=0, val_fraction=study.val_fraction)
    exp = study.experiment(split, 0)
    cfg = {"epochs": 1, "lr": 0.003}
    first = exp._unlearn(exp.datasets(), "finetune", cfg)  # as the tuning search calls it
    rec = ResultsRecorder("04", "quadrants", "small_cnn")
    study.run(split, 0, "size:0.1", rec, methods=["finetune"], hparams={"finetune": cfg})
    assert study.experiment(split, 0).results["finetune"] is first  # read back, not trained again
    other = exp._unlearn(exp.datasets(), "finetune", {**cfg, "lr": 0.009})
    assert other is not first  # another config is another run
    study.forget_runs()
    again = exp._unlearn(exp.datasets(), "finetune", cfg)
    assert again is not first
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True))
    assert again.steps == first.steps
    study.forget_runs()
    study._reuse.max_bytes = 0  # a store without room keeps nothing: every run is computed (a big model's case)
    assert exp._unlearn(exp.datasets(), "finetune", cfg) is not exp._unlearn(exp.datasets(), "finetune", cfg)
    assert study._reuse.runs == {} and study._reuse.bytes == 0


def test_study_validates_before_training(tiny_images):
    with pytest.raises(ValueError, match="non-empty"):
        M.MedicalStudy(tiny_images, tiny_images.subset(np.array([], dtype=int)))
    with pytest.raises(ValueError, match="differ in shape"):
        M.MedicalStudy(tiny_images, ArrayDataset(tiny_images.x[:, :, :14], tiny_images.y))
    with pytest.raises(ValueError, match="no_such_method"):
        M.MedicalStudy(tiny_images, tiny_images, methods=["retrain", "no_such_method"])
    with pytest.raises(ValueError, match="not in methods"):
        M.MedicalStudy(tiny_images, tiny_images, methods=["retrain"], hparams={"scrub": {}})
    with pytest.raises(ValueError, match="lr"):
        M.MedicalStudy(tiny_images, tiny_images, methods=["finetune"], hparams={"finetune": {"lr": -1.0}})


def test_no_sex_column_means_no_groups_and_skipped_analyses(tiny_images):
    bare = ArrayDataset(tiny_images.x, tiny_images.y, num_classes=4)
    study = make_study(bare)
    assert study.group is None
    skipped = tiny_plan().check(study)
    assert set(skipped) == {"sex", "subject"} and "no 'sex' column" in skipped["sex"]
    assert tiny_plan().run(study, "sex", ResultsRecorder("x", "y", "z")) is False


def test_one_original_per_seed_shared_by_every_analysis(study_run):
    """Every analysis of a seed starts from one original, except the mislabelled request, which needs its own
    (trained on the flipped labels)."""
    study, _, df = study_run
    assert sorted(study._originals) == [0, 1]
    orig = df[(df.method == "original") & (df.split == "val") & (df.metric == "accuracy")]
    own = orig.scenario.str.contains("mislabelled")
    assert orig[~own].groupby("seed").value.nunique().max() == 1  # the same model evaluated in every scenario
    assert orig[own].groupby("seed").value.nunique().max() == 1  # and one model per seed for the mislabelled request


def test_group_accuracies_match_a_direct_evaluation(shared_quadrant_images):
    study = make_study(shared_quadrant_images)
    split = make_forget_split(study.labels, "random", fraction=0.1, seed=0)
    rec = ResultsRecorder("04", "q", "m")
    res = study.run(split, 0, "size:0.1", rec, methods=["retrain"])
    test = study.test
    female = test.subset(np.flatnonzero(test.meta["sex"] == "F"))
    expect = predict(study.experiment(split, 0).results["retrain"].model, female, study.task, "cpu").accuracy
    assert res["retrain"][("test:F", "accuracy")] == pytest.approx(expect)
    assert any(r["split"] == "forget" and r["metric"] == "n" and r["value"] == len(split.forget) for r in rec.rows)


# -- the analyses' records -----------------------------------------------------------------------


def test_every_analysis_recorded(study_run):
    _, _, df = study_run
    levels = {a: set(M.analysis_rows(df, a).level) for a in M.ANALYSES}
    assert levels["size"] == {"0.1", "0.3"}
    assert levels["sex"] == {"F", "M"} and levels["difficulty"] == {"easy", "hard"}
    # the mislabelled request's and the budget analysis's candidates have their own scenarios
    assert levels["tuning"] == {"reference", "grid", "mislabelled:0.05", "budget:mislabelled:0.05"}
    assert levels["budget"] == {"mislabelled:0.05"} and levels["mislabelled"] == {"0.05"}
    grid = M.analysis_rows(df, "tuning").query("level == 'grid' and method != 'original'")
    assert {(round(lr, 6), e) for lr, e in zip(grid.tuning_lr, grid.tuning_epochs)} == {(0.003, 1), (0.009, 1)}
    assert levels["salun_mask"] == {"0.2", "0.6"}
    n = M.analysis_rows(df, "size").query("split == 'forget' and metric == 'n' and method == 'retrain'")
    assert set(n.groupby("level").value.first()) == {11.0, 32.0}  # 10% and 30% of the 108 non-validation samples


def test_sex_forget_sets_hold_one_sex_and_the_same_size(study_run):
    _, _, df = study_run
    sex = M.analysis_rows(df, "sex")
    for g, other in (("F", "M"), ("M", "F")):
        run = sex[(sex.level == g) & (sex.method == "retrain")]
        assert f"forget:{g}" in set(run.split) and f"forget:{other}" not in set(run.split)
    sizes = sex.query("split == 'forget' and metric == 'n'").value
    assert set(sizes) == {8.0}


def test_subject_analysis_forgets_one_whole_subject(study_run):
    study, _, df = study_run
    rows = M.analysis_rows(df, "subject")
    for (level, seed), g in rows.groupby(["level", "seed"]):
        pool = np.setdiff1d(np.arange(len(study.train)), study.val_partition(seed))
        own = np.sum(np.asarray(study.train.meta["subject"]).astype(str)[pool] == level)
        assert g.query("split == 'forget' and metric == 'n'").value.iloc[0] == own


def test_difficulty_split_takes_the_lowest_and_highest_losses_per_class():
    labels = np.repeat([0, 1], 50)
    losses = np.random.default_rng(0).permutation(100).astype(float)
    for level in ("easy", "hard"):
        split = M.difficulty_forget_split(labels, losses, level, 6, quantile=0.2, seed=0, val_fraction=0.1)
        assert len(split.forget) == 6 and np.bincount(labels[split.forget]).tolist() == [3, 3]
        assert not np.intersect1d(split.forget, split.val).size
        pool = np.setdiff1d(np.arange(100), split.val)
        for i in split.forget:
            same = losses[pool[labels[pool] == labels[i]]]
            m = int(np.floor(0.2 * len(same)))
            rank = np.sum(same < losses[i]) if level == "easy" else np.sum(same > losses[i])
            assert rank < m, (level, i)  # inside its class's easiest / hardest 20% of the pool
    with pytest.raises(ValueError, match="only"):
        M.difficulty_forget_split(labels, losses, "hard", 40, quantile=0.2)
    with pytest.raises(ValueError, match="level"):
        M.difficulty_forget_split(labels, losses, "medium", 4)


def test_a_mislabelled_request_carries_a_signal_and_scores_the_true_labels(tmp_path, small_quadrants):
    """Flipped labels are memorised by the original and never learnt by retrain: the request is informative
    by construction (measured: original 1.0 against retrain 0.0 on the wrong labels at every seed), while
    its forget set scored against the true labels runs the other way."""
    study = M.MedicalStudy(
        small_quadrants(200, 0),
        small_quadrants(80, 1),
        model_kwargs={"width": 0.5},
        recipe={"epochs": 40, "lr": 0.05, "batch_size": 16},
        methods=["retrain"],
        device="cpu",
        mia_folds=2,
        cache=ArtifactCache(tmp_path),
    )
    rec = ResultsRecorder("04", "quadrants", "small_cnn")
    M.run_mislabelled(study, 0.1, [0, 1, 2], rec)
    df = rec.frame()
    signal = M.signal_table(df)
    assert signal.loc["mislabelled:0.1", "informative"] and signal.loc["mislabelled:0.1", "accuracy gap"] > 0.5
    acc = df[df.metric == "accuracy"].pivot_table(index="seed", columns=["split", "method"], values="value")
    assert (acc[("forget_true", "retrain")] - acc[("forget_true", "original")]).mean() > 0.5  # retrain recovers the true labels
    n = df.query("split == 'forget' and metric == 'n' and method == 'retrain'").value
    assert set(n) == {18.0}  # 10 % of the 180 patches outside validation
    for seed in (0, 1, 2):
        relabelled, mis = M.mislabelled_request(study, 0.1, seed)
        assert np.array_equal(relabelled.val_partition(seed), study.val_partition(seed))  # the same held-out patches
        assert np.array_equal(relabelled.train.labels != study.labels, np.isin(np.arange(200), mis.split.forget))
    own, shared = relabelled.original(2)[0], study.original(2)[0]
    assert any(not torch.equal(a, b) for a, b in zip(own.state_dict().values(), shared.state_dict().values()))


def test_the_mislabelled_request_is_tuned_on_itself(study_run):
    """Picks made on random forget sets aim at keeping flipped labels, so the request is tuned on itself, with
    the same candidates for every tuning method."""
    _, plan, df = study_run
    table = M.mislabelled_tuning_table(df)
    assert list(table.index) == [(0.05, m) for m in plan.tuning_methods]
    assert (table.candidates == len(plan.tuning_lr_factors)).all() and (table.seeds == len(plan.tuning_seeds)).all()
    with pytest.raises(ValueError, match="no tuning rows of a mislabelled request"):
        M.mislabelled_tuning_table(df[~df.scenario.str.startswith("tuning:mislabelled")])


def test_every_seed_of_the_mislabelled_request_runs_its_pick(tmp_path, small_quadrants):
    """The original memorises the flipped labels; Random Label's candidates then leave different shares of
    them (measured: 1.0 at x0.3, 0.78 at x3, 0.17 at x30, where validation accuracy falls to 0.25). None is
    the configured rate, so the run at the tuning seed matches its picked candidate only if it ran the pick."""
    study = M.MedicalStudy(
        small_quadrants(200, 0),
        small_quadrants(80, 1),
        model_kwargs={"width": 0.5},
        recipe={"epochs": 40, "lr": 0.05, "batch_size": 16},
        methods=["retrain", "random_label"],
        hparams={"random_label": {"epochs": 1, "lr": 0.003}},
        device="cpu",
        mia_folds=2,
        cache=ArtifactCache(tmp_path),
    )
    rec = ResultsRecorder("04", "quadrants", "small_cnn")
    picks = M.run_mislabelled(study, 0.1, [0], rec, tuning_methods=["random_label"], tuning_seeds=[0], lr_factors=[0.3, 3.0, 30.0])
    assert picks is not None
    df = rec.frame()
    cands = df[(df.scenario == "tuning:mislabelled:0.1") & (df.metric == "forget")]
    assert cands.value.nunique() == 3, "the candidates differ, so matching the pick says something"
    lr = picks.picks["random_label"]["lr"]
    assert not np.isclose(lr, 0.003)
    ran = df[(df.scenario == "mislabelled:0.1") & (df.method == "random_label") & (df.split == "forget") & (df.metric == "accuracy")]
    assert ran.value.tolist() == pytest.approx(cands[np.isclose(cands.tuning_lr, lr)].value.tolist())
    with pytest.raises(ValueError, match="lr_factors"):
        M.run_mislabelled(study, 0.1, [0], rec, tuning_methods=["random_label"], tuning_seeds=[0])


def _mislabelled_frame(moved: float) -> pd.DataFrame:
    """Four seeds of a mislabelled request: retrain gets 0.9 of the flipped samples' true labels right, the
    original 0.1; method ``m`` moves ``moved`` of the way (plus a little per-seed noise)."""
    rows = []
    for seed in range(4):
        wobble = 0.01 * (seed - 1.5)
        base = {"scenario": "mislabelled:0.05", "seed": seed}
        for method, wrong, true in (
            ("original", 0.95, 0.1),
            ("retrain", 0.02, 0.9),
            ("m", 0.95 - 0.93 * moved, 0.1 + 0.8 * moved + wobble),
        ):
            rows += [
                {**base, "method": method, "split": "forget", "metric": "accuracy", "value": wrong},
                {**base, "method": method, "split": "forget_true", "metric": "accuracy", "value": true},
            ]
    return pd.DataFrame(rows)


def test_the_mislabelled_table_judges_the_true_labels_by_the_verdict_rule():
    column = "true labels closer to retrain than the original's"
    repaired = M.mislabelled_table(_mislabelled_frame(0.8))
    assert repaired.loc[("0.05", "m"), column].startswith("holds") and repaired.loc[("0.05", "m"), "did it act?"] == "moved"
    idle = M.mislabelled_table(_mislabelled_frame(0.0))  # the method left the model as it was: never "holds"
    assert not idle.loc[("0.05", "m"), column].startswith("holds") and idle.loc[("0.05", "m"), "did it act?"] == "tuned to identity"
    assert list(repaired.index.get_level_values("method")) == ["original", "retrain", "m"]
    partly = _mislabelled_frame(0.8)  # the true labels repaired as before, but the wrong ones barely moved
    wrong = (partly.method == "m") & (partly.split == "forget")
    partly.loc[wrong, "value"] = 0.95 - 0.93 * 0.2  # a fifth of the way: under the identity bar of a quarter
    assert M.mislabelled_table(partly).loc[("0.05", "m"), "did it act?"] == "moved the true labels only"
    frame = _mislabelled_frame(0.8)
    flag = frame[frame.split == "forget"].assign(split="all", metric="diverged", value=0.0)
    flag.loc[(flag.method == "m") & (flag.seed == 2), "value"] = 1.0  # NaN outputs on one seed
    broken = M.mislabelled_table(pd.concat([frame, flag], ignore_index=True))
    assert broken.loc[("0.05", "m"), "did it act?"] == "diverged on 1 of 4 seeds"


def test_a_budget_request_runs_on_the_very_split_of_its_own_analysis(study_run):
    """The budget analysis rebuilds its request's split: for the hard set it must be the difficulty analysis's own draw."""
    study, plan, df = study_run
    kw = {"difficulty_n_forget": plan.difficulty_n_forget, "difficulty_quantile": plan.difficulty_quantile}
    exp = M.budgets.request_experiment(study, "difficulty:hard", 1, **kw)
    hard = df.query("scenario == 'difficulty:hard' and seed == 1 and method == 'retrain' and split == 'forget' and metric == 'n'")
    assert len(exp.split.forget) == hard.value.iloc[0]
    losses = study.training_losses(1)
    again = M.difficulty_forget_split(study.labels, losses, "hard", plan.difficulty_n_forget, quantile=plan.difficulty_quantile, seed=1)
    assert np.array_equal(np.sort(exp.split.forget), np.sort(again.forget))
    mis = M.budgets.request_experiment(study, "mislabelled:0.05", 1, **kw)
    assert np.array_equal(np.sort(mis.split.forget), np.sort(M.mislabelled_request(study, 0.05, 1)[1].split.forget))


# -- plan validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"analyses": ["size", "nonsense"]}, "analyses"),
        ({"seeds": []}, "seeds"),
        ({"forget_fractions": [0.1, 1.5]}, "forget_fractions"),
        ({"sex_n_forget": 10_000}, "sex n_forget"),
        ({"difficulty_n_forget": 500}, "difficulty n_forget"),
        ({"difficulty_quantile": 1.0}, "quantile"),
        ({"tuning_lr_factors": [0.0]}, "lr_factors"),
        ({"tuning_methods": ["retrain"]}, "other than retrain"),
        ({"salun_masks": [0.0]}, "mask"),
        ({"salun_fraction": 0.25}, "salun_fraction"),
        ({"budget_request": "size:0.7"}, "budget_request.*forget_fractions"),
        ({"budget_request": "difficulty:medium"}, "budget_request"),
        ({"budget_request": "mislabelled:0.2"}, "budget_request.*mislabel_fraction"),
        ({"mislabel_fraction": 0.7}, "mislabel_fraction"),
        ({"analyses": ["tuning", "budget"]}, "budget_request.*'mislabelled' analysis"),
        ({"mislabel_fraction": None}, r"budget_request.*mislabel_fraction \(None\)"),
        ({"budget_request": "size:0.1", "analyses": ["tuning", "budget"]}, "budget_request.*'size' analysis"),
        ({"budget_fractions": [0.0]}, "budget_fractions"),
        ({"budget_fractions": [0.5, 0.5]}, "distinct"),
        ({"budget_lr_factors": [1.0, -3.0]}, "budget_lr_factors"),
        ({"budget_lr_factors": [1.0, 1.0]}, "budget_lr_factors"),
    ],
)
def test_plan_check_names_the_bad_parameter(tiny_images, kw, match):
    with pytest.raises(ValueError, match=match):
        tiny_plan(**kw).check(make_study(tiny_images))


def test_a_budget_without_retrain_or_request_is_refused_or_skipped(tiny_images):
    with pytest.raises(ValueError, match="must include 'retrain'"):
        tiny_plan(analyses=["tuning", "mislabelled", "budget"]).check(make_study(tiny_images, methods=["random_label", "finetune"]))
    assert "budget" in tiny_plan(budget_request=None).check(make_study(tiny_images))


def test_budget_rows_hold_every_method_to_the_same_steps(study_run):
    """Every tuned method ran each budget's exact optimizer steps, at its own validation-picked lr, on every seed;
    the frontier starts from the untouched original of the request itself."""
    _, plan, df = study_run
    rows = df[df.scenario == "budget:mislabelled:0.05"]
    runs = M.budget_runs(df, "mislabelled:0.05")
    assert set(runs.index.get_level_values("method")) == set(plan.tuning_methods)
    assert len(runs) == len(plan.budget_fractions) * len(plan.tuning_methods) * len(plan.seeds)
    assert (runs.steps == runs.max_steps).all() and runs.groupby("budget").max_steps.nunique().eq(1).all()
    steps = runs.groupby("budget").max_steps.first()
    assert steps.loc[0.5] > steps.loc[0.25]  # a larger share of retrain's steps is a larger budget
    retrain = rows[(rows.method == "retrain") & (rows.metric == "steps")].value
    assert steps.loc[0.5] == pytest.approx(0.5 * retrain.median(), abs=0.5)
    tuned = df[df.scenario == "tuning:budget:mislabelled:0.05"]
    assert tuned.groupby(["budget", "method"]).group.nunique().eq(len(plan.budget_lr_factors)).all()  # equal candidates
    assert set(tuned[tuned.metric == "tuning_factor"].value) == set(plan.budget_lr_factors)  # the budgets' own grid
    table = M.budget_frontier(df)
    assert table.method.iloc[0] == "original" and table.budget.iloc[0] == 0
    assert set(table.budget) == {0.0, 0.25, 0.5}
    assert "label" in table and table.label.iloc[1:].notna().all()


# -- tables, statistics and claims on hand-made metrics ------------------------------------------


def _rows(records: list[tuple]) -> pd.DataFrame:
    cols = ["scenario", "method", "seed", "split", "metric", "value", "tuning_lr", "tuning_epochs"]
    return pd.DataFrame([dict(zip(cols, r)) for r in records], columns=cols)


def _sex_frame(extra_f_drop: float, noise: float = 0.0) -> pd.DataFrame:
    """Retrain and one method; forgetting F costs women ``extra_f_drop`` more than forgetting M costs men."""
    rng = np.random.default_rng(0)
    rec = []
    for seed in range(6):
        for g in ("F", "M"):
            sc = f"sex:{g}"
            rec += [(sc, "original", seed, "test:F", "accuracy", 0.9), (sc, "original", seed, "test:M", "accuracy", 0.9)]
            rec += [(sc, "retrain", seed, "test:F", "accuracy", 0.88), (sc, "retrain", seed, "test:M", "accuracy", 0.88)]
            drop = (0.02 + (extra_f_drop if g == "F" else 0.0)) + noise * rng.standard_normal()
            own = 0.88 - drop
            rec += [(sc, "m", seed, f"test:{g}", "accuracy", own), (sc, "m", seed, f"test:{'M' if g == 'F' else 'F'}", "accuracy", 0.87)]
            rec += [(sc, "m", seed, "average", "gap_to_retrain", 0.01), (sc, "retrain", seed, "average", "gap_to_retrain", 0.0)]
    return _rows(rec)


def test_signal_table_marks_a_planted_lead_informative_and_one_seed_or_a_tie_not():
    rng = np.random.default_rng(1)
    rec = []
    for seed in range(5):
        for sc, lead in (("difficulty:hard", 0.3), ("size:0.1", 0.0)):
            noise = 0.01 * rng.standard_normal()
            rec += [(sc, "original", seed, "forget", "accuracy", 0.95), (sc, "retrain", seed, "forget", "accuracy", 0.95 - lead + noise)]
            rec += [(sc, "original", seed, "forget", "mia", 0.5), (sc, "retrain", seed, "forget", "mia", 0.5 + noise)]
    one_subject = [("subject:3", "original", 0, "forget", "accuracy", 1.0), ("subject:3", "retrain", 0, "forget", "accuracy", 0.5)]
    tuning = [("tuning:grid", "original", 0, "forget", "accuracy", 1.0), ("tuning:grid", "retrain", 0, "forget", "accuracy", 0.5)]
    signal = M.signal_table(_rows(rec + one_subject + tuning))
    assert list(signal.index) == ["difficulty:hard", "size:0.1", M.ONE_PATIENT]  # tuning rows are validation work, not a request
    assert signal.informative.tolist() == [True, False, False]  # one seed never establishes a signal, however large
    assert signal.loc["difficulty:hard", "accuracy gap"] == pytest.approx(0.3, abs=0.02)
    with pytest.raises(ValueError, match="no forget request"):
        M.signal_table(_rows(tuning))


def test_signal_table_pools_one_patient_per_seed_into_one_paired_request():
    """Each seed forgets its own subject: alone, every subject is one seed; pooled, the patient request has them all."""
    rec = []
    for seed, subject in enumerate(["3", "7", "1", "5", "2"]):
        lead = 0.2 + 0.02 * seed  # a planted lead of 0.24 on average, paired within each seed
        rec += [
            (f"subject:{subject}", "original", seed, "forget", "accuracy", 0.9),
            (f"subject:{subject}", "retrain", seed, "forget", "accuracy", 0.9 - lead),
        ]
        rec += [(f"subject:{subject}", m, seed, "forget", "mia", 0.5) for m in ("original", "retrain")]
    signal = M.signal_table(_rows(rec))
    assert list(signal.index) == [M.ONE_PATIENT] and signal.loc[M.ONE_PATIENT, "seeds"] == 5
    assert signal.loc[M.ONE_PATIENT, "informative"]
    assert signal.loc[M.ONE_PATIENT, "accuracy gap"] == pytest.approx(0.24)
    assert signal.loc[M.ONE_PATIENT, "accuracy gap CI low"] > 0


def test_sex_bias_test_finds_a_planted_bias_and_not_a_null_one():
    biased = M.sex_bias_test(_sex_frame(0.05, noise=0.005)).set_index(["method", "harm"])
    row = biased.loc[("m", M.SEX_BIAS_HARM)]
    assert row["mean diff"] == pytest.approx(0.05, abs=0.01) and row["paired t p"] < 0.01
    null = M.sex_bias_test(_sex_frame(0.0, noise=0.005)).set_index(["method", "harm"])
    assert null.loc[("m", M.SEX_BIAS_HARM), "paired t p"] > 0.05
    assert ("retrain", M.SEX_BIAS_HARM) not in null.index  # 0 by definition, not tested
    claim = M.claims_table(_sex_frame(0.05, noise=0.005)).set_index("study's claim")
    assert claim.loc["no bias against male or female samples", "verdict"].startswith("bias detected for m")


def test_holm_adjustment():
    """Hand-computed Holm: sort, multiply the k-th smallest p by (m - k + 1), carry the running max, clip at 1."""
    np.testing.assert_allclose(M.holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])  # NaN: not in the family
    np.testing.assert_allclose(M.holm([0.02, 0.02, 0.5, 0.01]), [0.06, 0.06, 0.5, 0.04])  # ties share one value
    np.testing.assert_allclose(M.holm([0.6, 0.7, 0.01]), [1.0, 1.0, 0.03])  # 2 x 0.6 = 1.2 is clipped to 1
    assert np.isnan(M.holm([np.nan, np.nan])).all() and M.holm([]).shape == (0,)


def test_tuning_selection_uses_validation_not_test():
    """Config A matches validation (forget acc = val acc); config B has the better test accuracy."""
    rec = [("tuning:reference", "original", 0, "val", "accuracy", 0.8), ("tuning:reference", "retrain", 0, "all", "seconds", 10.0)]
    for s in ("forget", "retain", "test", "val"):
        rec.append(("tuning:reference", "retrain", 0, s, "accuracy", 0.8))
    for forget, val, test, secs, lr in [(0.8, 0.8, 0.7, 2.0, 0.01), (0.95, 0.75, 0.9, 3.0, 0.1)]:  # A, then B
        sc, c = "tuning:grid", (lr, 1)
        rec += [
            (sc, "m", 0, "forget", "accuracy", forget, *c),
            (sc, "m", 0, "val", "accuracy", val, *c),
            (sc, "m", 0, "test", "accuracy", test, *c),
        ]
        rec += [
            (sc, "m", 0, "retain", "accuracy", 0.9, *c),
            (sc, "m", 0, "all", "seconds", secs, *c),
            (sc, "original", 0, "val", "accuracy", 0.8, *c),
        ]
    df = _rows(rec)
    assert M.select_by_validation(df).tuning_lr.tolist() == [0.01]  # config A
    table = M.tuning_table(df)
    assert table.loc["m", "search / retrain"] == pytest.approx(0.5)
    assert table.loc["m", "picked test acc"] == pytest.approx(0.7)


def test_tuned_hparams_feed_the_later_analyses(study_run, shared_quadrant_images):
    study, _, df = study_run
    picked = M.tuned_hparams(df, study)
    assert set(picked) == {"random_label", "finetune"}
    best = M.select_by_validation(df).set_index("method")
    for method, cfg in picked.items():
        assert (best.loc[method, "tuning_lr"], best.loc[method, "tuning_epochs"]) == (cfg["lr"], cfg["epochs"])
    fresh = make_study(shared_quadrant_images)
    fresh.update_hparams(picked)
    assert fresh.hparams["random_label"]["lr"] == picked["random_label"]["lr"]
    with pytest.raises(ValueError, match="not in methods"):
        fresh.update_hparams({"scrub": {"lr": 0.1}})
    with pytest.raises(ValueError, match="lr"):
        fresh.update_hparams({"finetune": {"lr": -1.0}})


def test_generalisation_claim_compares_with_retrains_own_drop():
    rec = []
    for seed in (0, 1):
        for f, acc in ((0.01, 0.85), (0.5, 0.80)):
            rec += [(f"size:{f:g}", "retrain", seed, s, "accuracy", acc) for s in ("forget", "retain", "test")]
            rec += [(f"size:{f:g}", "lossy", seed, s, "accuracy", acc - (0.2 if f == 0.5 else 0.0)) for s in ("forget", "retain", "test")]
            rec += [(f"size:{f:g}", "steady", seed, s, "accuracy", acc) for s in ("forget", "retain", "test")]
    verdict = M.claims_table(_rows(rec)).set_index("study's claim").loc["generalisation suffers, more for larger forget sets", "verdict"]
    assert verdict == "holds for lossy; inconclusive for steady"  # judged by the paired CI over seeds (unlearn_lib.verdict)


def test_effective_claim_gives_each_method_one_verdict_and_never_holds_on_nothing():
    """At an informative size (original 1.0 vs retrain 0.8 on the forget set): "close" is within the margin
    of retrain, "far" overshoots it by 0.3, "idle" left the original as it was (tuned to identity)."""
    noise = [0.0, 0.004, -0.004, 0.002, -0.002]
    rec = []
    for seed, e in enumerate(noise):
        for m, forget in (("original", 1.0), ("retrain", 0.8 + e), ("close", 0.8 - e), ("far", 0.5 + e), ("idle", 1.0 - e)):
            rec += [("size:0.1", m, seed, "forget", "accuracy", forget), ("size:0.1", m, seed, "retain", "accuracy", 1.0 - abs(e))]
    claim = "unlearning performs well on the retain and forget sets"
    verdict = M.claims_table(_rows(rec)).set_index("study's claim").loc[claim, "verdict"]
    assert verdict.startswith("holds (within ±0.05") and verdict.endswith(
        "for close; not reproduced for far; not testable (no informative size where it acted) for idle"
    ), verdict
    nothing = [r for r in rec if r[1] in ("original", "retrain", "idle")]
    only = M.claims_table(_rows(nothing)).set_index("study's claim").loc[claim, "verdict"]
    assert "holds" not in only and only == "not testable (no informative size where it acted) for idle"


def test_tables_claims_figures_and_summary_from_a_real_run(study_run):
    _, plan, df = study_run
    size = M.forget_size_table(df)
    assert size.index.names == ["forget fraction", "method"] and size.index[0] == (0.1, "original")
    assert set(M.difficulty_table(df).verdict) <= {"over-forgets", "under-forgets", "close"}
    assert list(M.subject_table(df).index)[:2] == ["original", "retrain"]
    assert len(M.salun_sweep_table(df, plan.salun_fraction)) == 4  # two masks, retrain, random label
    claims = M.claims_table(df)
    assert len(claims) == len(M.CLAIMS) and claims.verdict.str.len().min() > 0
    parts = M.summary_parts(df)
    assert next(iter(parts)) == "The study's claims against this run" and any("Tuning cost" in k for k in parts)
    assert list(parts)[1].startswith("Forgetting signal per request")  # the signal comes before any ranking
    for fig in (
        M.plot_forget_sizes(df),
        M.plot_sex(df),
        M.plot_difficulty(df),
        M.plot_subject(df),
        M.plot_tuning(df),
        M.plot_salun_sweep(df, plan.salun_fraction),
    ):
        assert fig.axes
        plt.close(fig)


def test_same_seed_same_numbers(shared_quadrant_images):
    def once() -> pd.DataFrame:
        study, rec = make_study(shared_quadrant_images), ResultsRecorder("04", "q", "m")
        M.run_forget_sizes(study, [0.2], [3], rec)
        frame = pd.DataFrame(rec.rows).drop(columns=["run_id", "timestamp"])
        return frame[frame.metric != "seconds"].drop(columns="value").assign(v=frame.value).reset_index(drop=True)

    a, b = once(), once()
    pd.testing.assert_frame_equal(a[~a.metric.isin(["speed_up"])], b[~b.metric.isin(["speed_up"])])


def test_data_overview_counts_samples_and_subjects(tiny_images):
    table = M.data_overview(tiny_images, tiny_images.subset(np.arange(12)))
    assert table.loc[("train", "F")].filter(like="class").sum() == 40  # every third of 120 is F
    assert table.loc[("test", "M"), "subjects"] == 2  # samples 0-11 belong to subjects 0 and 1
    bare = ArrayDataset(tiny_images.x, tiny_images.y, num_classes=4)
    assert list(M.data_overview(bare, bare).index.get_level_values("sex").unique()) == ["n/a"]


def _budget_frame(lead: float) -> pd.DataFrame:
    """Five seeds of a request whose original leads retrain by ``lead`` on the forget set, and one method at a
    10 % budget that lands at retrain's forget accuracy (gap 0.01, against the original's gap of lead / 3)."""
    rows = []
    for seed in range(5):
        wobble = 0.002 * (seed - 2)
        base = {"scenario": "difficulty:hard", "seed": seed, "budget": np.nan}
        for method, acc, gap in (("original", 0.9, lead / 3 + wobble), ("retrain", 0.9 - lead + wobble, 0.0)):
            rows += [
                {**base, "method": method, "split": "forget", "metric": "accuracy", "value": acc},
                {**base, "method": method, "split": "forget", "metric": "mia", "value": 0.5},
                {**base, "method": method, "split": "average", "metric": "gap_to_retrain", "value": gap},
            ]
        at = {"scenario": "budget:difficulty:hard", "seed": seed, "budget": 0.1, "method": "m"}
        rows += [
            {**at, "split": "average", "metric": "gap_to_retrain", "value": 0.01 + wobble},
            {**at, "split": "forget", "metric": "accuracy", "value": 0.9 - lead + 0.01},
            {**at, "split": "all", "metric": "steps", "value": 4.0},
            {**at, "split": "all", "metric": "seconds", "value": 0.1},
            {**at, "split": "all", "metric": "under_budget", "value": 0.0},
        ]
    return pd.DataFrame(rows)


def test_budget_rows_are_ranked_only_on_a_request_with_signal():
    ranked = _budget_frame(0.3)
    table = M.budget_frontier(ranked)
    assert table.informative.all() and table.set_index("method").loc["m", "label"] == "beats doing nothing"
    assert M.budget_headline(ranked).loc["difficulty:hard", "method"] == "m"
    flat = _budget_frame(0.0)  # original = retrain on the forget set: nothing to forget, so nothing to rank
    table = M.budget_frontier(flat)
    assert not table.informative.any() and table.set_index("method").loc["m", "label"] == M.budgets.NOT_RANKED
    assert M.budget_headline(flat).loc["difficulty:hard", "verdict"] == M.budgets.NOT_RANKED


def test_the_frontier_figure_says_when_its_request_is_not_ranked():
    assert "not ranked" not in M.plot_budget_frontier(_budget_frame(0.3)).axes[0].get_title()
    assert "not ranked" in M.plot_budget_frontier(_budget_frame(0.0)).axes[0].get_title()
