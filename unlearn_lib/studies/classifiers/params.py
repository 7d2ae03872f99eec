"""Parameters of the classifier notebooks 01 and 02 (and the classifier base 04 builds on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...config import check_methods
from ...params import (
    NotebookParams,
    _at_least,
    _check_classes,
    _check_dataset,
    _check_model,
    _check_train_recipe,
    _distinct,
    _fail,
    _non_empty,
    _strategy_maker,
    register_params,
)
from ...registry import closest


@dataclass(kw_only=True)
class ClassifierParams(NotebookParams):
    """A classifier study on a registered dataset: the data, the model and the original's recipe."""

    dataset: str
    dataset_kwargs: dict[str, Any]
    model: str
    model_kwargs: dict[str, Any]
    recipe: dict[str, Any]

    def check(self) -> None:
        super().check()
        _check_dataset(self.dataset, self.dataset_kwargs, "classification")
        _check_model(self.model)
        _check_train_recipe(self.recipe)


def _check_seeds(seeds: Sequence[int]) -> None:
    _non_empty("seeds", seeds)
    _distinct("seeds", seeds)
    _at_least({f"seeds[{i}]": s for i, s in enumerate(seeds)}, 0)


@dataclass(kw_only=True)
class GradedForgetParams(ClassifierParams):
    """The forget sets with a signal by design (memorisation-graded and mislabelled), shared by 01 and 02."""

    seeds: list[int]
    #: Examples per memorisation request (the same for every level).
    memorisation_n: int
    #: Models on random halves behind the memorisation score (even; the estimator wants 16 or more).
    memorisation_models: int
    #: Share of the training labels flipped before the mislabelled request's original is trained.
    mislabel_fraction: float
    #: Test examples evaluated (a stratified, seeded subsample; evaluation passes dominate small runs).
    test_size: int

    def check(self) -> None:
        super().check()
        _check_seeds(self.seeds)
        _at_least({"memorisation_n": self.memorisation_n, "test_size": self.test_size}, 1)
        if self.memorisation_models < 2 or self.memorisation_models % 2:
            _fail("memorisation_models", "an even int >= 2 (complementary halves come in pairs)", self.memorisation_models)
        if not 0 < self.mislabel_fraction <= 0.5:
            _fail("mislabel_fraction", "a float in (0, 0.5]", self.mislabel_fraction)


# -- the notebooks -----------------------------------------------------------------------------------


@register_params("01_quickstart")
@dataclass(kw_only=True)
class QuickstartParams(GradedForgetParams):
    forget_class: int
    selective_n: int
    methods: list[str]
    hparams: dict[str, dict[str, Any]]

    def check(self) -> None:
        super().check()
        _at_least({"forget_class": self.forget_class}, 0)
        _at_least({"selective_n": self.selective_n}, 1)
        check_methods(self.methods, self.hparams, _strategy_maker("classification"))

    def check_data(self, bundle: Any) -> None:
        _check_classes(bundle, forget_class=self.forget_class)


SCENARIOS_02 = ("class", "selective", "random", "high-memorisation", "mislabelled")


