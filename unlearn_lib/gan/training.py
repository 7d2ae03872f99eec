"""GAN training: the recipe, the one shared adversarial step, the loop, and the cached original.

Every GAN in the study - the original, the retrained reference and every unlearning strategy -
updates its networks through :func:`gan_step`. The strategies differ only in *what* they feed it
(which real images, which of them are labelled fake), never in how a step is taken, so a
difference between methods is a difference of method, not of implementation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..cache import ArtifactCache, fingerprint, recipe_parts, source_digest
from ..config import StrategyConfig
from ..data.datasets import ArrayDataset
from ..loops import cycle
from ..models import build_model
from ..utils import Timer, cache_dir, progress, resolve_device, seed_everything, torch_generator

__all__ = [
    "GAN",
    "GANTrainConfig",
    "dataset_fingerprint",
    "default_cache_dir",
    "gan_step",
    "load_or_train_gan",
    "make_gan",
    "sample",
    "to_gan_range",
    "to_unit_range",
    "train_gan",
]


def default_cache_dir() -> Path:
    """Where trained GANs and evaluators are cached: the project's one cache directory."""
    return cache_dir()


@dataclass
class GANTrainConfig(StrategyConfig):
    """The GAN training recipe: architecture, optimiser and length. Retraining uses it unchanged.

    Defaults follow DCGAN (Radford et al., 2016): Adam with lr 2e-4 and beta1 0.5, batch 64,
    non-saturating generator loss. Length is counted in iterations (one discriminator and one
    generator update each), the usual unit for GANs, so retraining on the retained data costs
    exactly what the original training cost.

    ``seed`` and ``device`` belong to the recipe so that a cached GAN is keyed by everything that
    produced it.
    """

    iterations: int = 3000
    batch_size: int = 64
    latent_dim: int = 64
    g_width: int = 32
    d_width: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    device: str = "auto"

    def check(self) -> None:
        self._positive("iterations", "batch_size", "latent_dim", "g_width", "d_width", "lr_g", "lr_d")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"GANTrainConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.seed < 0:
            raise ValueError(f"GANTrainConfig.seed must be >= 0, got {self.seed!r}")
        resolve_device(self.device)


@dataclass
class GAN:
    """A generator and its discriminator, with the latent size needed to sample."""

    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int

    def to(self, device: torch.device) -> GAN:
        self.generator.to(device)
        self.discriminator.to(device)
        return self

    def eval(self) -> GAN:
        self.generator.eval()
        self.discriminator.eval()
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict()}


def make_gan(cfg: GANTrainConfig, channels: int, image_size: int) -> GAN:
    """Fresh DCGAN pair for ``cfg``; the initial weights depend only on ``cfg.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        g = build_model("dcgan_generator", latent_dim=cfg.latent_dim, channels=channels, image_size=image_size, width=cfg.g_width)
        d = build_model("dcgan_discriminator", channels=channels, image_size=image_size, width=cfg.d_width)
    return GAN(g, d, cfg.latent_dim)


def to_gan_range(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (the data loaders' range) -> [-1, 1] (the generator's tanh range)."""
    return x * 2.0 - 1.0


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> [0, 1], the range classifiers and figures expect."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


