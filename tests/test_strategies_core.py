"""Every registered strategy runs on a tiny model and changes it; configs are validated up front."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from unlearn_lib.experiments import model_factory
from unlearn_lib.strategies import get_strategy, list_strategies, make_config, unlearn
from unlearn_lib.training import TrainConfig, train_model

CORE = ["retrain", "finetune", "neggrad", "neggrad_plus", "scrub"]
FAST = {"epochs": 1}
RECIPE = TrainConfig(epochs=1, batch_size=16)


@pytest.fixture
def setup(tiny_images, tiny_task, tiny_split):
    factory = model_factory("small_cnn", 0, in_channels=1, num_classes=4, width=0.25)
    model, _ = train_model(factory(), tiny_images.subset(tiny_split.trained), tiny_task, {"epochs": 2, "batch_size": 16}, device="cpu")
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
def test_strategy_runs_and_changes_the_model(setup, tiny_task, name):
    model, factory, data = setup
    before = _params(model).clone()
    config = {} if get_strategy(name).needs_recipe else _fast_config(name)
    res = unlearn(name, model, task=tiny_task, config=config, model_factory=factory, recipe=RECIPE, device="cpu", seed=0, **data)
    assert res.seconds > 0 and res.method == name
    assert not torch.equal(_params(res.model), before), f"{name} did not change the model"
    assert torch.equal(_params(model), before), f"{name} modified the original model in place"
    assert not res.model.training


def test_scrub_max_step_moves_away_from_teacher_on_forget(setup, tiny_task):
    """The max step is what separates SCRUB from distillation: without it the student stays near the teacher."""
    model, _, data = setup
    x = data["forget"].x
    cfg = {"epochs": 1, "lr": 0.01, "forget_batch_size": 8, "batch_size": 16}

    def forget_divergence(msteps):
        res = unlearn("scrub", model, task=tiny_task, config={**cfg, "msteps": msteps}, device="cpu", **data)
        with torch.no_grad():
            return float(tiny_task.divergence(res.model(x), model.eval()(x), 1.0).mean())

    assert forget_divergence(1) > 2 * forget_divergence(0)


def test_same_seed_same_model(setup, tiny_task):
    model, _factory, data = setup
    a = unlearn("scrub", model, task=tiny_task, config=_fast_config("scrub"), device="cpu", seed=7, **data)
    b = unlearn("scrub", model, task=tiny_task, config=_fast_config("scrub"), device="cpu", seed=7, **data)
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
