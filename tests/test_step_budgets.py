"""Methods at an optimizer-step budget: each stops at exactly the budget, is stretched when its schedule
is shorter, and is the same model as its own schedule cut at that step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.experiments import model_factory
from unlearn_lib.experiments.budgets import best_within, budget_frame, budget_steps, frontier, frontier_figure, unequal_rows
from unlearn_lib.strategies import get_strategy, list_strategies, unlearn
from unlearn_lib.training import TrainConfig, train_model
from unlearn_lib.utils import BudgetSpent, StepBudget

RECIPE = TrainConfig(epochs=1, batch_size=16)
#: RUM needs memorisation scores in the forget set's metadata (tests/test_graded_forget_sets.py).
pytestmark = pytest.mark.usefixtures("one_thread")
BUDGETED = [n for n in list_strategies("classification") if n not in {"retrain", "rum"}]


@pytest.fixture(scope="module")
def setup(shared_quadrant_images):
    from unlearn_lib.data import make_forget_split
    from unlearn_lib.tasks import ClassificationTask

    images = shared_quadrant_images
    task = ClassificationTask(4)
    split = make_forget_split(images.labels, "random", fraction=0.1, seed=0, val_fraction=0.2)
    factory = model_factory("small_cnn", 0, in_channels=1, num_classes=4, width=0.25)
    model, _ = train_model(factory(), images.subset(split.trained), task, {"epochs": 2, "batch_size": 16}, device="cpu")
    data = {"retain": images.subset(split.retain), "forget": images.subset(split.forget), "val": images.subset(split.val)}
    return model, factory, task, data


def _fast(name):
    fields = {f.name for f in dataclasses.fields(get_strategy(name).Config)}
    return {k: v for k, v in {"epochs": 1, "msteps": 1, "batch_size": 16, "forget_batch_size": 16}.items() if k in fields}


def _run(setup, name, **kw):
    model, factory, task, data = setup
    kw.setdefault("config", _fast(name))
    return unlearn(name, model, task=task, model_factory=factory, recipe=RECIPE, device="cpu", seed=0, **data, **kw)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("name", BUDGETED)
def test_every_method_of_a_budget_row_takes_exactly_the_budget(setup, name):
    """The row's budget, 9 steps, is more than one fast epoch of every method here (1 to 7 steps: the
    forget set holds 10 images, the retain set 86), so each is stretched to more epochs and then cut
    mid-epoch. A method with no optimizer steps of its own (SSD, Fisher) says "under"."""
    res = _run(setup, name, max_steps=9)
    assert res.max_steps == 9
    if res.budget == "spent":
        assert res.steps == 9, f"{name} took {res.steps} steps at a budget of 9"
    else:
        assert res.budget == "under" and res.steps < 9
        assert "epochs" not in {f.name for f in dataclasses.fields(get_strategy(name).Config)}, f"{name} has epochs but was not stretched"
    frame = budget_frame([("row", res)], retrain_steps=90)
    assert unequal_rows(frame).empty and frame.loc[0, "fraction"] == pytest.approx(0.1)


def test_a_short_schedule_is_stretched_and_a_long_one_cut(setup):
    own = _run(setup, "neggrad", config={"epochs": 1})  # forget-only: 12 images, batch 64 -> one step an epoch
    assert own.steps == 1 and own.budget is None
    stretched = _run(setup, "neggrad", config={"epochs": 1}, max_steps=5)
    assert (stretched.steps, stretched.budget) == (5, "spent") and stretched.config["epochs"] > 1
    long = _run(setup, "finetune", config={"epochs": 3, "batch_size": 16})
    cut = _run(setup, "finetune", config={"epochs": 3, "batch_size": 16}, max_steps=long.steps // 2)
    assert cut.steps == long.steps // 2 and cut.config["epochs"] == 3  # cut, not re-scheduled


def test_a_budget_equal_to_the_schedule_gives_the_same_model(setup):
    """Stopping by the budget at the schedule's own last step changes no weight: the cut is only a cut."""
    own = _run(setup, "finetune", config={"epochs": 2, "batch_size": 16})
    at = _run(setup, "finetune", config={"epochs": 2, "batch_size": 16}, max_steps=own.steps)
    assert at.budget == "spent" and torch.equal(_params(own.model), _params(at.model))
    shorter = _run(setup, "finetune", config={"epochs": 2, "batch_size": 16}, max_steps=own.steps - 3)
    assert not torch.equal(_params(own.model), _params(shorter.model))


