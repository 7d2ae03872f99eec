"""The one experiment skeleton that classifier, segmentation and GAN experiments specialise.

Every study does the same five things: build the data and the forget split, train (or load) the
original with a :class:`~unlearn_lib.training.Recipe`, run each method through one ``unlearn`` call,
evaluate it with the task's metrics, and record tidy rows. :meth:`Experiment.run` is that loop, once;
a specialisation says only what differs:

* :meth:`Experiment.unlearn_method` - the one call that unlearns (``unlearn`` or ``unlearn_gan``);
* :meth:`Experiment.evaluate` - ``{(split, metric): value}`` of one model;
* :meth:`Experiment.compare` - optional comparisons with the reference (gaps, divergences).

Names are shared by every study: the untouched model is ``original``, exact unlearning is the
experiment's :attr:`Experiment.reference` (``retrain``, ``gan_retrain``), time is ``seconds`` and the
ratio to the reference's time is ``speed_up``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from ..cache import ArtifactCache, ArtifactInfo, fingerprint, recipe_parts
from ..config import StrategyConfig, check_methods, resolve_config
from ..metrics import speed_up
from ..models import build_model
from ..results import ResultsRecorder
from ..strategies.base import UnlearnResult, get_strategy
from ..training import Recipe, train_model
from ..utils import progress, resolve_device

__all__ = ["Experiment", "Values", "cached_retrain", "model_factory", "train_or_load", "training_parts"]

#: One model's metrics: ``{(split, metric): value}``.
Values = dict[tuple[str, str], float]


class Experiment:
    """Base of every experiment: the run loop, the registry checks and the shared comparisons.

    Subclasses hold ``original`` (the model before unlearning), ``recipe`` (how it was trained),
    ``seed`` and ``results`` (method -> result of the latest run), and set :attr:`modality`.
    """

    modality: ClassVar[str] = ""
    #: Whether :meth:`run` can hold methods to an optimizer-step budget (``max_steps``).
    budgeted: ClassVar[bool] = False
    #: The method every other is compared with: exact unlearning by retraining with ``recipe``.
    reference: ClassVar[str] = "retrain"

    original: Any
    recipe: Any
    seed: int
    results: dict[str, Any]

    # -- what a specialisation provides --------------------------------------------------------------

    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str) -> Any:
        """Run one method from the original; return its result (``.model`` or ``.gan``, ``.seconds``)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def evaluate(self, model: Any) -> Values:
        raise NotImplementedError  # pragma: no cover - abstract

    def evaluate_method(self, method: str, result: Any) -> Values:
        """The values of one method's result (a subclass may keep more, e.g. outputs for :meth:`compare`)."""
        return self.evaluate(_model_of(result))

    def evaluate_original(self) -> Values:
        """The original's values (a subclass may cache them: the original does not change)."""
        return self.evaluate(self.original)

    def compare(self, per_method: dict[str, Values]) -> None:
        """Add comparisons with :attr:`reference` to every method's values (none by default)."""

    def record_examples(self, recorder: ResultsRecorder, scenario: str, methods: Sequence[str], **extra: Any) -> None:
        """Record per-example outputs of this run's models (``recorder.add_examples``; none by default)."""

    def original_cost(self) -> tuple[float | None, int | None]:
        """The original's training seconds and optimizer steps where the experiment trained (or loaded) it
        itself: :meth:`run` records them as the original's cost unless given others. None by default."""
        return None, None

    def row_columns(self) -> dict[str, Any]:
        """Explicit result columns of every row this experiment records (e.g. its request's ``group``)."""
        return {}

    def begin_run(self, recorder: ResultsRecorder, scenario: str, **extra: Any) -> None:
        """After every check, before the first method: e.g. record the original's epoch-0 curve row."""

    def end_run(self, scenario: str, per_method: dict[str, Values]) -> None:
        """After every row is recorded: e.g. keep this run's models for figures."""

    # -- the shared loop ---------------------------------------------------------------------------

    def make_config(self, method: str, config: StrategyConfig | Mapping[str, Any] | None) -> StrategyConfig:
        """Validate ``config`` for ``method``, refusing a strategy of another modality."""
        return resolve_config(method, get_strategy(method, self.modality).Config, config)

    def check(self, methods: Sequence[str], hparams: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every method name, modality and config, and the recipe the reference repeats, before any work."""
        if isinstance(methods, str) or not list(methods):
            raise ValueError(f"methods must be a non-empty list of registered strategies, got {methods!r}")
        hparams = check_methods(methods, hparams, self.make_config)
        needing = [m for m in methods if get_strategy(m).needs_recipe]
        if needing and self.recipe is None:
            raise ValueError(
                f"{needing} repeat the original model's training recipe, but this experiment has none: train the original "
                "through the experiment (it keeps the recipe) or pass recipe= (the Recipe the original was trained with)"
            )
        return hparams

    def run(
        self,
        methods: Sequence[str],
        recorder: ResultsRecorder,
        scenario: str,
        hparams: Mapping[str, Mapping[str, Any]] | None = None,
        original_seconds: float | None = None,
        *,
        original_steps: int | None = None,
        include_original: bool = True,
        max_steps: int | None = None,
        **extra: Any,
    ) -> dict[str, Values]:
        """Unlearn with every method, evaluate, compare with the reference, record one row per number.

        ``max_steps`` holds every method but the reference to that many optimizer steps (a budget row:
        see :mod:`unlearn_lib.experiments.budgets`; pass ``budget=`` the fraction of retrain's steps it
        is, so its rows say which row they belong to); the reference always repeats the original's recipe.

        ``original_seconds`` (the original's training time; default: :meth:`original_cost`) is recorded as
        its ``seconds``; ``speed_up`` is the reference's seconds over each method's, measured in this run.
        ``extra`` are explicit result columns of every row (:data:`unlearn_lib.results.EXTRA_COLUMNS`),
        beside the experiment's own :meth:`row_columns`. A specialisation adds work around this loop with
        :meth:`begin_run` and :meth:`end_run`, never by overriding it.
        """
        if max_steps is not None and not self.budgeted:
            raise ValueError(f"max_steps: {type(self).__name__} runs every method on its own schedule; step budgets are not supported here")
        hparams = self.check(methods, hparams)
        extra = {**self.row_columns(), **extra}
        known_seconds, known_steps = self.original_cost()
        original_seconds = known_seconds if original_seconds is None else original_seconds
        original_steps = known_steps if original_steps is None else original_steps
        self.begin_run(recorder, scenario, **extra)
        per_method: dict[str, Values] = {"original": dict(self.evaluate_original())} if include_original else {}
        seconds: dict[str, float] = {} if original_seconds is None or not include_original else {"original": float(original_seconds)}
        steps: dict[str, int] = {} if original_steps is None or not include_original else {"original": int(original_steps)}
        for method in progress(methods, desc=f"{scenario}: methods", leave=True):
            if max_steps is None or method == self.reference:
                res = self.unlearn_method(method, hparams.get(method), recorder, scenario)
            else:
                res = self.unlearn_method(method, hparams.get(method), recorder, scenario, max_steps=max_steps)  # type: ignore[call-arg]
            self.results[method] = res
            per_method[method] = self.evaluate_method(method, res)
            if getattr(res, "max_steps", None) is not None:  # a budget row: which runs spent it, which stopped sooner
                per_method[method][("all", "max_steps")] = float(res.max_steps)
                per_method[method][("all", "under_budget")] = float(res.budget == "under")
            seconds[method] = res.seconds
            if getattr(res, "steps", None) is not None:
                steps[method] = int(res.steps)
        for method, values in per_method.items():
            if method in seconds:
                values[("all", "seconds")] = seconds[method]
                if method in steps:  # the cost in optimizer steps beside the cost in seconds
                    values[("all", "steps")] = float(steps[method])
                recorder.add_time(f"{scenario}/{method}/seed{self.seed}", seconds[method])
        if self.reference in per_method:
            self.compare(per_method)
            for method, values in per_method.items():
                if method in seconds and method != "original":
                    values[("all", "speed_up")] = speed_up(seconds[self.reference], seconds[method])
        for method, values in per_method.items():
            recorder.add_many(scenario=scenario, method=method, seed=self.seed, values=values, **extra)
        self.record_examples(recorder, scenario, list(per_method), **extra)
        self.end_run(scenario, per_method)
        return per_method


def model_factory(name: str, seed: int, **kwargs: Any) -> Callable[[], nn.Module]:
    """A zero-argument builder whose initial weights depend only on ``seed``: retraining (and EU-k,
    Bad Teacher) start from the same initialisation the original did."""
    build_model(name, **kwargs)  # validate name and arguments now, before any work

    def make() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return build_model(name, **kwargs)

    return make


def training_parts(
    data: Any, model: str, model_kwargs: Mapping[str, Any], init_seed: int, seed: int, recipe: Any, task: Any, device: Any
) -> dict[str, Any]:
    """The cache key parts of a model trained from scratch: everything its weights depend on (the
    data, the model and its arguments, the initialisation and training seeds, the recipe and its code,
    the task's loss, the device type and, on the CPU, the thread count, since oneDNN's and MKL's
    reductions depend on it: a cached model is then bit for bit the one training would give here)."""
    task_fields = {k: v for k, v in vars(task).items() if isinstance(v, (bool, int, float, str))}
    dev = resolve_device(device)
    return {
        "data": fingerprint(data),
        "model": model,
        "model_kwargs": dict(model_kwargs),
        "init_seed": int(init_seed),
        "seed": int(seed),
        "recipe": recipe_parts(recipe),
        "task": {"type": type(task).__qualname__, **task_fields},
        "device": dev.type,
        **({"cpu_threads": torch.get_num_threads()} if dev.type == "cpu" else {}),
    }


def train_or_load(
    kind: str,
    data: Any,
    model: str,
    model_kwargs: Mapping[str, Any],
    recipe: Recipe,
    task: Any,
    device: Any,
    seed: int,
    *,
    cache: ArtifactCache | None = None,
    factory: Callable[[], nn.Module] | None = None,
    desc: str | None = None,
) -> tuple[nn.Module, ArtifactInfo]:
    """A model trained from scratch on ``data`` with ``recipe`` (initialisation and training seeded by
    ``seed``), or the same model read from the artifact cache (``cache``, default ``ArtifactCache()``).

    Why one function: every study's original (classifiers, the medical study, segmentation, the GAN's
    evaluator) is "train this recipe on this data, unless the cache has it". Written once, its cache key
    (:func:`training_parts`) and its training call cannot drift apart between studies. ``factory``
    replaces the seeded :func:`model_factory` where building the model checks more (the GAN evaluator's
    features). The returned info says whether it was trained now and what it cost (seconds, steps).
    """
    kwargs = dict(model_kwargs)
    build = factory if factory is not None else model_factory(model, seed, **kwargs)
    store = cache if cache is not None else ArtifactCache()

    def fit(net: nn.Module) -> float:
        return train_model(net, data, task, recipe, device=device, seed=seed, desc=desc or kind)[1]

    parts = training_parts(data, model, kwargs, seed, seed, recipe, task, device)
    return store.load_or_train(kind, parts, build, fit, device=resolve_device(device))


def cached_retrain(
    cache: ArtifactCache,
    parts: Mapping[str, Any],
    factory: Callable[[], nn.Module],
    run: Callable[[Callable[[], nn.Module]], UnlearnResult],
    recipe: Any,
    device: Any,
) -> UnlearnResult:
    """The ``retrain`` reference through the cache.

    ``run(factory)`` is the experiment's own ``unlearn("retrain", ..., model_factory=factory)`` call, so
    a miss computes exactly what it computed without a cache. A hit returns the stored model with the
    stored, measured training time as ``seconds`` (so speed-ups divide by a real training's time) and
    ``cached=True``; either way ``provenance`` is the :class:`~unlearn_lib.cache.ArtifactInfo`.
    """
    trained: list[UnlearnResult] = []

    def train(model: nn.Module) -> float:
        trained.append(run(lambda: model))
        return trained[0].seconds

    model, info = cache.load_or_train("retrain", parts, factory, train, device=resolve_device(device))
    if trained:
        trained[0].provenance = info
        return trained[0]
    return UnlearnResult("retrain", model, info.seconds, recipe.to_dict(), [], cached=True, provenance=info, steps=info.steps)


def _model_of(result: Any) -> nn.Module | Any:
    return result.gan if hasattr(result, "gan") else result.model