@register_params("02_scrub_and_baselines")
@dataclass(kw_only=True)
class BaselinesParams(GradedForgetParams):
    train_size: int
    forget_class: int
    selective_n: int
    random_fraction: float
    methods: dict[str, list[str]]
    hparams: dict[str, dict[str, Any]]
    confusion_pair: list[int]
    confusion_n: int
    confusion_methods: list[str]
    fq_k: int
    fq_methods: list[str]
    #: Forget quality and U-LiRA run on these scenarios, at each of these seeds (a subset of ``seeds``).
    fq_scenarios: list[str]
    fq_seeds: list[int]
    tuning_factors: list[float]
    min_signal_accuracy: float
    min_signal_mia: float
    #: Budget rows: optimizer-step budgets as fractions of retrain's steps, the methods that compete at
    #: them, and the scenarios that get them (each only where it has a signal).
    budget_fractions: list[float]
    budget_methods: list[str]
    budget_scenarios: list[str]

    def check(self) -> None:
        super().check()
        _at_least({"train_size": self.train_size, "selective_n": self.selective_n}, 1)
        _at_least({"forget_class": self.forget_class}, 0)
        _at_least({"confusion_n": self.confusion_n}, 1)
        _at_least({"fq_k": self.fq_k}, 2)
        _non_empty("fq_seeds", self.fq_seeds)
        _distinct("fq_seeds", self.fq_seeds)
        if not set(self.fq_seeds) <= set(self.seeds):
            _fail("fq_seeds", f"seeds of the run, from seeds {self.seeds}", self.fq_seeds)
        _non_empty("fq_scenarios", self.fq_scenarios)
        _distinct("fq_scenarios", self.fq_scenarios)
        if not 0 < self.random_fraction < 1:
            _fail("random_fraction", "a float in (0, 1)", self.random_fraction)
        _non_empty("tuning_factors", self.tuning_factors)
        _distinct("tuning_factors", self.tuning_factors)
        if any(f <= 0 for f in self.tuning_factors):
            _fail("tuning_factors", "distinct positive factors of each method's configured knob", self.tuning_factors)
        for name in ("min_signal_accuracy", "min_signal_mia"):
            if not 0 <= getattr(self, name) <= 1:
                _fail(name, "a float in [0, 1]", getattr(self, name))
        if len(self.confusion_pair) != 2 or self.confusion_pair[0] == self.confusion_pair[1] or min(self.confusion_pair) < 0:
            _fail("confusion_pair", "two different class labels [a, b]", self.confusion_pair)
        if not self.methods:
            _fail("methods", f"a non-empty dict {{scenario: [method, ...]}} with scenarios among {list(SCENARIOS_02)}", self.methods)
        for scenario in self.methods:
            if scenario not in SCENARIOS_02:
                raise ValueError(
                    f"methods: unknown scenario {scenario!r}{closest(scenario, SCENARIOS_02)}; scenarios: {list(SCENARIOS_02)}"
                )
        if not set(self.fq_scenarios) <= set(self.methods):
            _fail("fq_scenarios", f"scenarios of methods (each needs its split), from {list(self.methods)}", self.fq_scenarios)
        lists = {
            **{f"methods.{s}": m for s, m in self.methods.items()},
            "confusion_methods": self.confusion_methods,
            "fq_methods": self.fq_methods,
        }
        for where, names in lists.items():
            try:
                check_methods(names, {}, _strategy_maker("classification"))
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
        _distinct("budget_fractions", self.budget_fractions)
        if any(not 0 < f <= 1 for f in self.budget_fractions):
            _fail("budget_fractions", "distinct fractions of retrain's optimizer steps in (0, 1]", self.budget_fractions)
        if self.budget_fractions or self.budget_methods or self.budget_scenarios:  # all three, or none (no budget rows)
            for name in ("budget_fractions", "budget_methods", "budget_scenarios"):
                _non_empty(name, getattr(self, name))
            try:
                check_methods(self.budget_methods, {}, _strategy_maker("classification"))
            except ValueError as err:
                raise ValueError(f"budget_methods: {err}") from None
            if "retrain" in self.budget_methods:
                _fail("budget_methods", "unlearning methods (retrain is the reference: it always repeats the recipe)", self.budget_methods)
            for sc in self.budget_scenarios:
                if sc not in self.methods or "retrain" not in self.methods[sc]:
                    _fail(
                        "budget_scenarios",
                        f"scenarios of methods that run retrain (budgets are fractions of its steps), from {list(self.methods)}",
                        self.budget_scenarios,
                    )
            lists["budget_methods"] = self.budget_methods
        named = dict.fromkeys(m for names in lists.values() for m in names)
        check_methods(list(named), self.hparams, _strategy_maker("classification"))

    def check_data(self, bundle: Any) -> None:
        _check_classes(bundle, forget_class=self.forget_class, confusion_pair=self.confusion_pair)
