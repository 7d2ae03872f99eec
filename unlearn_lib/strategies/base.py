"""Strategy registry, validated hyper-parameter configs, the unlearning request and shared loops.

A strategy is one class in one file: ``@register("name")``, a ``Config`` dataclass whose defaults come
from its paper, and ``unlearn(model, request)``. It sees data only through ``request`` and the task
interface, so the same code serves classification and segmentation.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from ..cache import ArtifactInfo
from ..config import StrategyConfig, resolve_config
from ..data.datasets import ArrayDataset
from ..loops import batches, cycle, make_optimizer, train_epoch
from ..registry import Registry
from ..tasks import Task
from ..training import Recipe
from ..utils import BudgetSpent, StepBudget, Timer, resolve_device, seed_everything, torch_generator

__all__ = [
    "STRATEGIES",
    "Strategy",
    "StrategyConfig",
    "UnlearnRequest",
    "UnlearnResult",
    "batches",
    "cycle",
    "get_strategy",
    "list_strategies",
    "make_optimizer",
    "register",
    "train_epoch",
    "unlearn",
    "warm_up",
    "warm_up_once",
]

STRATEGIES: Registry = Registry("strategy")


@dataclass
class UnlearnRequest:
    """Everything a strategy may use. ``original`` is a frozen copy of the model before unlearning."""

    retain: Dataset
    forget: Dataset
    task: Task
    original: nn.Module
    device: torch.device
    seed: int = 0
    val: Dataset | None = None
    model_factory: Callable[[], nn.Module] | None = None
    on_epoch: Callable[[nn.Module, int, str], None] | None = None
    #: The original model's training recipe; ``retrain`` repeats it (see :class:`~unlearn_lib.training.Recipe`).
    recipe: Recipe | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Wall time spent in ``on_epoch`` (evaluating curves): taken out of the method's measured seconds.
    callback_seconds: float = 0.0
    _teacher: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    def teacher_logits(self, dataset: Dataset, batch_size: int = 512) -> torch.Tensor | None:
        """The frozen original's logits for every example of ``dataset``, computed once and kept for the
        request (its inputs are not augmented and the teacher never changes, so a per-step forward pass
        recomputes the same numbers: 25 % of a SCRUB run). None for a dataset that is not in memory."""
        if not isinstance(dataset, ArrayDataset):
            return None
        if id(dataset) not in self._teacher:
            with torch.no_grad():
                parts = [
                    self.task.logits(self.original, dataset.x[i : i + batch_size].to(self.device))
                    for i in range(0, len(dataset), batch_size)
                ]
            self._teacher[id(dataset)] = torch.cat(parts) if parts else torch.empty(0)
        return self._teacher[id(dataset)]

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch_generator(self.seed * 1000 + offset)

    def epoch_done(self, model: nn.Module, epoch: int, phase: str = "epoch") -> None:
        """Strategies call this after each epoch so notebooks can record curves (SCRUB, Dice)."""
        if self.on_epoch is not None:
            start = time.perf_counter()
            was_training = model.training
            model.eval()
            with torch.no_grad():
                self.on_epoch(model, epoch, phase)
            model.train(was_training)
            self.callback_seconds += time.perf_counter() - start


@dataclass
class UnlearnResult:
    """The unlearned model, its wall time, the config used and any per-epoch history.

    ``cached`` is true when the model was read from the artifact cache (only the ``retrain`` reference
    is): ``seconds`` is then the training time measured when it was made, and ``provenance`` (an
    :class:`~unlearn_lib.cache.ArtifactInfo`) says where and when.
    """

    method: str
    model: nn.Module
    seconds: float
    config: dict[str, Any]
    history: list[dict[str, Any]]
    cached: bool = False
    provenance: ArtifactInfo | None = None
    #: Optimizer steps taken (counted by :class:`~unlearn_lib.utils.Timer`; a cached reference's are
    #: those of its training, None when its provenance predates step counting).
    steps: int | None = None
    #: The optimizer-step budget it ran at (``unlearn(max_steps=...)``), None for its own schedule.
    max_steps: int | None = None
    #: At a budget: "spent" when it took exactly ``max_steps`` steps, "under" when its algorithm
    #: stops earlier and has no ``epochs`` to stretch (a row that must say so); None without a budget.
    budget: str | None = None


#: The modalities a strategy may serve; it tells which of them in :func:`register`.
MODALITIES = ("classification", "segmentation", "generation")


class Strategy:
    """Base class. Subclasses set ``Config`` and implement :meth:`unlearn`.

    ``modalities``, ``summary`` (the module docstring's first sentence) and ``reference`` are set by
    :func:`register`; :func:`unlearn_lib.catalogue.strategy_table` lists them (the README's method table is generated from it).
    """

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ("classification", "segmentation")
    summary: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    needs_retain: ClassVar[bool] = True
    needs_factory: ClassVar[bool] = False
    needs_recipe: ClassVar[bool] = False

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config

    def unlearn(self, model: nn.Module, request: UnlearnRequest) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError


def register(
    name: str, *, reference: str, modalities: tuple[str, ...] = ("classification", "segmentation")
) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: register a strategy under ``name`` in the one registry of every modality.

    Args:
        reference: the paper (or role) it comes from, shown in the method table.
        modalities: which of :data:`MODALITIES` it serves (classification and segmentation share
            the task interface, so most strategies serve both; GAN strategies serve generation).
    """
    bad = sorted(set(modalities) - set(MODALITIES))
    if not modalities or bad:
        raise ValueError(f"strategy {name!r}: modalities must be a non-empty subset of {MODALITIES}, got {modalities!r}")
    if not reference:
        raise ValueError(f"strategy {name!r}: give its reference (paper, or its role such as 'the reference')")

    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name, cls.reference, cls.modalities = name, reference, tuple(modalities)
        doc = (sys.modules[cls.__module__].__doc__ or cls.__doc__ or "").strip()
        cls.summary = " ".join(doc.split("\n\n")[0].split())
        return STRATEGIES.register(name)(cls)

    return deco


def get_strategy(name: str, modality: str | None = None) -> type[Strategy]:
    """The strategy class of ``name``; with ``modality``, refuse one that does not serve it."""
    cls = STRATEGIES.get(name)
    if modality is not None and modality not in cls.modalities:
        others = ", ".join(list_strategies(modality))
        raise ValueError(f"strategy {name!r} serves {list(cls.modalities)}, not {modality}; {modality} strategies: {others}")
    return cls


def list_strategies(modality: str | None = None) -> list[str]:
    """Registered names (of one modality if given). GAN strategies register when ``unlearn_lib.studies.gan`` is imported
    (:func:`unlearn_lib.catalogue.strategy_table` imports it, so its table is complete)."""
    return [n for n in STRATEGIES.names() if modality is None or modality in STRATEGIES.get(n).modalities]


def make_config(method: str, config: StrategyConfig | Mapping[str, Any] | None) -> StrategyConfig:
    """Validate ``config`` for ``method`` (a dict of overrides, a Config instance, or None)."""
    return resolve_config(method, get_strategy(method).Config, config)


def _freeze_norm_statistics(model: nn.Module) -> list[Any]:
    """Keep every BatchNorm layer of ``model`` in inference mode at each forward (its affine weights still
    train); returns the hooks to remove."""

    def inference_mode(module: nn.Module, args: object) -> None:
        module.training = False

    return [m.register_forward_pre_hook(inference_mode) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


#: What has been warmed up in this process (model class, device, input shape): see :func:`warm_up_once`.
_WARMED: set[tuple[Any, ...]] = set()


def warm_up_once(key: tuple[Any, ...], device: torch.device, step: Callable[[], object]) -> bool:
    """Run ``step`` untimed, the first time ``key`` is seen in this process, in a forked RNG state.
    Returns whether it ran. ``step`` builds an optimizer and runs a forward and backward pass on copies,
    but takes no optimizer step: every ``Timer`` (and the model cache's) counts optimizer steps
    through torch's global hook, and the warm-up is nobody's cost.

    Why: a process pays one-off costs the first time it trains: torch imports ``torch._dynamo`` when
    it builds its first optimizer, and the first backward pass builds oneDNN's kernels; together one
    to two seconds on the study's CPU (measured with cProfile on 2026-12-02). With the original and
    the reference read from the model cache, nothing has trained before the first timed method of a
    task, so the timers of :func:`unlearn` and :func:`~unlearn_lib.studies.gan.unlearn_gan` charged those costs
    to whichever method came first (several times the time of a short tuning config). No weight, no
    random draw, no step count and no metric changes, only that method's seconds.
    """
    if key in _WARMED:
        return False
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    _WARMED.add(key)
    return True


def warm_up(model: nn.Module, data: Dataset, task: Task, device: torch.device, batch_size: int = 8) -> bool:
    """:func:`warm_up_once` for a classifier or segmentation model: an optimizer, and a forward and
    backward pass of a copy of ``model`` on the first ``batch_size`` examples of ``data``, once per
    model class, device and input shape (read from the first example, so a warmed-up key costs no batch)."""

    def step() -> None:
        x, y = next(iter(batches(data, batch_size, shuffle=False)))
        probe = copy.deepcopy(model).to(device).train()
        torch.optim.SGD(probe.parameters(), lr=0.0)  # a process's first optimizer imports torch._dynamo
        task.loss(task.logits(probe, x.to(device)), y.to(device)).backward()

    shape = tuple(int(d) for d in torch.as_tensor(data[0][0]).shape)
    return warm_up_once((type(model).__qualname__, str(device), shape), device, step)


def unlearn(
    method: str,
    model: nn.Module,
    *,
    retain: Dataset,
    forget: Dataset,
    task: Task,
    config: StrategyConfig | Mapping[str, Any] | None = None,
    val: Dataset | None = None,
    model_factory: Callable[[], nn.Module] | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    on_epoch: Callable[[nn.Module, int, str], None] | None = None,
    recipe: Recipe | None = None,
    max_steps: int | None = None,
) -> UnlearnResult:
    """Run one registered strategy on a copy of ``model`` and time it.

    Everything is validated before any work starts: the method name, its hyper-parameters, the
    device, and that the forget (and, where needed, retain) set is non-empty. ``recipe`` is the
    original model's training recipe: ``retrain`` needs it and repeats it exactly.

    Where the task says so (``task.freeze_norm_stats``, segmentation), the copy's BatchNorm layers
    normalise with the original's running statistics and never update them: the method changes the
    weights, not statistics re-estimated from its own small batches.

    ``max_steps`` runs the method at an optimizer-step budget, so that methods compete at equal cost
    (retrain's steps times a fraction; see :mod:`unlearn_lib.experiments.budgets`): the method's own schedule, stopped after exactly ``max_steps`` steps, and
    stretched (more ``epochs``) when its schedule ends sooner. Its result says ``budget="under"`` when
    it stops sooner and has no epochs to stretch.
    """
    cls = get_strategy(method)
    if "generation" in cls.modalities and len(cls.modalities) == 1:
        raise ValueError(f"{method!r} unlearns GANs: call unlearn_lib.studies.gan.unlearn_gan, not unlearn")
    cfg = make_config(method, config)
    dev = resolve_device(device)
    if len(forget) == 0:
        raise ValueError("forget set is empty: there is nothing to unlearn")
    if cls.needs_retain and len(retain) == 0:
        raise ValueError(f"retain set is empty but {method!r} trains on it")
    if cls.needs_factory and model_factory is None:
        raise ValueError(f"{method!r} re-initialises weights and needs model_factory")
    if cls.needs_recipe and not isinstance(recipe, Recipe):
        raise ValueError(f"{method!r} repeats the original model's training recipe: pass recipe= (a Recipe), got {recipe!r}")
    if max_steps is not None:
        StepBudget(max_steps)  # validates the budget before any work
        if cls.needs_recipe:
            raise ValueError(
                f"max_steps: {method!r} is the reference and repeats the original's recipe; budgets are for unlearning methods"
            )
    warm_batch = min(int(getattr(cfg, "batch_size", 0) or 8), 8)  # no larger than the method's own batches
    warm_up(model, retain if len(retain) else forget, task, dev, warm_batch)

    def run(cfg: StrategyConfig) -> tuple[nn.Module, Timer, UnlearnRequest, bool]:
        seed_everything(seed)
        original = copy.deepcopy(model).to(dev).eval()
        for p in original.parameters():
            p.requires_grad_(False)
        work = copy.deepcopy(model).to(dev)
        request = UnlearnRequest(retain, forget, task, original, dev, seed, val, model_factory, on_epoch, recipe)
        handles = _freeze_norm_statistics(work) if getattr(task, "freeze_norm_stats", False) else []
        spent = False
        try:
            with Timer() as timer, contextlib.ExitStack() as stack:
                if max_steps is not None:
                    stack.enter_context(StepBudget(max_steps))
                try:
                    out = cls(cfg).unlearn(work, request)
                except BudgetSpent:
                    out, spent = work, True  # every strategy but retrain updates ``work`` in place
        finally:
            for h in handles:
                h.remove()
        return out, timer, request, spent

    out, timer, request, spent = run(cfg)
    for _ in range(_STRETCHES):
        if max_steps is None or spent or timer.steps == 0 or not hasattr(cfg, "epochs"):
            break
        cfg = make_config(method, {**cfg.to_dict(), "epochs": stretched_epochs(cfg.epochs, timer.steps, max_steps)})
        out, timer, request, spent = run(cfg)
    out.eval()
    used = recipe.to_dict() if cls.needs_recipe and recipe is not None else cfg.to_dict()
    # The method's cost without the notebook's per-epoch evaluations (a curve is measurement, not unlearning).
    seconds = max(timer.seconds - request.callback_seconds, 0.0)
    budget = None if max_steps is None else ("spent" if spent else "under")
    return UnlearnResult(method, out, seconds, used, request.history, steps=timer.steps, max_steps=max_steps, budget=budget)


#: How many times :func:`unlearn` lengthens a schedule that ends before its budget (each time to the
#: epochs its measured steps per epoch say it needs, plus one); two suffice unless epochs differ widely.
_STRETCHES = 3


def stretched_epochs(epochs: int, steps: int, max_steps: int) -> int:
    """Epochs that take at least ``max_steps`` steps, from ``steps`` measured over ``epochs`` epochs.

    One epoch more than the mean rate says: SCRUB's max epochs (forget batches) are shorter than its
    min epochs (retain batches), so a mean can fall short. Always longer than ``epochs``.
    """
    return max(math.ceil(epochs * max_steps / max(steps, 1)) + 1, epochs + 1)
