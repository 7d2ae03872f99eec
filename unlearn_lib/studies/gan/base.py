"""GAN strategies: request, result and the timed ``unlearn_gan`` entry point.

GAN strategies live in the one strategy registry (:data:`unlearn_lib.strategies.STRATEGIES`) with
modality ``generation``: one file each in ``gan/strategies/``, a dataclass of hyper-parameters each,
``@register_gan("name", reference=...)``. A GAN request differs from a classifier's: the model is a
generator-discriminator pair, retraining needs the original *recipe*, and class unlearning may need a
classifier to keep substitutes out of the forgotten class.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ...config import StrategyConfig, resolve_config
from ...data.datasets import ArrayDataset
from ...strategies.base import STRATEGIES, Strategy, get_strategy, list_strategies, register, warm_up_once
from ...utils import Timer, resolve_device, seed_everything, torch_generator
from .training import GAN, GANTrainConfig, make_optimizers, to_gan_range

__all__ = [
    "GAN_STRATEGIES",
    "GANStrategy",
    "GANUnlearnRequest",
    "GANUnlearnResult",
    "get_gan_strategy",
    "list_gan_strategies",
    "make_gan_config",
    "register_gan",
    "unlearn_gan",
]

#: The one strategy registry (GAN strategies are its ``generation`` entries).
GAN_STRATEGIES = STRATEGIES


@dataclass
class GANUnlearnRequest:
    """Everything a GAN strategy may use. ``original`` is a frozen copy of the GAN before unlearning.

    Attributes:
        retain: the training images that stay (in [0, 1]).
        forget: the training images to unlearn.
        recipe: the original training recipe (retraining repeats it exactly).
        forget_class: the class being unlearned in class unlearning (an int, or a tuple of ints for
            several classes at once), ``None`` for item unlearning.
        classifier: optional image classifier (inputs in [0, 1]) that substitution may use to keep
            generated substitutes out of ``forget_class``.
    """

    retain: ArrayDataset
    forget: ArrayDataset
    original: GAN
    recipe: GANTrainConfig
    device: torch.device
    seed: int = 0
    forget_class: int | tuple[int, ...] | None = None
    classifier: nn.Module | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def forget_classes(self) -> tuple[int, ...]:
        """The forgotten classes as a tuple (empty for item unlearning)."""
        return forget_classes(self.forget_class)

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch_generator(self.seed * 1000 + offset)


def forget_classes(forget_class: int | Sequence[int] | None) -> tuple[int, ...]:
    """``7 -> (7,)``, ``[3, 8] -> (3, 8)``, ``None -> ()``."""
    if forget_class is None:
        return ()
    if isinstance(forget_class, int):
        return (forget_class,)
    return tuple(int(c) for c in forget_class)


@dataclass
class GANUnlearnResult:
    """The unlearned GAN, its wall time and optimizer steps, the config used and the per-step history."""

    method: str
    gan: GAN
    seconds: float
    config: dict[str, Any]
    history: list[dict[str, Any]]
    steps: int | None = None


class GANStrategy(Strategy):
    """Base class of GAN strategies. Subclasses set ``Config`` and implement :meth:`unlearn`."""

    modalities: ClassVar[tuple[str, ...]] = ("generation",)

    def validate(self, request: GANUnlearnRequest) -> None:
        """Refuse a request this strategy cannot serve (called before the clock starts)."""

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:  # type: ignore[override]  # pragma: no cover - abstract
        raise NotImplementedError


def register_gan(name: str, *, reference: str) -> Callable[[type[GANStrategy]], type[GANStrategy]]:
    """Class decorator: register a GAN strategy (modality ``generation``) in the one registry."""
    return register(name, reference=reference, modalities=("generation",))  # type: ignore[return-value]


def get_gan_strategy(name: str) -> type[GANStrategy]:
    return get_strategy(name, "generation")  # type: ignore[return-value]


def list_gan_strategies() -> list[str]:
    return list_strategies("generation")


def make_gan_config(method: str, config: StrategyConfig | Mapping[str, Any] | None) -> StrategyConfig:
    """Validate ``config`` for ``method`` (a dict of overrides, a Config instance, or None)."""
    return resolve_config(method, get_gan_strategy(method).Config, config)


def _check_images(name: str, data: object, like: ArrayDataset | None = None) -> None:
    if not isinstance(data, ArrayDataset) or data.x.ndim != 4:
        raise ValueError(f"{name} must be an ArrayDataset of images shaped (N, C, H, W)")
    if like is not None and tuple(data.x.shape[1:]) != tuple(like.x.shape[1:]):
        raise ValueError(f"{name} images are {tuple(data.x.shape[1:])} but the others are {tuple(like.x.shape[1:])}")


def unlearn_gan(
    method: str,
    gan: GAN,
    *,
    retain: ArrayDataset,
    forget: ArrayDataset,
    recipe: GANTrainConfig | Mapping[str, Any] | None = None,
    config: StrategyConfig | Mapping[str, Any] | None = None,
    forget_class: int | Sequence[int] | None = None,
    classifier: nn.Module | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
) -> GANUnlearnResult:
    """Run one registered GAN strategy on a copy of ``gan`` and time it.

    Everything is validated before the clock starts: the method, its hyper-parameters, the recipe,
    the device, the data, and what the strategy itself needs (e.g. a classifier for generated
    substitutes in class unlearning). The input GAN is never modified.

    Args:
        method: a name from :func:`list_gan_strategies`.
        gan: the original GAN (trained on retain + forget).
        retain: images that stay. forget: images to unlearn (non-empty).
        recipe: the original training recipe; retraining repeats it, others read its optimiser
            settings only where their own config says so.
        config: the strategy's hyper-parameters (dict of overrides or its Config).
        forget_class: the forgotten class (or classes) for class unlearning; ``None`` for item unlearning.
        classifier: optional classifier for strategies that filter generated substitutes.
    """
    cls = get_gan_strategy(method)
    cfg = make_gan_config(method, config)
    rec = recipe if isinstance(recipe, GANTrainConfig) else GANTrainConfig.from_dict(recipe)
    dev = resolve_device(device)
    if not isinstance(gan, GAN):
        raise ValueError(f"gan must be a GAN (generator, discriminator, latent_dim), got {type(gan).__name__}")
    _check_images("forget", forget)
    _check_images("retain", retain, like=forget)
    if len(forget) == 0:
        raise ValueError("forget set is empty: there is nothing to unlearn")
    if len(retain) == 0:
        raise ValueError("retain set is empty: every GAN strategy trains on it")
    classes = [forget_class] if forget_class is None or isinstance(forget_class, (int, str, float)) else list(forget_class)
    if forget_class is not None and (not classes or any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in classes)):
        raise ValueError(f"forget_class must be a non-negative int, a non-empty list of them, or None, got {forget_class!r}")
    if forget_class is not None and not isinstance(forget_class, int):
        forget_class = tuple(classes)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    original = copy.deepcopy(gan).to(dev).eval()
    for p in [*original.generator.parameters(), *original.discriminator.parameters()]:
        p.requires_grad_(False)
    if classifier is not None:
        classifier = copy.deepcopy(classifier).to(dev).eval()
    request = GANUnlearnRequest(retain, forget, original, rec, dev, seed, forget_class, classifier)
    strategy = cls(cfg)
    strategy.validate(request)
    seed_everything(seed)
    work = copy.deepcopy(gan).to(dev)

    def step() -> None:  # the process's one-off costs, untimed: optimizers, a forward and backward pass of copies
        probe = copy.deepcopy(gan).to(dev)
        probe.generator.train()
        probe.discriminator.train()
        make_optimizers(probe, 0.0, 0.0, (rec.beta1, rec.beta2))
        fake = probe.generator(torch.randn(8, probe.latent_dim, generator=torch_generator(0)).to(dev))
        (probe.discriminator(fake).mean() - probe.discriminator(to_gan_range(retain.x[:8].to(dev))).mean()).backward()

    warm_up_once((type(gan.generator).__qualname__, str(dev), tuple(retain.x.shape[1:])), dev, step)
    with Timer() as timer:
        out = strategy.unlearn(work, request)
    out.eval()
    return GANUnlearnResult(method, out, timer.seconds, cfg.to_dict(), request.history, timer.steps)
