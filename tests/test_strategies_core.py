"""Every registered strategy forgets on a tiny task the original memorises; configs are validated up front."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.experiments import model_factory
from unlearn_lib.models import build_model
from unlearn_lib.strategies import get_strategy, list_strategies, make_config, unlearn
from unlearn_lib.tasks import ClassificationTask
from unlearn_lib.training import TrainConfig, train_model
from unlearn_lib.utils import Timer

CORE = ["retrain", "finetune", "neggrad", "neggrad_plus", "scrub"]
FAST = {"epochs": 1}
RECIPE = TrainConfig(epochs=1, batch_size=16)


@pytest.fixture
def setup(tiny_images, tiny_task, tiny_split, device):
    factory = model_factory("small_cnn", 0, in_channels=1, num_classes=4, width=0.25)
    model, _ = train_model(factory(), tiny_images.subset(tiny_split.trained), tiny_task, {"epochs": 2, "batch_size": 16}, device=device)
    data = {
        "retain": tiny_images.subset(tiny_split.retain),
        "forget": tiny_images.subset(tiny_split.forget),
        "val": tiny_images.subset(tiny_split.val),
    }
    return model, factory, data


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _fast_config(name):
    fields = {f.name for f in dataclasses.fields(get_strategy(name).Config)}
    cfg = {k: v for k, v in {"epochs": 1, "msteps": 1, "batch_size": 16, "forget_batch_size": 16}.items() if k in fields}
    return cfg


def test_core_strategies_are_registered():
    assert set(CORE) <= set(list_strategies())


@pytest.mark.parametrize("name", CORE)
def test_strategy_runs_on_a_copy(setup, tiny_task, name, device):
    model, factory, data = setup
    before = _params(model).clone()
    config = {} if get_strategy(name).needs_recipe else _fast_config(name)
    res = unlearn(name, model, task=tiny_task, config=config, model_factory=factory, recipe=RECIPE, device=device, seed=0, **data)
    assert res.seconds > 0 and res.method == name
    assert torch.equal(_params(model), before), f"{name} modified the original model in place"
    assert not res.model.training


def test_warm_up_runs_once_and_changes_no_result(setup, tiny_task, device):
    """unlearn() warms the kernels up (one throwaway forward and backward pass, untimed) before the first
    timed method of a process. It runs once per model class, device and input shape, leaves the model
    and the global RNG stream as they were, and a method gives the same weights whether it ran first."""
    from unlearn_lib.strategies import base

    trained, _, data = setup
    model = torch.nn.Sequential(trained, torch.nn.Dropout(0.5)).eval()  # in training mode its forward pass draws random numbers
    model.zero_grad(set_to_none=True)  # training left its last gradients
    before = _params(model).clone()
    base._WARMED.clear()
    rng = torch.get_rng_state()
    with Timer() as timer:
        assert base.warm_up(model, data["retain"], tiny_task, device) is True
    assert timer.steps == 0, "the warm-up took an optimizer step that a surrounding timer (or the model cache) would count"
    assert torch.equal(torch.get_rng_state(), rng), "the warm-up drew from the global RNG stream"
    assert torch.equal(_params(model), before), "the warm-up trained the model it was given"
    assert all(p.grad is None for p in model.parameters()), "the warm-up's backward pass reached the model it was given"
    assert base.warm_up(model, data["retain"], tiny_task, device) is False
    kwargs = {"task": tiny_task, "config": _fast_config("finetune"), "device": device, "seed": 0, **data}
    base._WARMED.clear()
    first = unlearn("finetune", model, **kwargs)  # warms up, then runs
    assert base._WARMED, "unlearn did not warm up before its timer"
    again = unlearn("finetune", model, **kwargs)  # already warm
    assert torch.equal(_params(first.model), _params(again.model))


# --- behaviour: forgetting a class the original memorised ------------------------------------------
# 160 random 8x8 images with random labels: nothing to generalise, so an original (20 epochs) has
# memorised every example, and retraining without class 1 never predicts it. Each strategy gets a
# budget that fits this tiny task (its paper's settings otherwise) and runs from ORIGINALS, six
# originals of their own initialisation and training seed: averaged over them, its forget accuracy
# must have moved at least halfway from the originals' to retrain's while its retain accuracy stays
# within RETAIN_TOLERANCE of theirs.
#
# Why six and a mean: one original is one draw. Measured on an Intel Xeon (8 originals, this config
# table), SSD at its paper defaults kept retain accuracy >= 0.8 on 3 of 8 originals (mean 0.71), L1-sparse
# at alpha 1e-3 on 2 of 8 (mean 0.60), NegGrad+ at lr 0.01 on 6 of 8 (mean 0.79): each passed on the one
# original this test used to train, and each failed on an H200 whose kernels trained another one. With
# the configs below the means over the first six hold with room (forget <= 0.30 against 0.50, retain
# >= 0.90 against 0.80); finetune, CF-k and NegGrad fail as stated on every mean.
RETAIN_TOLERANCE = 0.2
MEMORISED = TrainConfig(epochs=20, lr=0.05, batch_size=16)
#: (initialisation seed, training seed) of each original.
ORIGINALS = [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)]
BEHAVIOUR: dict[str, dict] = {
    "retrain": {},
    "eu_k": {"k": 2, "epochs": 10, "lr": 0.05, "batch_size": 16},
    "neggrad_plus": {"epochs": 10, "lr": 0.005, "batch_size": 16, "forget_batch_size": 8, "beta": 0.95},
    "scrub": {"preset": "small", "batch_size": 16, "forget_batch_size": 8},
    "scrub_r": {"preset": "small", "batch_size": 16, "forget_batch_size": 8},
    "bad_teacher": {"epochs": 5, "batch_size": 16},
    "random_label": {"epochs": 3},
    "salun": {"epochs": 3},
    "l1_sparse": {"epochs": 20, "lr": 0.1, "batch_size": 16},  # the paper's alpha 5e-4
    "ssd": {"alpha": 20.0},  # the paper's 10 dampens what the retain set needs on memorised random labels
    "fisher": {},
}
# Known failures here, with the one each must show (on the mean over ORIGINALS): fine-tuning on D_r and
# training only the last k blocks keep the memorised D_f (the SCRUB paper's finding for Finetune and
# CF-k); gradient ascent alone forgets by destroying the model (per original: no effect, or retain
# accuracy at chance). Strict: if one starts to pass, move it into BEHAVIOUR.
KNOWN_FAILURES: dict[str, tuple[dict, str]] = {
    "finetune": ({"epochs": 20, "lr": 0.1, "batch_size": 16}, "did not move halfway"),
    "cf_k": ({"k": 3, "epochs": 20, "lr": 0.1, "batch_size": 16}, "did not move halfway"),
    "neggrad": ({"epochs": 2, "lr": 0.01, "batch_size": 8}, "retain accuracy fell"),
}

#: Outcomes that are all-or-nothing per original on this toy task, so which side a device's originals land
#: on decides the mean. On an H200 with deterministic kernels (make test-gpu, docs/reproducibility.md) SSD kept
#: retain accuracy 0.02-0.97 across the six originals (mean 0.73), and Finetune moved the mean forget
#: accuracy past halfway. Their claims are checked on the CPU, under both kernel selections; not on CUDA.
ALL_OR_NOTHING = {"ssd", "finetune"}


def _claimed_on(device: torch.device, name: str) -> None:
    if device.type == "cuda" and name in ALL_OR_NOTHING:
        pytest.skip(f"{name}: all-or-nothing per original on this toy task; its claim is checked on the CPU (docs/reproducibility.md)")


@pytest.fixture(scope="module")
def memorised(device):
    """Each of ORIGINALS with its model factory and its retrained reference, on the shared data."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    data = ArrayDataset(torch.randn(160, 1, 8, 8, generator=g), torch.randint(0, 4, (160,), generator=g), num_classes=4)
    val = ArrayDataset(torch.randn(20, 1, 8, 8, generator=g), torch.randint(0, 4, (20,), generator=g), num_classes=4)
    labels = data.labels
    forget, retain = data.subset(np.flatnonzero(labels == 1), "forget"), data.subset(np.flatnonzero(labels != 1), "retain")
    task = ClassificationTask(4)
    originals = []
    for init, train_seed in ORIGINALS:

        def factory(init: int = init) -> torch.nn.Module:
            with torch.random.fork_rng():
                torch.manual_seed(init)
                return build_model("small_cnn", num_classes=4, width=0.5, input_size=8)

        original, _ = train_model(factory(), data, task, MEMORISED, device=device, seed=train_seed)
        ref = unlearn("retrain", original, retain=retain, forget=forget, task=task, model_factory=factory, recipe=MEMORISED, device=device)
        originals.append((original, factory, ref.model))
    return originals, {"retain": retain, "forget": forget, "val": val}, task, device