@torch.no_grad()
def sample(
    generator: nn.Module, n: int, latent_dim: int, *, seed: int = 0, device: torch.device | str = "cpu", batch_size: int = 500
) -> torch.Tensor:
    """``n`` generated images in [0, 1] on the CPU, from a seeded latent draw (eval mode)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    device = torch.device(device)
    z = torch.randn(n, latent_dim, generator=torch_generator(seed))
    was_training = generator.training
    generator.eval()
    out = [to_unit_range(generator(z[i : i + batch_size].to(device))).cpu() for i in range(0, n, batch_size)]
    generator.train(was_training)
    return torch.cat(out)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def gan_step(
    gan: GAN,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    *,
    generator: torch.Generator,
    fake_real: torch.Tensor | None = None,
    fake_weight: float = 1.0,
    update_g: bool = True,
) -> dict[str, float]:
    """One discriminator update then one generator update (non-saturating loss).

    Args:
        real: images in [-1, 1] the discriminator must call real (label 1).
        generator: draws the latent codes, so the step is reproducible.
        fake_real: real images the discriminator must call *fake* (label 0): the study's "fake
            label" for the images to unlearn. ``None`` is ordinary GAN training.
        fake_weight: weight of the fake-label term in the discriminator loss.
        update_g: also take the generator step (the cascade's unlearning stage always does).

    Returns:
        The discriminator and generator losses of the step.
    """
    device = real.device
    z = torch.randn(len(real), gan.latent_dim, generator=generator).to(device)
    fake = gan.generator(z)
    d_loss = _bce(gan.discriminator(real), 1.0) + _bce(gan.discriminator(fake.detach()), 0.0)
    if fake_real is not None and len(fake_real):
        d_loss = d_loss + fake_weight * _bce(gan.discriminator(fake_real), 0.0)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    out = {"d_loss": float(d_loss.detach())}
    if update_g:
        g_loss = _bce(gan.discriminator(fake), 1.0)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        out["g_loss"] = float(g_loss.detach())
    return out


def make_optimizers(gan: GAN, lr_g: float, lr_d: float, betas: tuple[float, float]) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for each network (DCGAN's choice)."""
    return (
        torch.optim.Adam(gan.generator.parameters(), lr=lr_g, betas=betas),
        torch.optim.Adam(gan.discriminator.parameters(), lr=lr_d, betas=betas),
    )


def real_batches(data: ArrayDataset, batch_size: int, generator: torch.Generator, device: torch.device) -> Iterator[torch.Tensor]:
    """Endless reshuffled batches of images, moved to ``device`` and mapped to [-1, 1]."""
    for x, _ in cycle(data, batch_size, generator):
        yield to_gan_range(x.to(device))


def train_gan(gan: GAN, data: ArrayDataset, cfg: GANTrainConfig, device: torch.device, desc: str = "GAN") -> GAN:
    """Train ``gan`` in place with the recipe ``cfg`` on ``data`` (no copy; callers seed and time)."""
    if len(data) == 0:
        raise ValueError("cannot train a GAN on an empty dataset")
    gan.to(device)
    gan.generator.train()
    gan.discriminator.train()
    opt_g, opt_d = make_optimizers(gan, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2))
    data_gen, z_gen = torch_generator(cfg.seed), torch_generator(cfg.seed + 1)
    reals = real_batches(data, cfg.batch_size, data_gen, device)
    for _ in progress(range(cfg.iterations), desc=desc):
        gan_step(gan, opt_g, opt_d, next(reals), generator=z_gen)
    return gan.eval()


def dataset_fingerprint(data: ArrayDataset) -> str:
    """SHA-256 of the images and labels (kept for callers; :func:`unlearn_lib.cache.fingerprint`)."""
    return fingerprint(data)


def load_or_train_gan(
    data: ArrayDataset, config: GANTrainConfig | dict | None = None, *, cache_dir: str | os.PathLike | None = None, use_cache: bool = True
) -> tuple[GAN, dict[str, Any]]:
    """The original GAN: trained once per recipe (seed included) and data, then read from the
    artifact cache (:class:`~unlearn_lib.cache.ArtifactCache`, kind ``gan``).

    Args:
        data: the full training set (images in [0, 1], shape (N, C, 28|32, 28|32)).
        config: the recipe (a :class:`GANTrainConfig` or a dict of overrides).
        cache_dir: the cache's root (default :func:`default_cache_dir`).
        use_cache: ``False`` always trains and neither reads nor writes the cache (``UNLEARN_NO_CACHE=1``
            does the same).

    Returns:
        The GAN in eval mode on the recipe's device, and ``info`` with ``seconds`` (the training
        wall time, measured when it was trained), ``cached``, ``path`` (None with the cache off) and
        ``artifact`` (the :class:`~unlearn_lib.cache.ArtifactInfo`, whose ``describe()`` a notebook prints).
    """
    cfg = config if isinstance(config, GANTrainConfig) else GANTrainConfig.from_dict(config)
    if not isinstance(data, ArrayDataset) or data.x.ndim != 4:
        raise ValueError("data must be an ArrayDataset of images shaped (N, C, H, W)")
    channels, size = int(data.x.shape[1]), int(data.x.shape[-1])
    device = resolve_device(cfg.device)
    make_gan(cfg, channels, size)  # validates channels and image size before any work

    def build() -> nn.Module:
        gan = make_gan(cfg, channels, size)
        return nn.ModuleDict({"generator": gan.generator, "discriminator": gan.discriminator})

    def train(pair: nn.Module) -> float:
        seed_everything(cfg.seed)
        with Timer() as t:
            train_gan(GAN(pair["generator"], pair["discriminator"], cfg.latent_dim), data, cfg, device, desc="original GAN")
        return t.seconds

    parts = {
        "data": fingerprint(data),
        "recipe": recipe_parts(cfg, drop=("device",)),  # the device type is its own part
        "channels": channels,
        "image_size": size,
        "code": source_digest(make_gan, make_optimizers, real_batches, gan_step, train_gan),
        "device": device.type,
        **({"cpu_threads": torch.get_num_threads()} if device.type == "cpu" else {}),  # reductions depend on it
    }
    store = ArtifactCache(cache_dir, enabled=None if use_cache else False)
    pair, info = store.load_or_train("gan", parts, build, train, device=device)
    gan = GAN(pair["generator"], pair["discriminator"], cfg.latent_dim).to(device).eval()
    return gan, {"seconds": info.seconds, "cached": info.cached, "path": str(info.path) if info.path else None, "artifact": info}
