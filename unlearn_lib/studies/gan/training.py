"""GAN training: the recipe, the one shared adversarial step, the loop, and the cached original.

Every GAN in the study - the original, the retrained reference and every unlearning strategy -
updates its networks through :func:`gan_step`. The strategies differ only in *what* they feed it
(which real images, which of them are labelled fake), never in how a step is taken, so a
difference between methods is a difference of method, not of implementation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...cache import ArtifactCache, cache_name, fingerprint, recipe_parts, source_digest
from ...config import StrategyConfig
from ...data.datasets import ArrayDataset
from ...loops import cycle
from ...models import build_model
from ...utils import Timer, progress, resolve_device, seed_everything, torch_generator

__all__ = [
    "GAN",
    "GANTrainConfig",
    "TrainingLog",
    "dataset_fingerprint",
    "gan_step",
    "load_or_train_gan",
    "make_gan",
    "sample",
    "to_gan_range",
    "to_unit_range",
    "train_gan",
]


@dataclass
class GANTrainConfig(StrategyConfig):
    """The GAN training recipe: architecture, optimiser and length. Retraining uses it unchanged.

    Defaults follow DCGAN (Radford et al., 2016): Adam with lr 2e-4 and beta1 0.5, batch 64,
    non-saturating generator loss. Length is counted in iterations (one discriminator and one
    generator update each), the usual unit for GANs, so retraining on the retained data costs
    exactly what the original training cost.

    ``seed`` and ``device`` belong to the recipe so that a cached GAN is keyed by everything that
    produced it.

    **Stopping on quality.** With ``check_every > 0`` and a monitor (see :func:`train_gan`), training
    is checked every ``check_every`` iterations and stops at the first check where the monitor's
    ``classifier_is >= target_is`` and ``downstream_accuracy >= target_downstream``; ``iterations``
    is then the cap. The iteration it stopped at is part of the recipe that retraining repeats
    (:meth:`resolved`): a retrained GAN takes exactly as many steps as the original took.
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
    check_every: int = 0
    target_is: float = 0.0
    target_downstream: float = 0.0
    seed: int = 0
    device: str = "auto"

    def check(self) -> None:
        self._positive("iterations", "batch_size", "latent_dim", "g_width", "d_width", "lr_g", "lr_d")
        if self.check_every < 0:
            raise ValueError(f"GANTrainConfig.check_every must be >= 0 (0: a fixed length), got {self.check_every!r}")
        if self.target_is < 0 or not 0.0 <= self.target_downstream <= 1.0:
            raise ValueError("GANTrainConfig.target_is must be >= 0 and target_downstream in [0, 1]")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"GANTrainConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.seed < 0:
            raise ValueError(f"GANTrainConfig.seed must be >= 0, got {self.seed!r}")
        resolve_device(self.device)

    def resolved(self, iterations: int) -> GANTrainConfig:
        """The fixed-length recipe that repeats a quality-stopped training of ``iterations`` steps."""
        return replace(self, iterations=int(iterations), check_every=0, target_is=0.0, target_downstream=0.0)