def _accuracy(model: torch.nn.Module, data: ArrayDataset) -> float:
    with torch.no_grad():
        device = next(model.parameters()).device  # the model stays where it trained (a GPU under make test-gpu)
        return float((model.eval()(data.x.to(device)).argmax(1).cpu() == data.y).float().mean())


def _forgets(memorised, name: str, config: dict) -> None:
    originals, data, task, device = memorised
    rows = []  # per original: forget accuracy of original, retrain, method; retain accuracy of original, method
    for original, factory, retrained in originals:
        res = unlearn(name, original, task=task, config=config, model_factory=factory, recipe=MEMORISED, device=device, seed=0, **data)
        rows.append(
            [_accuracy(m, data["forget"]) for m in (original, retrained, res.model)]
            + [_accuracy(m, data["retain"]) for m in (original, res.model)]
        )
    f0, f_ref, f, r0, r = np.mean(rows, axis=0)
    per = "per original: " + ", ".join(f"forget {row[2]:.2f} retain {row[4]:.2f}" for row in rows)
    assert f0 == 1.0 and f_ref == 0.0, "the task must separate every original from its retraining"
    assert f <= (f0 + f_ref) / 2, f"{name}: mean forget accuracy {f:.2f} did not move halfway from {f0:.2f} to {f_ref:.2f} ({per})"
    assert r >= r0 - RETAIN_TOLERANCE, f"{name}: mean retain accuracy fell from {r0:.2f} to {r:.2f} ({per})"


