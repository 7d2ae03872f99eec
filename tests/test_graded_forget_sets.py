"""Forget sets with a signal by design: mislabelled examples, memorisation scores and tertiles, and RUM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import ArrayDataset, make_forget_split
from unlearn_lib.data.mislabel import make_mislabelled_split
from unlearn_lib.experiments.memorisation import LEVELS, MemorisationScores, memorisation_scores, memorisation_split
from unlearn_lib.experiments.tuning import tune_methods
from unlearn_lib.models import build_model
from unlearn_lib.strategies import make_config, unlearn
from unlearn_lib.studies.classifiers import ClassifierExperiment
from unlearn_lib.tasks import ClassificationTask
from unlearn_lib.training import TrainConfig, train_model

RECIPE = TrainConfig(epochs=20, lr=0.05, batch_size=16)
#: Long enough that the original memorises every mislabelled example of the RUM mixture (at 20 epochs it held 15 of 20).
MEMORISING = TrainConfig(epochs=40, lr=0.05, batch_size=16)
MODEL_KWARGS = {"num_classes": 4, "width": 0.5, "input_size": 8}


# --- mislabelled forget sets ------------------------------------------------------------------------


def test_mislabelled_split_flips_exactly_the_forget_set_to_other_classes():
    labels = np.arange(400) % 4
    mis = make_mislabelled_split(labels, 0.1, seed=3)
    forget = mis.split.forget
    assert mis.split.kind == "mislabelled" and len(forget) == 36  # 10 % of the 360 outside validation
    assert (mis.labels[forget] != labels[forget]).all(), "every forget example has a wrong label"
    keep = np.setdiff1d(np.arange(400), forget)
    assert (mis.labels[keep] == labels[keep]).all(), "nothing else is touched (validation included)"
    assert np.intersect1d(forget, mis.split.val).size == 0
    same_val = make_forget_split(labels, "class", forget_class=0, seed=3)
    assert np.array_equal(mis.split.val, same_val.val), "one validation part per seed, shared with every other kind"
    data = ArrayDataset(torch.zeros(400, 1, 2, 2), torch.as_tensor(labels), num_classes=4)
    noisy = mis.apply(data)
    assert np.array_equal(noisy.labels, mis.labels) and np.array_equal(noisy.meta["true_label"], labels)
    assert noisy.meta["mislabelled"].sum() == 36
    assert np.array_equal(make_mislabelled_split(labels, 0.1, seed=3).labels, mis.labels), "seeded"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fraction": 0.0}, "fraction must be a float in"),
        ({"fraction": 0.7}, "fraction must be a float in"),
        ({"fraction": True}, "fraction must be a float in"),
        ({"fraction": 0.1, "num_classes": 1}, "at least two classes"),
        ({"fraction": 0.1, "num_classes": 3}, r"labels must lie in \[0, 2\]"),
    ],
)
def test_mislabelled_split_refuses_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_mislabelled_split(np.arange(40) % 4, **kwargs)


# --- the memorisation estimator ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(small_quadrants):
    """The toy set with 20 of its 200 labels flipped (planted memorised examples) and its scores from 8 half-models."""
    torch.set_num_threads(1)
    clean = small_quadrants()
    mis = make_mislabelled_split(clean.labels, 0.1, seed=0, val_fraction=0.0)
    train = mis.apply(clean)
    cache = ArtifactCache(enabled=False)
    scores = memorisation_scores(
        train, ClassificationTask(4), model="small_cnn", model_kwargs=MODEL_KWARGS, recipe=RECIPE, n_models=8, device="cpu", cache=cache
    )
    return train, mis, scores


def test_the_estimator_ranks_planted_mislabelled_examples_above_typical_ones(planted):
    """Measured (seed 0, 8 models): mislabelled examples score about 0.8-1.0, typical ones about 0;
    the margins below sit far outside that gap's noise."""
    train, mis, scores = planted
    mem = scores.frame.memorisation.to_numpy()
    flipped = np.zeros(len(train), dtype=bool)
    flipped[mis.split.forget] = True
    assert mem[flipped].mean() - mem[~flipped].mean() >= 0.5
    top = np.argsort(-mem, kind="stable")[: flipped.sum()]
    assert flipped[top].mean() >= 0.75, "the most memorised examples are the mislabelled ones"
    assert (scores.frame.p_in >= scores.frame.p_out - 1e-9)[flipped].all(), "training on a label never lowers its accuracy here"
    # The cheap proxy: mislabelled examples are learnt late, so their average confidence is lower.
    c = scores.frame.c_proxy.to_numpy()
    assert c[flipped].mean() < c[~flipped].mean() - 0.2
    assert scores.rank_correlation() > 0.3
    assert scores.n_models == 8 and scores.seconds > 0 and 0 < scores.proxy_seconds <= scores.seconds


