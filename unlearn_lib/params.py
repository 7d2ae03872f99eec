"""Every notebook's parameters as one typed schema, checked before any work.

The batch checks each task's parameters (the notebook's defaults, the profile, ``--set``) with
:func:`check_parameters` before the first task starts, and every notebook's ``start(...)`` checks them
again, so a notebook run by hand is refused just as early. Types are exact (an ``int`` refuses ``3.7``
and ``True``), method names and their hyper-parameters are built with the strategies' own configs,
recipes with the recipes' own, and an unknown name is refused with the closest valid one.

What only the data can tell (is ``forget_class`` one of its classes?) is checked by
:meth:`NotebookParams.check_data` as soon as the notebook loads its dataset, still before training.

A notebook without a registered schema (``@register_params``) gets the header's checks only
(``seed``, ``device``, ``threads``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .config import StrategyConfig, TypedConfig, check_methods, resolve_config
from .registry import closest

__all__ = [
    "HEADER",
    "NotebookParams",
    "check_parameters",
    "params_schema",
    "register_params",
]

#: The header every notebook's ``start(...)`` takes besides ``parameters``.
HEADER = ("seed", "device", "threads")
#: Set by the batch or the notebook's header, never part of a schema.
PLACES = ("output_dir", "figures_dir", "run_id")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

P = TypeVar("P", bound="NotebookParams")
_SCHEMAS: dict[str, type[NotebookParams]] = {}


def register_params(stem: str) -> Callable[[type[P]], type[P]]:
    """Make ``cls`` the parameter schema of notebook ``stem`` (checked by the batch and by ``start``)."""

    def deco(cls: type[P]) -> type[P]:
        _SCHEMAS[stem] = cls
        return cls

    return deco


def params_schema(stem: str) -> type[NotebookParams] | None:
    """The registered schema of notebook ``stem``, or None (header checks only)."""
    return _SCHEMAS.get(stem)


@dataclass(kw_only=True)
class NotebookParams(TypedConfig):
    """The header every notebook shares. ``threads`` is pinned (0 is torch's machine-dependent default)."""

    seed: int = 0
    device: str = "auto"
    threads: int = 1

    @classmethod
    def _noun(cls) -> str:
        return "parameter"

    @classmethod
    def _where(cls, name: str) -> str:
        return f"parameter {name}"

    def check(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be an int >= 0 (0: torch's default), got {self.threads!r}")
        if not _DEVICE.match(self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}")

    def check_data(self, bundle: Any) -> None:
        """Checks that need the loaded data (class ranges, sizes); none for the header."""


def check_parameters(stem: str, values: Mapping[str, Any]) -> NotebookParams:
    """Check one notebook's parameters; returns the schema instance. ``output_dir``, ``figures_dir`` and
    ``run_id`` are ignored (the batch and ``start`` check those).

    Raises:
        ValueError: a wrong type, an unknown or missing parameter, a value out of range, an unknown
            method or hyper-parameter, a path that does not exist; the message starts with the notebook.
    """
    values = {k: v for k, v in values.items() if k not in PLACES}
    schema = params_schema(stem)
    try:
        if schema is None:
            return NotebookParams.from_dict({k: values[k] for k in HEADER if k in values})
        return schema.from_dict(values)
    except ValueError as err:
        raise ValueError(f"{stem}: {err}") from None


# -- shared pieces ---------------------------------------------------------------------------------


def _fail(name: str, expected: str, value: Any) -> None:
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def _at_least(values: Mapping[str, Any], low: int | float) -> None:
    for name, value in values.items():
        if value is not None and value < low:
            _fail(name, f">= {low}", value)


def _non_empty(name: str, value: Sequence[Any]) -> None:
    if len(value) == 0:
        _fail(name, "a non-empty list", value)


def _distinct(name: str, value: Sequence[Any]) -> None:
    twice = sorted({v for v in value if list(value).count(v) > 1}, key=str)
    if twice:
        raise ValueError(f"{name} repeats {twice}")


def _check_dataset(name: str, kwargs: Mapping[str, Any], modality: str) -> None:
    """A registered dataset of ``modality``, its parameters known, a ``root`` that exists and is readable."""
    from .data.registry import DATASETS, _check_kwargs

    spec = DATASETS.get(name)
    if spec.modality != modality:
        raise ValueError(f"dataset {name!r} is a {spec.modality} dataset; this notebook needs a {modality} one")
    params = spec.parameters()
    accepted = [p for p in params if p != "seed"]
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        hints = "".join(closest(k, accepted) for k in unknown)
        raise ValueError(f"dataset_kwargs: dataset {name!r} does not take {unknown}{hints}; its parameters are {accepted}")
    _check_kwargs(spec, {"seed": 0, **kwargs} if "seed" in params else kwargs)
    root = kwargs.get("root")
    if root is not None:
        check_readable(root, "dataset_kwargs.root")


def check_readable(path: Any, name: str, *, directory: bool | None = None) -> Path:
    """``path`` exists and can be read (and is a directory, or a file, when ``directory`` says so)."""
    if not isinstance(path, (str, os.PathLike)):
        _fail(name, "a path (str)", path)
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"{name}: {p} does not exist")
    if directory is True and not p.is_dir():
        raise ValueError(f"{name}: {p} is not a directory")
    if directory is False and not p.is_file():
        raise ValueError(f"{name}: {p} is not a file")
    if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
        raise ValueError(f"{name}: {p} is not readable")
    return p


def _check_model(name: str) -> None:
    from .models import MODELS

    MODELS.get(name)


def _strategy_maker(modality: str) -> Callable[[str, Any], StrategyConfig]:
    from .strategies.base import get_strategy

    return lambda m, c: resolve_config(m, get_strategy(m, modality).Config, c)


def _check_train_recipe(recipe: Mapping[str, Any]) -> None:
    from .training import TrainConfig

    TrainConfig.from_dict(recipe)


def _check_classes(bundle: Any, **classes: Any) -> None:
    """Each named class (or list of classes) is a class of the loaded training data."""
    import numpy as np

    present = sorted(set(np.unique(bundle.train.labels).tolist()))
    for name, value in classes.items():
        for c in value if isinstance(value, (list, tuple)) else [value]:
            if c not in present:
                raise ValueError(f"{name}={value!r}: class {c} is not in the training data of {bundle.name!r} (classes {present})")


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

    def check(self) -> None:
        super().check()
        _check_seeds(self.seeds)
        _at_least({"memorisation_n": self.memorisation_n}, 1)
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
    test_size: int
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
        _at_least({"train_size": self.train_size, "test_size": self.test_size, "selective_n": self.selective_n}, 1)
        _at_least({"forget_class": self.forget_class}, 0)
        _at_least({"confusion_n": self.confusion_n}, 1)
        _at_least({"fq_k": self.fq_k}, 2)
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


@register_params("04_medical_fairness")
@dataclass(kw_only=True)
class MedicalParams(ClassifierParams):
    seeds: list[int]
    methods: list[str]
    hparams: dict[str, dict[str, Any]]
    forget_fractions: list[float]
    sex_n_forget: int
    sex_seeds: list[int] | None
    equivalence_margin: float
    difficulty_n_forget: int
    difficulty_quantile: float
    tuning_methods: list[str]
    tuning_lr_factors: list[float]
    tuning_epochs: list[int]
    tuning_seeds: list[int]
    tuning_fraction: float
    tune_per_size: bool
    use_tuned: bool
    salun_masks: list[float]
    salun_fraction: float
    early_stop_patience: int | None
    curve_seeds: list[int] | None

    def check(self) -> None:
        super().check()
        if self.early_stop_patience is not None:
            _at_least({"early_stop_patience": self.early_stop_patience}, 1)
            if self.recipe.get("schedule", "cosine") != "constant":
                _fail(
                    "recipe['schedule']",
                    "'constant' when early_stop_patience is set (a cosine run's prefix is not a shorter run)",
                    self.recipe.get("schedule"),
                )
        for name in ("seeds", "forget_fractions", "tuning_lr_factors", "tuning_epochs", "tuning_seeds", "salun_masks"):
            _non_empty(name, getattr(self, name))
        _distinct("seeds", self.seeds)
        _at_least({"sex_n_forget": self.sex_n_forget, "difficulty_n_forget": self.difficulty_n_forget}, 1)
        _at_least({f"tuning_epochs[{i}]": e for i, e in enumerate(self.tuning_epochs)}, 1)
        for name in ("difficulty_quantile", "tuning_fraction", "salun_fraction"):
            if not 0 < getattr(self, name) < 1:
                _fail(name, "a float in (0, 1)", getattr(self, name))
        if not 0 < self.equivalence_margin < 1:
            _fail("equivalence_margin", "a float in (0, 1) (an accuracy difference)", self.equivalence_margin)
        for name in ("forget_fractions", "salun_masks"):
            if not all(0 < f < 1 for f in getattr(self, name)):
                _fail(name, "floats in (0, 1)", getattr(self, name))
        if not all(f > 0 for f in self.tuning_lr_factors):
            _fail("tuning_lr_factors", "floats > 0", self.tuning_lr_factors)
        check_methods(self.methods, self.hparams, _strategy_maker("classification"))
        missing = sorted(set(self.tuning_methods) - set(self.methods))
        if missing:
            hints = "".join(closest(m, self.methods) for m in missing)
            raise ValueError(f"tuning_methods {missing} are not in methods{hints}; methods: {self.methods}")


@register_params("03_segmentation_unlearning")
@dataclass(kw_only=True)
class SegmentationParams(NotebookParams):
    profile: str
    dataset: str
    dataset_kwargs: dict[str, Any]
    heldout_subjects: list[int]
    forget_requests: list[list[int]]
    model_kwargs: dict[str, Any]
    recipe: dict[str, Any]
    roi_size: int | None
    unlearn_patch: int | None
    unlearn_epochs: int
    horizons: list[int]
    eval_epochs: list[int] | None
    eval_retain: int | None
    min_signal: float
    mae_kind: str
    methods: list[str]
    hparams: dict[str, dict[str, Any]]

    def check(self) -> None:
        super().check()
        _check_dataset(self.dataset, self.dataset_kwargs, "segmentation")
        from .models import build_model
        from .segmentation import SegTrainConfig

        build_model("med3d_resnet", **self.model_kwargs)
        SegTrainConfig.from_dict(self.recipe)
        _non_empty("heldout_subjects", self.heldout_subjects)
        _distinct("heldout_subjects", self.heldout_subjects)
        _non_empty("forget_requests", self.forget_requests)
        for i, request in enumerate(self.forget_requests):
            _non_empty(f"forget_requests[{i}]", request)
            _distinct(f"forget_requests[{i}]", request)
            both = sorted(set(request) & set(self.heldout_subjects))
            if both:
                raise ValueError(f"forget_requests[{i}] holds held-out subject(s) {both}: a subject never trained on cannot be forgotten")
        _at_least(
            {
                "unlearn_epochs": self.unlearn_epochs,
                "roi_size": self.roi_size,
                "unlearn_patch": self.unlearn_patch,
                "eval_retain": self.eval_retain,
            },
            1,
        )
        _non_empty("horizons", self.horizons)
        late = [h for h in [*self.horizons, *(self.eval_epochs or [])] if not 1 <= h <= self.unlearn_epochs]
        if late:
            _fail("horizons and eval_epochs", f"epochs in [1, unlearn_epochs={self.unlearn_epochs}]", late)
        missed = sorted(set(self.horizons) - set(self.eval_epochs)) if self.eval_epochs is not None else []
        if missed:
            raise ValueError(f"horizons {missed} are not in eval_epochs {self.eval_epochs}: the horizon tables read the curves there")
        if self.mae_kind not in ("probability", "label"):
            _fail("mae_kind", "'probability' or 'label'", self.mae_kind)
        if not 0 <= self.min_signal < 1:
            _fail("min_signal", "a float in [0, 1)", self.min_signal)
        from .segmentation import with_epochs

        unknown = sorted(set(self.hparams) - set(self.methods))
        if unknown:  # before with_epochs, which would drop them
            check_methods(self.methods, self.hparams, _strategy_maker("segmentation"))
        # Every method's config as the notebook builds it: unlearn_epochs for all but retrain.
        configs = with_epochs(self.methods, self.unlearn_epochs, self.hparams)
        check_methods(self.methods, {m: c for m, c in configs.items() if m in self.hparams or c}, _strategy_maker("segmentation"))

    def check_data(self, bundle: Any) -> None:
        import numpy as np

        subjects = set(np.asarray(bundle.train.meta.get("subject", [])).tolist())
        named = {*self.heldout_subjects, *(s for r in self.forget_requests for s in r)}
        unknown = sorted(named - subjects)
        if unknown:
            raise ValueError(f"subject(s) {unknown} are not in {bundle.name!r} (subjects {sorted(subjects)})")
        if not subjects - set(self.heldout_subjects) - {s for r in self.forget_requests for s in r}:
            raise ValueError("every training subject is in some forget request: some must only be retained")


@register_params("05_gan_unlearning")
@dataclass(kw_only=True)
class GANParams(NotebookParams):
    dataset: str
    dataset_kwargs: dict[str, Any]
    cache_dir: str | None
    train_limit: int | None
    recipe: dict[str, Any]
    evaluator_epochs: int
    classifier_width: float
    n_generated: int
    downstream_epochs: int
    n_items: int
    forget_class: int
    forget_classes: list[int]
    request_sizes: list[int]
    seeds: list[int]
    parts: list[str]
    methods: list[str]
    cascade: dict[str, Any]
    hparams: dict[str, dict[str, Any]]

    def check(self) -> None:
        super().check()
        _check_dataset(self.dataset, self.dataset_kwargs, "classification")
        if self.cache_dir is not None:
            parent = next((p for p in [Path(self.cache_dir).expanduser(), *Path(self.cache_dir).expanduser().parents] if p.exists()), None)
            if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
                raise ValueError(f"cache_dir: {self.cache_dir} is not a directory this process can write (nor can it be created)")
        _at_least({"train_limit": self.train_limit}, 2)
        _at_least(
            {
                "evaluator_epochs": self.evaluator_epochs,
                "n_generated": self.n_generated,
                "downstream_epochs": self.downstream_epochs,
                "n_items": self.n_items,
                **{f"request_sizes[{i}]": n for i, n in enumerate(self.request_sizes)},
            },
            1,
        )
        _at_least({"forget_class": self.forget_class, **{f"forget_classes[{i}]": c for i, c in enumerate(self.forget_classes)}}, 0)
        _non_empty("seeds", self.seeds)
        _at_least({f"seeds[{i}]": v for i, v in enumerate(self.seeds)}, 0)
        if len(set(self.seeds)) != len(self.seeds):
            _fail("seeds", "distinct seeds", self.seeds)
        if len(set(self.forget_classes)) != len(self.forget_classes) or len(self.forget_classes) == 1:
            _fail("forget_classes", "[] or two or more distinct classes (the multi-class request)", self.forget_classes)
        _non_empty("request_sizes", self.request_sizes)
        _non_empty("parts", self.parts)
        from .gan.experiment import plan_requests

        plan_requests(self.parts, self.request_sizes, self.forget_class, self.forget_classes)  # names `parts` when it is bad
        if self.n_items not in self.request_sizes:
            _fail("n_items", f"one of request_sizes {self.request_sizes} (the request its sample grid shows)", self.n_items)
        if self.classifier_width <= 0:
            _fail("classifier_width", "a float > 0", self.classifier_width)
        from .gan import make_gan_config
        from .gan.training import GANTrainConfig

        clash = sorted({"seed", "device"} & set(self.recipe))
        if clash:
            raise ValueError(f"recipe sets {clash}: the notebook's own seed and device are used")
        GANTrainConfig.from_dict({**self.recipe, "seed": self.seed, "device": "cpu"})
        check_methods(self.methods, self.hparams, lambda m, c: make_gan_config(m, None))
        if "gan_cascaded" not in self.methods:
            raise ValueError(f"methods must include 'gan_cascaded' (the study's method; request_sizes runs it), got {self.methods}")
        for m in self.methods:
            if m != "gan_retrain":
                make_gan_config(m, {**self.cascade, **self.hparams.get(m, {})})

    def check_data(self, bundle: Any) -> None:
        _check_classes(bundle, forget_class=self.forget_class)
        for c in self.forget_classes:
            _check_classes(bundle, forget_class=c)
        n = len(bundle.train) if self.train_limit is None else min(self.train_limit, len(bundle.train))
        for name, size in {"n_items": self.n_items, **{f"request_sizes[{i}]": k for i, k in enumerate(self.request_sizes)}}.items():
            if size >= n:
                raise ValueError(f"{name}={size} must be less than the {n} training images (some must be retained)")