#: Strategies that grade the forget set (they need scores in its metadata): their behaviour test is in
#: test_graded_forget_sets.py, on a forget set that mixes memorised and typical examples.
GRADED = {"rum"}


def test_every_classification_strategy_has_a_behaviour_test():
    assert set(BEHAVIOUR) | set(KNOWN_FAILURES) | GRADED == set(list_strategies("classification"))


@pytest.mark.parametrize("name", sorted(BEHAVIOUR))
def test_strategy_forgets_a_memorised_class_and_keeps_the_rest(memorised, name):
    _claimed_on(memorised[-1], name)
    _forgets(memorised, name, BEHAVIOUR[name])


@pytest.mark.parametrize("name", sorted(KNOWN_FAILURES))
def test_strategies_known_to_fail_on_memorised_data_fail_as_stated(memorised, name):
    _claimed_on(memorised[-1], name)
    config, failure = KNOWN_FAILURES[name]
    with pytest.raises(AssertionError, match=failure):
        _forgets(memorised, name, config)


def test_scrub_max_step_moves_away_from_teacher_on_forget(setup, tiny_task, device):
    """The max step is what separates SCRUB from distillation: without it the student stays near the teacher."""
    model, _, data = setup
    x = data["forget"].x.to(device)
    cfg = {"epochs": 1, "lr": 0.01, "forget_batch_size": 8, "batch_size": 16}

    def forget_divergence(msteps):
        res = unlearn("scrub", model, task=tiny_task, config={**cfg, "msteps": msteps}, device=device, **data)
        with torch.no_grad():
            return float(tiny_task.divergence(res.model(x), model.eval()(x), 1.0).mean())

    assert forget_divergence(1) > 2 * forget_divergence(0)


def test_same_seed_same_model(setup, tiny_task, device):
    model, _factory, data = setup
    a = unlearn("scrub", model, task=tiny_task, config=_fast_config("scrub"), device=device, seed=7, **data)
    b = unlearn("scrub", model, task=tiny_task, config=_fast_config("scrub"), device=device, seed=7, **data)
    assert torch.equal(_params(a.model), _params(b.model))


def test_unknown_strategy_lists_valid_names(tiny_task):
    with pytest.raises(ValueError, match=r"valid names: .*scrub"):
        unlearn("scrubb", torch.nn.Linear(1, 1), retain=[], forget=[1], task=tiny_task)


@pytest.mark.parametrize(
    "name,config,match",
    [
        ("scrub", {"lr": "fast"}, r"ScrubConfig\.lr must be"),
        ("scrub", {"temprature": 2.0}, r"unknown hyper-parameter\(s\) \['temprature'\]"),
        ("scrub", {"msteps": 5, "epochs": 2}, "msteps"),
        ("scrub", {"preset": "huge"}, "unknown preset"),
        ("finetune", {"epochs": 0}, "epochs must be > 0"),
        ("finetune", {"optimizer": "lbfgs"}, "optimizer must be"),
        ("neggrad_plus", {"beta": 1.5}, "beta"),
        ("retrain", {"epochs": 2}, "retrain takes no hyper-parameters .* repeats the original model's training recipe"),
        ("finetune", [1, 2], "must be a dict"),
    ],
)
def test_bad_configs_are_named(name, config, match):
    with pytest.raises(ValueError, match=match):
        make_config(name, config)


def test_presets_and_int_to_float():
    small = make_config("scrub", {"preset": "small", "epochs": 4})
    assert small.optimizer == "adam" and small.epochs == 4 and small.temperature == 2.0
    assert isinstance(make_config("finetune", {"lr": 1}).lr, float)