def test_memorisation_split_draws_equal_sizes_from_each_level(planted):
    train, mis, scores = planted
    levels = scores.levels()
    assert set(levels[mis.split.forget]) <= {"medium", "high"}, "planted mislabels are not low-memorisation"
    counts = levels.value_counts()
    n = int(min(counts)) // 2  # the seed's pool (validation held out) holds fewer
    splits = {lv: memorisation_split(scores, train.labels, lv, n, seed=1) for lv in LEVELS}
    means = [s.meta["memorisation_mean"] for s in splits.values()]
    assert means == sorted(means) and means[-1] - means[0] >= 0.5, "high draws far more memorised examples than low"
    for lv, s in splits.items():
        assert s.kind == "memorisation" and len(s.forget) == n and s.meta["level"] == lv
        assert set(levels[s.forget]) == {lv}
        assert np.array_equal(s.val, splits["low"].val), "every level shares one validation part (one original)"
    with pytest.raises(ValueError, match="level must be one of"):
        memorisation_split(scores, train.labels, "extreme", 5)
    with pytest.raises(ValueError, match=r"high-memorisation level of seed 0's training pool holds \d+ examples \(levels"):
        memorisation_split(scores, train.labels, "high", 10_000)


def test_a_memorisation_split_records_what_a_model_that_never_saw_it_gets_right(planted):
    """The target tuning aims at: the mean of the estimator's P(correct | out) over the chosen examples.
    Planted mislabels are right only when trained on, so the high level's is far below the low level's."""
    train, _, scores = planted
    n = int(min(scores.levels().value_counts())) // 2
    splits = {lv: memorisation_split(scores, train.labels, lv, n, seed=1) for lv in ("low", "high")}
    for s in splits.values():
        assert s.meta["unseen_accuracy"] == pytest.approx(scores.frame.p_out.to_numpy()[s.forget].mean())
    assert splits["low"].meta["unseen_accuracy"] - splits["high"].meta["unseen_accuracy"] >= 0.5


def test_tuning_on_a_high_memorisation_split_picks_a_rate_that_acts(planted, small_quadrants, tmp_path):
    """The original memorises the planted mislabels (their accuracy 1.0 against the flipped labels); the
        random objective is met by Random Label's tiny rates, which keep them. Aimed at P(correct | out), the pick
        acts. Measured (8 examples, P(correct | out) 0.0): forget accuracy 1.0 at x0.01 and x0.1, 0.375 at x1, where
    validation accuracy falls from 0.9 to 0.8 (the random objective scores that 0.525 against the identity's 0.1)."""
    train, _, scores = planted
    n = int((scores.levels() == "high").sum()) // 2
    split = memorisation_split(scores, train.labels, "high", n, seed=1)
    exp, _ = ClassifierExperiment.prepare(
        train,
        small_quadrants(80, 1),
        split,
        ClassificationTask(4),
        model="small_cnn",
        model_kwargs=MODEL_KWARGS,
        train_config=MEMORISING.to_dict(),
        seed=0,
        device="cpu",
        mia_folds=2,
        cache=ArtifactCache(tmp_path),
    )
    res = tune_methods(
        exp, ["random_label"], None, "high-memorisation", hparams={"random_label": {"epochs": 2, "lr": 0.01}}, factors=[0.01, 0.1, 1.0]
    )
    cand = res.candidates.set_index("factor")
    assert cand.loc[0.01, "forget"] >= 0.9, "the identity keeps the memorised labels"
    picked = cand[cand.picked]
    assert picked.index[0] != 0.01 and picked.forget.iloc[0] < 0.75


