"""The cascaded unlearning loop shared by ``gan_cascaded`` and its ablations.

Sun et al. (2023, arXiv 2308.09881, "Generative Adversarial Networks Unlearning") unlearn with
two mechanisms, applied in a cascade:

* **fake label** - during discriminator updates the images to unlearn are labelled fake (0) while
  retained real images stay real (1), so the discriminator learns to reject them and the generator,
  following the discriminator, moves away from them;
* **substitution** - every image to unlearn is replaced in the working set by a substitute (a
  sample of the original generator, or a retained image; from the remaining classes in class
  unlearning), so the generator's latent space stays continuous and complete.

The published description processes the forget set in cascaded stages but leaves the schedule
open; this module's **reconstruction**: the forget set (in a seeded random order) is cut into
chunks of ``chunk_size`` images, and every chunk is one *stage*: an *unlearning phase* of
``unlearn_steps`` adversarial steps whose discriminator labels that chunk fake (its images are
substituted in the working set from then on), then a *learning phase* of ``learn_steps`` ordinary
adversarial steps on the working set (retained images plus the substitutes so far). ``rounds``
passes repeat the chunks. The work therefore follows the request:
``rounds * ceil(len(forget) / chunk_size) * (unlearn_steps + learn_steps)`` steps
(:meth:`CascadeConfig.total_steps`). Every such choice is a field of :class:`CascadeConfig`. The
ablations are the same loop with a mechanism switched off, so all four strategies take the same
number of steps of the same :func:`~.training.gan_step`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from ...config import StrategyConfig
from ...data.datasets import ArrayDataset
from ...utils import progress
from .base import GANStrategy, GANUnlearnRequest
from .training import GAN, gan_step, make_optimizers, real_batches, sample

__all__ = ["CascadeConfig", "CascadeStrategy", "make_substitutes", "run_cascade"]

SubstituteSource = Literal["auto", "generator", "retained"]


@dataclass
class CascadeConfig(StrategyConfig):
    """Hyper-parameters of the cascade. Sun et al. give no schedule: every field is **[reconstructed]**.

    Attributes:
        rounds: passes over the forget set's chunks.
        chunk_size: forget images per stage: a request of ``n`` images is ``ceil(n / chunk_size)`` stages.
        unlearn_steps: adversarial steps per stage with the fake label on that stage's chunk.
        learn_steps: ordinary adversarial steps per stage, on retained images + substitutes so far.
        batch_size: real images per step (the original recipe's 64 by default).
        forget_batch_size: images to unlearn labelled fake per unlearning step (all if fewer).
        lr_g, lr_d, beta1, beta2: Adam settings: DCGAN's betas, a learning rate 5x the recipe's so
            that a few steps move the GAN. A fresh optimiser state is used: the original's is not
            part of a released model.

    The defaults (chunks of 32, 20 + 10 steps per stage, one pass) make a 16-image request one stage
    of 30 steps and a whole digit of the 4,000 embedded MNIST images (~400 images) 13 stages.
        substitute_source: ``"generator"`` (samples of the original generator), ``"retained"``
            (retained images drawn at random) or ``"auto"`` (generator for item unlearning,
            retained images - hence other classes - for class unlearning).
        fake_label_weight: weight of the fake-label term in the discriminator loss.
    """

    rounds: int = 1
    chunk_size: int = 32
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
        self._positive("rounds", "chunk_size", "batch_size", "forget_batch_size", "lr_g", "lr_d", "fake_label_weight")
        for name in ("unlearn_steps", "learn_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{type(self).__name__}.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.unlearn_steps + self.learn_steps == 0:
            raise ValueError(f"{type(self).__name__}: unlearn_steps + learn_steps must be > 0")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{type(self).__name__}.{name} must be in [0, 1), got {getattr(self, name)!r}")

    def stages(self, n_forget: int) -> int:
        """Stages for a request of ``n_forget`` images: one per chunk per pass."""
        return self.rounds * -(-int(n_forget) // self.chunk_size)

    def total_steps(self, n_forget: int) -> int:
        """Adversarial iterations (one D and one G update each) for a request of ``n_forget`` images."""
        return self.stages(n_forget) * (self.unlearn_steps + self.learn_steps)


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
                imgs = imgs[~torch.isin(pred, torch.tensor(request.forget_classes))]
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
    """The cascade with each mechanism on or off (schedule in the module docstring).

    ``fake_label=True, substitute=True`` is the study's method; with ``fake_label=False`` the
    unlearning phase becomes ordinary steps and with ``substitute=False`` the working set stays the
    retained images, so the same step budget (:meth:`CascadeConfig.total_steps`) is spent either way.
    """
    dev = request.device
    gan.to(dev)
    gan.generator.train()
    gan.discriminator.train()
    n = len(request.forget)
    subs = make_substitutes(request, cfg.substitute_source) if substitute else None
    order = torch.randperm(n, generator=request.generator(4))
    chunks = [order[i : i + cfg.chunk_size] for i in range(0, n, cfg.chunk_size)]
    opt_g, opt_d = make_optimizers(gan, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2))
    z_gen = request.generator(3)
    done = torch.zeros(n, dtype=torch.bool)
    stage = 0
    for r in progress(range(cfg.rounds), desc=desc):
        for c, chunk in enumerate(chunks):
            done[chunk] = True
            working = request.retain
            if subs is not None:  # the substitutes of every chunk reached so far join the working set
                working = concat(request.retain, subs.subset(torch.nonzero(done).ravel().numpy(), "substitutes"), "retain+substitutes")
            reals = real_batches(working, cfg.batch_size, request.generator(1000 + stage), dev)
            part = request.forget.subset(chunk.numpy(), "chunk")
            forgets = real_batches(part, min(cfg.forget_batch_size, len(part)), request.generator(2000 + stage), dev)
            for phase, steps in (("unlearn", cfg.unlearn_steps), ("learn", cfg.learn_steps)):
                for _ in range(steps):
                    fake_real = next(forgets) if (fake_label and phase == "unlearn") else None
                    losses = gan_step(
                        gan, opt_g, opt_d, next(reals), generator=z_gen, fake_real=fake_real, fake_weight=cfg.fake_label_weight
                    )
                    request.history.append({"round": r, "stage": stage, "chunk": c, "phase": phase, **losses})
            stage += 1
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