# The SCRUB code's settings (Kurmanji et al., NeurIPS 2023): the small-scale notebook's ``args`` and
# the large-scale defaults, typed here from the paper's code, not from our presets.
SCRUB_PAPER = {
    "small": {
        "optimizer": "adam", "lr": 5e-4, "weight_decay": 0.1, "lr_decay_epochs": (5, 8, 9), "lr_decay_rate": 0.1,
        "epochs": 10, "msteps": 3, "alpha": 0.5, "gamma": 1.0, "temperature": 2.0, "batch_size": 32, "forget_batch_size": 64,
    },
    "large": {
        "optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "weight_decay": 5e-4, "lr_decay_epochs": (),
        "epochs": 3, "msteps": 2, "alpha": 0.001, "gamma": 0.99, "temperature": 4.0,
    },
}  # fmt: skip


@pytest.mark.parametrize("preset", sorted(SCRUB_PAPER))
@pytest.mark.parametrize("name", ["scrub", "scrub_r"])
def test_scrub_presets_match_the_papers_table(name, preset):
    cfg = make_config(name, {"preset": preset}).to_dict()
    assert {k: cfg[k] for k in SCRUB_PAPER[preset]} == SCRUB_PAPER[preset]


def test_scrub_lr_schedule_follows_the_authors_epochs(setup, tiny_task):
    """The authors count epochs from 1 and decay after epochs 5, 8 and 9: epochs 1-5 at lr, 6-8 at
    lr/10, 9 at lr/100, 10 at lr/1000; the optimizer really runs at those rates."""
    model, _, data = setup
    cfg = {"preset": "small", "msteps": 1, "batch_size": 64, "forget_batch_size": 64}
    res = unlearn("scrub", model, task=tiny_task, config=cfg, device="cpu", **data)
    seen = [h["lr"] for h in res.history]
    assert seen == pytest.approx([5e-4] * 5 + [5e-5] * 3 + [5e-6, 5e-7])
    constant = unlearn("scrub", model, task=tiny_task, config={**cfg, "lr_decay_epochs": [], "epochs": 2}, device="cpu", **data)
    assert [h["lr"] for h in constant.history] == [5e-4, 5e-4]
    with pytest.raises(ValueError, match="lr_decay_epochs"):
        make_config("scrub", {"lr_decay_epochs": [0, 3]})


def test_scrub_r_gets_exactly_scrubs_budget_in_every_profile():
    """SCRUB+R is SCRUB plus rewinding: wherever a profile runs both, their settings are the same, or a
    better SCRUB+R row would be evidence of a larger budget, not of rewinding."""
    import yaml

    from unlearn_lib.batch import PROFILES_DIR

    checked = 0
    for path in sorted(PROFILES_DIR.glob("*.yaml")):
        for nb, section in (yaml.safe_load(path.read_text()).get("notebooks") or {}).items():
            hp = section.get("hparams") or {}
            if "scrub_r" in hp:
                assert hp.get("scrub_r") == hp.get("scrub"), f"{path.name} {nb}: scrub_r {hp.get('scrub_r')} != scrub {hp.get('scrub')}"
                checked += 1
    assert checked >= 2


def test_empty_forget_and_missing_factory_refused_before_work(setup, tiny_task):
    model, _factory, data = setup
    empty = data["forget"].subset(np.array([], dtype=int))
    with pytest.raises(ValueError, match="forget set is empty"):
        unlearn("finetune", model, retain=data["retain"], forget=empty, task=tiny_task, device="cpu")
    with pytest.raises(ValueError, match="model_factory"):
        unlearn("retrain", model, retain=data["retain"], forget=data["forget"], task=tiny_task, recipe=RECIPE, device="cpu")
    with pytest.raises(ValueError, match="recipe"):
        unlearn("retrain", model, retain=data["retain"], forget=data["forget"], task=tiny_task, model_factory=_factory, device="cpu")
    with pytest.raises(ValueError, match="device"):
        unlearn("finetune", model, retain=data["retain"], forget=data["forget"], task=tiny_task, device="tpu")


def test_retrain_repeats_the_original_recipe_exactly(setup, tiny_task):
    """Retrain is the original's recipe on the retain set from the same initialisation, bit for bit,
    and reports that recipe as its config (so run records show what the reference really was)."""
    model, factory, data = setup
    recipe = TrainConfig(epochs=2, lr=0.02, batch_size=8, schedule="constant", weight_decay=1e-3)
    res = unlearn("retrain", model, task=tiny_task, model_factory=factory, recipe=recipe, device="cpu", seed=3, **data)
    expected, _ = train_model(factory(), data["retain"], tiny_task, recipe, device="cpu", seed=3)
    assert torch.equal(_params(res.model), _params(expected))
    assert res.config == recipe.to_dict()
    other, _ = train_model(factory(), data["retain"], tiny_task, TrainConfig(epochs=2, batch_size=8), device="cpu", seed=3)
    assert not torch.equal(_params(res.model), _params(other))  # the recipe matters: a default one differs