def test_scores_are_cached_and_read_back(tmp_path, small_quadrants):
    data = small_quadrants(40)
    kwargs = dict(model="small_cnn", model_kwargs=MODEL_KWARGS, recipe={"epochs": 1, "batch_size": 16}, n_models=2, device="cpu")
    cache = ArtifactCache(tmp_path)
    first = memorisation_scores(data, ClassificationTask(4), cache=cache, **kwargs)
    again = memorisation_scores(data, ClassificationTask(4), cache=cache, **kwargs)
    assert not first.cached and again.cached
    assert np.allclose(first.frame.to_numpy(), again.frame.to_numpy()) and again.seconds == first.seconds


@pytest.mark.parametrize("n_models", [0, 3, True, 2.0])
def test_the_estimator_refuses_an_odd_or_missing_number_of_models(n_models, small_quadrants):
    with pytest.raises(ValueError, match="n_models must be an even int"):
        memorisation_scores(small_quadrants(8), ClassificationTask(4), model="small_cnn", n_models=n_models)


def test_attach_puts_the_scores_in_the_metadata(planted):
    train, _, scores = planted
    attached = scores.attach(train)
    assert np.array_equal(attached.subset([3, 5]).meta["memorisation"], scores.frame.memorisation.to_numpy()[[3, 5]])
    with pytest.raises(ValueError, match="scores were computed on 200"):
        scores.attach(train.subset(np.arange(10)))
    three = MemorisationScores(scores.frame.iloc[:3].assign(memorisation=[0.0, 0.5, 0.9]), 2, 1.0, 0.5)
    assert three.levels().tolist() == ["low", "medium", "high"], "levels split at thirds of the score's range"


# --- RUM ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixture(small_quadrants):
    """A forget set of 10 mislabelled (memorised, score 1) and 10 typical (score 0) examples of the toy set."""
    torch.set_num_threads(1)
    clean = small_quadrants(200, seed=1)
    mis = make_mislabelled_split(clean.labels, 0.05, seed=0, val_fraction=0.0)
    train = mis.apply(clean)
    flipped = mis.split.forget
    typical = np.random.default_rng(0).choice(np.setdiff1d(np.arange(200), flipped), size=len(flipped), replace=False)
    forget_idx = np.sort(np.concatenate([flipped, typical]))
    train = train.with_meta(memorisation=np.where(np.isin(np.arange(200), flipped), 1.0, 0.0))
    forget, retain = train.subset(forget_idx, "forget"), train.subset(np.setdiff1d(np.arange(200), forget_idx), "retain")

    def factory() -> torch.nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(1)
            return build_model("small_cnn", **MODEL_KWARGS)

    task = ClassificationTask(4)
    original, _ = train_model(factory(), train, task, MEMORISING, device="cpu", seed=0)
    ref = unlearn("retrain", original, retain=retain, forget=forget, task=task, model_factory=factory, recipe=MEMORISING, device="cpu")
    return original, task, retain, forget, ref.model


def _acc(model: torch.nn.Module, data: ArrayDataset) -> float:
    with torch.no_grad():
        return float((model.eval()(data.x).argmax(1) == data.y).float().mean())