class TrainingLog(nn.Module):
    """The quality curve of a training run, saved with the weights (as two buffers).

    Why a module: the artifact cache stores a model's tensors and nothing else, and the curve and the
    iteration training stopped at belong to the cached original (the notebook plots them and
    retraining repeats that length). ``curve`` is (checks, 4): :data:`COLUMNS` per check.
    """

    COLUMNS = ("iteration", "seconds", "classifier_is", "downstream_accuracy")

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("curve", torch.zeros(0, len(self.COLUMNS), dtype=torch.float64))
        self.register_buffer("stopped_at", torch.zeros((), dtype=torch.long))

    def append(self, row: dict[str, float]) -> None:
        new = torch.tensor([[float(row.get(c, float("nan"))) for c in self.COLUMNS]], dtype=torch.float64)
        self.curve = torch.cat([self.curve, new])

    def rows(self) -> list[dict[str, float]]:
        return [dict(zip(self.COLUMNS, map(float, r), strict=True)) for r in self.curve.tolist()]

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        if prefix + "curve" in state_dict:  # the stored curve has its own length
            self.curve = torch.empty_like(state_dict[prefix + "curve"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


#: ``monitor(gan) -> {"classifier_is": ..., "downstream_accuracy": ...}`` (extra keys are recorded too).
Monitor = Callable[["GAN"], dict[str, float]]


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


def train_gan(
    gan: GAN,
    data: ArrayDataset,
    cfg: GANTrainConfig,
    device: torch.device,
    desc: str = "GAN",
    *,
    monitor: Monitor | None = None,
    log: TrainingLog | None = None,
) -> GAN:
    """Train ``gan`` in place with the recipe ``cfg`` on ``data`` (no copy; callers seed and time).

    With ``cfg.check_every > 0`` and a ``monitor``, the monitor is called every ``check_every``
    iterations (its time is part of the training time: the criterion is part of the recipe), each
    result is appended to ``log``, and training stops at the first check that meets both
    targets. ``log.stopped_at`` is the number of iterations taken either way. The monitor must not
    draw from the global RNG's stream used here (it runs in a forked RNG state), so a stopped run's
    first ``n`` steps equal a fixed-length run of ``n`` steps.
    """
    if len(data) == 0:
        raise ValueError("cannot train a GAN on an empty dataset")
    gan.to(device)
    gan.generator.train()
    gan.discriminator.train()
    opt_g, opt_d = make_optimizers(gan, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2))
    data_gen, z_gen = torch_generator(cfg.seed), torch_generator(cfg.seed + 1)
    reals = real_batches(data, cfg.batch_size, data_gen, device)
    checking = cfg.check_every > 0 and monitor is not None
    taken, start = 0, time.perf_counter()
    for i in progress(range(1, cfg.iterations + 1), desc=desc):
        gan_step(gan, opt_g, opt_d, next(reals), generator=z_gen)
        taken = i
        if checking and (i % cfg.check_every == 0 or i == cfg.iterations):
            with torch.random.fork_rng(devices=[]):
                row = {k: float(v) for k, v in monitor(gan).items()}
            gan.generator.train()
            gan.discriminator.train()
            row = {"iteration": float(i), "seconds": time.perf_counter() - start, **row}
            if log is not None:
                log.append(row)
            if row.get("classifier_is", 0.0) >= cfg.target_is and row.get("downstream_accuracy", 0.0) >= cfg.target_downstream:
                break
    if log is not None:
        log.stopped_at = torch.tensor(taken)
    return gan.eval()


def dataset_fingerprint(data: ArrayDataset) -> str:
    """SHA-256 of the images and labels (kept for callers; :func:`unlearn_lib.cache.fingerprint`)."""
    return fingerprint(data)


# The model cache keys the GAN recipe by where the class sat when the first GANs were cached; the study
# has since moved under ``studies/``, and the move kept every trained GAN.
cache_name(GANTrainConfig, "unlearn_lib.gan.training.GANTrainConfig")


def load_or_train_gan(
    data: ArrayDataset,
    config: GANTrainConfig | dict | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    monitor: Monitor | None = None,
    monitor_key: str | None = None,
) -> tuple[GAN, dict[str, Any]]:
    """The original GAN: trained once per recipe (seed included) and data, then read from the
    artifact cache (:class:`~unlearn_lib.cache.ArtifactCache`, kind ``gan``).

    Args:
        data: the full training set (images in [0, 1], shape (N, C, 28|32, 28|32)).
        config: the recipe (a :class:`GANTrainConfig` or a dict of overrides).
        cache_dir: the cache's root (default :func:`~unlearn_lib.utils.cache_dir`).
        use_cache: ``False`` always trains and neither reads nor writes the cache (``UNLEARN_NO_CACHE=1``
            does the same).
        monitor: the quality check of a recipe with ``check_every > 0`` (required then), e.g.
            :meth:`unlearn_lib.studies.gan.GANExperiment.quality`.
        monitor_key: what identifies the monitor (its evaluator, test data, sample counts) in the
            cache key; required with a monitor, since the stop point depends on it.

    Returns:
        The GAN in eval mode on the recipe's device, and ``info`` with ``seconds`` (the training
        wall time, measured when it was trained), ``cached``, ``path`` (None with the cache off) and
        ``artifact`` (the :class:`~unlearn_lib.cache.ArtifactInfo`, whose ``describe()`` a notebook prints),
        ``curve`` (the quality checks, empty for a fixed length), ``stopped_at`` (iterations taken),
        ``steps`` (optimizer steps of the GAN: two per iteration) and ``recipe`` (the fixed-length
        recipe that retraining repeats: :meth:`GANTrainConfig.resolved`).
    """
    cfg = config if isinstance(config, GANTrainConfig) else GANTrainConfig.from_dict(config)
    if cfg.check_every > 0 and (monitor is None or not monitor_key):
        raise ValueError("a recipe with check_every > 0 stops on quality: pass monitor=... and monitor_key=...")
    if not isinstance(data, ArrayDataset) or data.x.ndim != 4:
        raise ValueError("data must be an ArrayDataset of images shaped (N, C, H, W)")
    channels, size = int(data.x.shape[1]), int(data.x.shape[-1])
    device = resolve_device(cfg.device)
    make_gan(cfg, channels, size)  # validates channels and image size before any work

    def build() -> nn.Module:
        gan = make_gan(cfg, channels, size)
        return nn.ModuleDict({"generator": gan.generator, "discriminator": gan.discriminator, "log": TrainingLog()})

    def train(pair: nn.Module) -> float:
        seed_everything(cfg.seed)
        with Timer() as t:
            train_gan(
                GAN(pair["generator"], pair["discriminator"], cfg.latent_dim),
                data,
                cfg,
                device,
                desc="original GAN",
                monitor=monitor,
                log=pair["log"],
            )
        return t.seconds

    parts = {
        "data": fingerprint(data),
        "recipe": recipe_parts(cfg, drop=("device",)),  # the device type is its own part
        "channels": channels,
        "image_size": size,
        "code": source_digest(make_gan, make_optimizers, real_batches, gan_step, train_gan, TrainingLog),
        **({"monitor": monitor_key} if cfg.check_every > 0 else {}),
        "device": device.type,
        **({"cpu_threads": torch.get_num_threads()} if device.type == "cpu" else {}),  # reductions depend on it
    }
    store = ArtifactCache(cache_dir, enabled=None if use_cache else False)
    pair, info = store.load_or_train("gan", parts, build, train, device=device)
    gan = GAN(pair["generator"], pair["discriminator"], cfg.latent_dim).to(device).eval()
    log: TrainingLog = pair["log"]
    stopped = int(log.stopped_at) or cfg.iterations
    return gan, {
        "seconds": info.seconds,
        "cached": info.cached,
        "path": str(info.path) if info.path else None,
        "artifact": info,
        "curve": log.rows(),
        "stopped_at": stopped,
        "steps": 2 * stopped,
        "recipe": cfg.resolved(stopped),
    }