def test_the_budget_cannot_be_swallowed_by_a_method():
    """A loop that catches ``Exception`` must still stop: the budget is equal only if nothing escapes it."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    taken = 0
    with pytest.raises(BudgetSpent), StepBudget(3) as budget:
        for _ in range(10):
            try:
                p.grad = torch.ones(1)
                opt.step()
                taken += 1
            except Exception:  # the point of the test: a broad except inside a method
                pass
    assert budget.steps == 3 and taken == 2 and float(p.detach()) == -3.0  # the third step completed, then stopped


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "10"])
def test_bad_budgets_are_refused_before_work(setup, bad):
    with pytest.raises(ValueError, match="max_steps"):
        _run(setup, "finetune", max_steps=bad)


def test_retrain_is_never_budgeted(setup):
    with pytest.raises(ValueError, match="max_steps: 'retrain' is the reference"):
        _run(setup, "retrain", config=None, max_steps=5)


def test_budget_steps_are_fractions_of_retrain():
    assert budget_steps(400) == {0.02: 8, 0.05: 20, 0.1: 40, 0.25: 100}
    assert budget_steps(10, [0.02]) == {0.02: 1}  # never zero steps
    with pytest.raises(ValueError, match="equal budgets"):
        budget_steps(20, [0.02, 0.05])
    for bad, match in [(0, "retrain_steps"), (1.5, "retrain_steps")]:
        with pytest.raises(ValueError, match=match):
            budget_steps(bad)
    for bad in ([], [0.0], [1.5], ["x"]):
        with pytest.raises(ValueError, match="fractions"):
            budget_steps(100, bad)


# --- budget rows in an experiment, and tuning at the budget over several seeds ---------------------------

SMALL = {"model": "small_cnn", "model_kwargs": {"num_classes": 4, "width": 0.25}, "train_config": {"epochs": 2, "batch_size": 32}}


@pytest.fixture(scope="module")
def experiments(shared_quadrant_images):
    from unlearn_lib.data import make_forget_split
    from unlearn_lib.studies.classifiers import ClassifierExperiment
    from unlearn_lib.tasks import ClassificationTask

    data = shared_quadrant_images
    out = []
    for seed in (0, 1):
        split = make_forget_split(data.labels, "class", forget_class=1, seed=seed, val_fraction=0.2)
        exp, _ = ClassifierExperiment.prepare(data, data, split, ClassificationTask(4), seed=seed, device="cpu", mia_folds=2, **SMALL)
        out.append(exp)
    return out


def test_a_budget_row_records_equal_steps_for_every_method_and_retrains_by_the_recipe(experiments):
    from unlearn_lib.results import ResultsRecorder

    exp = experiments[0]
    rec = ResultsRecorder("t", "d", "m")
    exp.run(["retrain", "finetune", "neggrad_plus", "ssd"], rec, "class", {"finetune": {"epochs": 1}}, max_steps=5, budget=0.1)
    df = rec.frame()
    steps = df[(df.metric == "steps")].set_index("method").value
    assert steps["finetune"] == steps["neggrad_plus"] == 5
    assert steps["retrain"] == exp.results["retrain"].steps and steps["retrain"] > 5  # the reference is never budgeted
    under = df[df.metric == "under_budget"].set_index("method").value
    assert under.to_dict() == {"finetune": 0.0, "neggrad_plus": 0.0, "ssd": 1.0}  # SSD takes no steps: labelled, not hidden
    assert set(df.budget.dropna()) == {0.1} and df.budget.notna().all()


def test_tuning_at_a_budget_runs_every_candidate_on_every_seed_at_that_budget(experiments):
    from unlearn_lib.experiments.tuning import tune_methods
    from unlearn_lib.results import ResultsRecorder

    rec = ResultsRecorder("t", "d", "m")
    res = tune_methods(experiments, ["retrain", "finetune"], rec, "class", factors=[0.3, 1.0, 3.0], max_steps=4, budget=0.1)
    rows = rec.frame()
    assert set(rows.budget) == {0.1} and set(rows.seed) == {0, 1}  # every candidate row says its budget and seed
    cand = res.candidates
    assert (cand.seeds == 2).all() and (cand.steps == 2 * 4).all()  # 3 candidates x 2 seeds, each 4 steps
    assert cand.picked.sum() == 1 and set(res.picks) == {"retrain", "finetune"}
    with pytest.raises(ValueError, match="distinct experiments"):
        tune_methods([experiments[0], experiments[0]], ["finetune"], None, "class")


def test_an_experiment_without_budgets_refuses_max_steps():
    from unlearn_lib.experiments.base import Experiment

    class Plain(Experiment):
        modality = "classification"

    plain = Plain()
    plain.original, plain.recipe, plain.seed, plain.results = None, None, 0, {}
    with pytest.raises(ValueError, match="max_steps: Plain runs every method on its own schedule"):
        plain.run(["finetune"], None, "class", max_steps=5)  # type: ignore[arg-type]


def _budget_rows(gaps: dict[tuple[str, float], list[float]]) -> pd.DataFrame:
    """Tidy budget rows of scenario "class": each (method, budget) with one gap per seed, and steps."""
    out = []
    for (method, budget), values in gaps.items():
        for seed, v in enumerate(values):
            for split, metric, value in [
                ("average", "gap_to_retrain", v),
                ("all", "steps", budget * 1000),
                ("all", "seconds", budget * 10),
                ("all", "under_budget", 0.0),
            ]:
                out.append(
                    {
                        "scenario": "class",
                        "method": method,
                        "seed": seed,
                        "split": split,
                        "metric": metric,
                        "value": value,
                        "budget": budget,
                    }
                )
    return pd.DataFrame(out)


def test_the_frontier_names_a_clear_best_only_when_its_lead_survives_the_seeds():
    planted = _budget_rows(
        {
            ("scrub", 0.05): [0.05, 0.06, 0.04, 0.05, 0.05],
            ("finetune", 0.05): [0.20, 0.22, 0.19, 0.21, 0.20],
            ("finetune", 0.25): [0.01, 0.02, 0.01, 0.01, 0.02],  # better, but beyond a tenth of retrain's cost
        }
    )
    table = frontier(planted, "class")
    assert list(table.columns[:4]) == ["method", "budget", "mean", "lo"] and len(table) == 3
    best = best_within(planted, "class", 0.10)
    assert (best["method"], best["verdict"], best["runner_up"]) == ("scrub", "clear", "finetune")
    null = _budget_rows({("scrub", 0.05): [0.05, 0.15, 0.02, 0.12, 0.08], ("finetune", 0.05): [0.09, 0.06, 0.13, 0.04, 0.10]})
    assert best_within(null, "class", 0.10)["verdict"] == "tied"
    one_seed = _budget_rows({("scrub", 0.05): [0.05], ("finetune", 0.05): [0.30]})
    assert best_within(one_seed, "class", 0.10)["verdict"] == "tied"  # a single seed is never a result
    with pytest.raises(ValueError, match="no budget row at or below 2%"):
        best_within(planted, "class", 0.02)
    fig = frontier_figure(table, title="class")
    assert fig.axes[0].get_legend() is not None


def _with_original(budget: pd.DataFrame, original: list[float], acc: dict[str, list[float]]) -> pd.DataFrame:
    """``budget`` rows plus the unbudgeted grid scenario "grid": the original's gap per seed, and forget
    accuracy of the original, retrain and every budget run (``acc`` by method; budget runs keyed
    "method@budget")."""
    rows = [
        {"scenario": "grid", "method": "original", "seed": s, "split": "average", "metric": "gap_to_retrain", "value": v, "budget": np.nan}
        for s, v in enumerate(original)
    ]
    for key, values in acc.items():
        method, _, at = key.partition("@")
        for s, v in enumerate(values):
            rows.append(
                {
                    "scenario": "budget:grid" if at else "grid",
                    "method": method,
                    "seed": s,
                    "split": "forget",
                    "metric": "accuracy",
                    "value": v,
                    "budget": float(at) if at else np.nan,
                }
            )
    return pd.concat([budget.assign(scenario="budget:grid"), pd.DataFrame(rows)], ignore_index=True)


def test_the_frontier_starts_at_doing_nothing_and_never_names_a_run_that_does_not_beat_it():
    gaps = {
        ("scrub", 0.05): [0.05, 0.06, 0.04, 0.05, 0.05],  # acted: far below the original's gap of ~0.30
        ("finetune", 0.05): [0.30, 0.31, 0.29, 0.30, 0.30],  # the original's gap: its rate did nothing
    }
    acc = {
        "original": [1.0] * 5,
        "retrain": [0.6] * 5,
        "scrub@0.05": [0.62, 0.61, 0.63, 0.60, 0.62],
        "finetune@0.05": [0.99, 1.0, 0.98, 1.0, 0.99],
    }
    df = _with_original(_budget_rows(gaps), [0.30, 0.31, 0.29, 0.30, 0.30], acc)
    table = frontier(df, "budget:grid", original="grid")
    assert table.iloc[0].method == "original" and table.iloc[0].steps == 0 and table.iloc[0]["mean"] == pytest.approx(0.30)
    labels = table.set_index("method").label
    assert labels["scrub"] == "beats doing nothing" and labels["finetune"] == "tuned to identity"
    best = best_within(df, "budget:grid", 0.10, original="grid")
    assert best["method"] == "scrub" and best["verdict"] == "only candidate"  # finetune did not act: not a rival
    assert best["original"] == pytest.approx(0.30) and best["vs original"].startswith("+0.25")

    idle = {("scrub", 0.05): [0.30, 0.31, 0.29, 0.30, 0.30], ("finetune", 0.05): [0.30, 0.30, 0.29, 0.31, 0.30]}
    idle_acc = acc | {"scrub@0.05": [1.0, 0.99, 1.0, 1.0, 0.99]}
    df = _with_original(_budget_rows(idle), [0.30, 0.31, 0.29, 0.30, 0.30], idle_acc)
    best = best_within(df, "budget:grid", 0.10, original="grid")
    assert (best["method"], best["verdict"]) == ("original", "no method beats doing nothing")

    moved = {("scrub", 0.05): [0.45, 0.40, 0.50, 0.42, 0.47]}  # acted (forget accuracy fell) and overshot
    df = _with_original(_budget_rows(moved), [0.30, 0.31, 0.29, 0.30, 0.30], acc | {"scrub@0.05": [0.2] * 5})
    assert frontier(df, "budget:grid", original="grid").set_index("method").label["scrub"] == "worse than doing nothing"
    fig = frontier_figure(frontier(df, "budget:grid", original="grid"))
    assert "original (do nothing)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    with pytest.raises(ValueError, match="original='nowhere'"):
        frontier(df, "budget:grid", original="nowhere")


def test_a_model_that_diverged_is_recorded_and_labelled_instead_of_stopping_the_study(experiments):
    """A pick too hot for one seed once gave NaN outputs, and the MIA's refusal of NaN losses stopped
    notebook 02 after 21 min. The model is measured (its non-numbers count as wrong predictions),
    ``all/diverged`` says so, and its budget row is labelled and never ranked."""
    from unlearn_lib.results import ResultsRecorder

    exp = experiments[0]
    net = exp.factory()
    net.load_state_dict(exp.original.state_dict())
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    values = exp.evaluate(net)
    assert values[("all", "diverged")] == 1.0
    assert values[("forget", "accuracy")] == 0.0 and values[("test", "accuracy")] == 0.0  # no class was predicted
    assert 0.0 <= values[("forget", "mia")] <= 1.0 and np.isfinite(values[("forget", "loss")])
    assert exp.evaluate(exp.original)[("all", "diverged")] == 0.0
    rec = ResultsRecorder("t", "d", "m")
    exp.run(["finetune"], rec, "class", {"finetune": {"epochs": 1, "lr": 1e6}}, max_steps=3, budget=0.1)
    assert rec.frame().query("metric == 'diverged'").value.notna().all()  # recorded whether or not this rate blew up

    gaps = {("scrub", 0.05): [0.05, 0.06, 0.04, 0.05, 0.05], ("finetune", 0.05): [0.04, 0.05, 0.03, 0.04, 0.04]}
    acc = {"original": [1.0] * 5, "retrain": [0.6] * 5, "scrub@0.05": [0.62] * 5, "finetune@0.05": [0.6] * 5}
    df = _with_original(_budget_rows(gaps), [0.30, 0.31, 0.29, 0.30, 0.30], acc)
    flags = df[(df.metric == "steps")].assign(metric="diverged", value=0.0)
    flags.loc[(flags.method == "finetune") & (flags.seed == 3), "value"] = 0.4
    df = pd.concat([df, flags], ignore_index=True)
    labels = frontier(df, "budget:grid", original="grid").set_index("method").label
    assert labels["finetune"] == "diverged on 1 of 5 seeds" and labels["scrub"] == "beats doing nothing"
    legend = [t.get_text() for t in frontier_figure(frontier(df, "budget:grid", original="grid")).axes[0].get_legend().get_texts()]
    assert legend.count("diverged on some seed") == 1  # the diverged point is crossed out in the figure too
    assert "diverged on some seed" not in [
        t.get_text()
        for t in frontier_figure(frontier(df[df.metric != "diverged"], "budget:grid", original="grid")).axes[0].get_legend().get_texts()
    ]
    best = best_within(df, "budget:grid", 0.10, original="grid")
    assert best["method"] == "scrub" and best["verdict"] == "only candidate"  # the lower gap diverged: not a rival