def test_rum_is_no_worse_than_its_base_method_on_a_high_low_mixture(mixture):
    """NegGrad+ on the whole forget set against RUM, which gives NegGrad+ (same settings) only the
    memorised part and fine-tunes past the typical one. The target is retrain's forget accuracy: the
    typical half stays right (1.0), the mislabelled half goes (0.0), so 0.5 against the original's 1.0.

    Measured over unlearning seeds 0-4 at these settings: RUM's gap to retrain 0.00 on every seed,
    NegGrad+'s 0.05-0.15 (it pushes typical examples away with the memorised ones). Not at every
    setting: at lr 0.03 and beta 0.9, NegGrad+ on the 10 memorised examples alone ascends on each of
    them twice as often and wrecks the model (retain accuracy 0.24-0.57), while on all 20 it is exact;
    at lr 0.01 and beta 0.9 NegGrad+ on all 20 does nothing (gap 0.5) and RUM's gap is 0.00-0.05."""
    original, task, retain, forget, retrained = mixture
    base = {"epochs": 5, "lr": 0.03, "beta": 0.95, "batch_size": 16, "forget_batch_size": 8}
    finetune = {"epochs": 2, "batch_size": 16}
    rum = {
        "methods": {"low": "finetune", "medium": "finetune", "high": "neggrad_plus"},
        "hparams": {"low": finetune, "medium": finetune, "high": base},
    }
    target = _acc(retrained, forget)
    assert _acc(original, forget) - target >= 0.4, "the mixture must carry a signal"
    gaps, kept = [], []
    for seed in range(5):
        common = {"retain": retain, "forget": forget, "task": task, "device": "cpu", "seed": seed}
        by_rum, by_base = (
            unlearn("rum", original, config=rum, **common).model,
            unlearn("neggrad_plus", original, config=base, **common).model,
        )
        gaps.append((abs(_acc(by_rum, forget) - target), abs(_acc(by_base, forget) - target)))
        kept.append(_acc(by_rum, retain))
    rum_gap, base_gap = np.mean(gaps, axis=0)
    assert rum_gap <= base_gap + 0.02, f"RUM's gap to retrain {rum_gap:.3f} is worse than NegGrad+'s {base_gap:.3f} ({gaps})"
    assert min(kept) >= 0.95, f"RUM broke the retain set: {kept}"


def test_rum_runs_its_parts_in_order_and_records_them(mixture):
    original, task, retain, forget, _ = mixture
    cfg = {"hparams": {"low": {"epochs": 1}, "medium": {"epochs": 1}, "high": {"epochs": 1}}}
    res = unlearn("rum", original, retain=retain, forget=forget, task=task, config=cfg, device="cpu")
    parts = [row["part"] for row in res.history]
    assert parts == sorted(parts, key=["low", "medium", "high"].index) and set(parts) == {"low", "high"}, "the empty medium part is skipped"
    assert {row["n_forget"] for row in res.history} == {10}
    assert res.steps > 0


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"cuts": [0.5, 0.2]}, "cuts must be two increasing"),
        ({"methods": {"low": "retrain", "medium": "finetune", "high": "neggrad_plus"}}, "cannot be unlearned by"),
        ({"methods": {"low": "finetune"}}, "missing"),
        ({"methods": {"low": "finetun", "medium": "finetune", "high": "neggrad_plus"}}, "did you mean 'finetune'"),
        ({"hparams": {"high": {"bogus": 1}}}, "bogus"),
        ({"order": ["low", "high"]}, "order must list each"),
    ],
)
def test_rum_refuses_bad_configs(config, match):
    with pytest.raises(ValueError, match=match):
        make_config("rum", config)


def test_rum_needs_graded_forget_examples(mixture):
    original, task, retain, forget, _ = mixture
    bare = ArrayDataset(forget.x, forget.y, num_classes=4)
    with pytest.raises(ValueError, match="metadata column 'memorisation'"):
        unlearn("rum", original, retain=retain, forget=bare, task=task, device="cpu")
