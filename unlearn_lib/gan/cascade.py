"""The cascaded unlearning loop shared by ``gan_cascaded`` and its ablations.

Sun et al. (2023, arXiv 2308.09881, "Generative Adversarial Networks Unlearning") unlearn with
two mechanisms, applied in a cascade:

* **fake label** - during discriminator updates the images to unlearn are labelled fake (0) while
  retained real images stay real (1), so the discriminator learns to reject them and the generator,
  following the discriminator, moves away from them;
* **substitution** - every image to unlearn is replaced in the working set by a substitute (a
  sample of the original generator, or a retained image; from the remaining classes in class
  unlearning), so the generator's latent space stays continuous and complete.

The published description leaves the schedule open; this module's **reconstruction** alternates,
for ``rounds`` rounds, an *unlearning stage* of ``unlearn_steps`` adversarial steps (discriminator
with the fake label, then generator against it) and a *learning stage* of ``learn_steps`` ordinary
adversarial steps on the working set (retained images plus substitutes). Every such choice is a
field of :class:`CascadeConfig`. The ablations are the same loop with a mechanism switched off, so
all four strategies take the same number of steps of the same :func:`~.training.gan_step`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from ..config import StrategyConfig
from ..data.datasets import ArrayDataset
from ..utils import progress
from .base import GANStrategy, GANUnlearnRequest
from .training import GAN, gan_step, make_optimizers, real_batches, sample

__all__ = ["CascadeConfig", "CascadeStrategy", "make_substitutes", "run_cascade"]

SubstituteSource = Literal["auto", "generator", "retained"]


@dataclass
class CascadeConfig(StrategyConfig):
    """Hyper-parameters of the cascade. Sun et al. give no schedule: every field is **[reconstructed]**.

    Attributes:
        rounds: alternations of an unlearning and a learning stage.
        unlearn_steps: adversarial steps per unlearning stage (fake label on the forget images).
        learn_steps: ordinary adversarial steps per learning stage, on retained images + substitutes.
        batch_size: real images per step (the original recipe's 64 by default).
        forget_batch_size: images to unlearn labelled fake per unlearning step (all if fewer).
        lr_g, lr_d, beta1, beta2: Adam settings: DCGAN's betas, a learning rate 5x the recipe's so
            that a few steps move the GAN. A fresh optimiser state is used: the original's is not
            part of a released model.

    The defaults were chosen on the default profile (embedded MNIST, 1,500-iteration recipe) as the
    shortest schedule tried that took digit 7 below 1% of generated images: 3 rounds of 10 + 5
    steps left 7%, 5 rounds of 20 + 10 left 1.2%, 6 rounds of 20 + 10 left 0.5%.
        substitute_source: ``"generator"`` (samples of the original generator), ``"retained"``
            (retained images drawn at random) or ``"auto"`` (generator for item unlearning,
            retained images - hence other classes - for class unlearning).
        fake_label_weight: weight of the fake-label term in the discriminator loss.
    """

    rounds: int = 6
    unlearn_steps: int = 20
    learn_steps: int = 10
    batch_size: int = 64
    forget_batch_size: int = 64
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    substitute_source: SubstituteSource = "auto"
    fake_label_weight: float = 1.0

    def check(self) -> None:
        self._positive("rounds", "batch_size", "forget_batch_size", "lr_g", "lr_d", "fake_label_weight")
        for name in ("unlearn_steps", "learn_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{type(self).__name__}.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.unlearn_steps + self.learn_steps == 0:
            raise ValueError(f"{type(self).__name__}: unlearn_steps + learn_steps must be > 0")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{type(self).__name__}.{name} must be in [0, 1), got {getattr(self, name)!r}")

    def total_steps(self) -> int:
        return self.rounds * (self.unlearn_steps + self.learn_steps)


def resolve_source(source: SubstituteSource, request: GANUnlearnRequest) -> str:
    """``"auto"``: the generator's samples for item unlearning, retained images for class unlearning."""
    if source == "auto":
        return "retained" if request.forget_class is not None else "generator"
    return source


def check_substitution(source: SubstituteSource, request: GANUnlearnRequest) -> None:
    """Generated substitutes in class unlearning need a classifier to keep them out of the class."""
    if resolve_source(source, request) == "generator" and request.forget_class is not None and request.classifier is None:
        raise ValueError(
            "substitute_source='generator' in class unlearning needs a classifier to reject generated images of "
            f"class {request.forget_class}; pass classifier=... or use substitute_source='retained'"
        )


@torch.no_grad()
def make_substitutes(request: GANUnlearnRequest, source: SubstituteSource, max_draws: int = 20) -> ArrayDataset:
    """One substitute per image to unlearn (images in [0, 1]; labels are -1, they are never used).

    Generated substitutes in class unlearning are drawn until ``len(forget)`` of them are not
    assigned to the forgotten class by ``request.classifier`` (at most ``max_draws`` batches).
    """
    n = len(request.forget)
    src = resolve_source(source, request)
    if src == "retained":
        idx = torch.randperm(len(request.retain), generator=request.generator(11))[:n]
        if n > len(request.retain):
            idx = torch.randint(len(request.retain), (n,), generator=request.generator(12))
        x = request.retain.x[idx]
    else:
        g = request.original
        kept: list[torch.Tensor] = []
        for draw in range(max_draws):
            imgs = sample(g.generator, max(n, 64), g.latent_dim, seed=request.seed * 1000 + 100 + draw, device=request.device)
            if request.forget_class is not None:
                pred = request.classifier(imgs.to(request.device)).argmax(1).cpu()
                imgs = imgs[pred != request.forget_class]
            kept.append(imgs)
            if sum(len(k) for k in kept) >= n:
                break
        x = torch.cat(kept)[:n]
        if len(x) < n:
            raise ValueError(f"could only draw {len(x)} of {n} generated substitutes outside class {request.forget_class}")
    return ArrayDataset(x.cpu(), torch.full((len(x),), -1, dtype=torch.long), name="substitutes", num_classes=request.retain.num_classes)


def concat(a: ArrayDataset, b: ArrayDataset, name: str) -> ArrayDataset:
    return ArrayDataset(torch.cat([a.x, b.x]), torch.cat([a.y, b.y]), name=name, num_classes=a.num_classes)


def run_cascade(gan: GAN, request: GANUnlearnRequest, cfg: CascadeConfig, *, fake_label: bool, substitute: bool, desc: str) -> GAN:
    """The cascade with each mechanism on or off.

    ``fake_label=True, substitute=True`` is the study's method; with ``fake_label=False`` the
    unlearning stage becomes ordinary steps, so the same step budget is spent either way.
    """
    dev = request.device
    gan.to(dev)
    gan.generator.train()
    gan.discriminator.train()
    working = request.retain
    if substitute:
        working = concat(request.retain, make_substitutes(request, cfg.substitute_source), "retain+substitutes")
    opt_g, opt_d = make_optimizers(gan, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2))
    reals = real_batches(working, cfg.batch_size, request.generator(1), dev)
    forgets = real_batches(request.forget, min(cfg.forget_batch_size, len(request.forget)), request.generator(2), dev)
    z_gen = request.generator(3)
    for r in progress(range(cfg.rounds), desc=desc):
        for stage, steps in (("unlearn", cfg.unlearn_steps), ("learn", cfg.learn_steps)):
            for _ in range(steps):
                fake_real = next(forgets) if (fake_label and stage == "unlearn") else None
                losses = gan_step(gan, opt_g, opt_d, next(reals), generator=z_gen, fake_real=fake_real, fake_weight=cfg.fake_label_weight)
                request.history.append({"round": r, "stage": stage, **losses})
    return gan.eval()


class CascadeStrategy(GANStrategy):
    """A strategy that is :func:`run_cascade` with each mechanism on or off: subclasses set the two flags.

    The study's method and its ablations differ only there, so they share one loop, one step budget
    and one validation (generated substitutes in class unlearning need a classifier).
    """

    Config: ClassVar[type[StrategyConfig]] = CascadeConfig
    fake_label: ClassVar[bool] = False
    substitute: ClassVar[bool] = False

    def validate(self, request: GANUnlearnRequest) -> None:
        if self.substitute:
            check_substitution(self.config.substitute_source, request)

    def unlearn(self, gan: GAN, request: GANUnlearnRequest) -> GAN:  # type: ignore[override]
        return run_cascade(gan, request, self.config, fake_label=self.fake_label, substitute=self.substitute, desc=self.name)
