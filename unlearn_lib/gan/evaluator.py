"""The evaluator classifier: trained once on the same real data as the GAN, cached on disk.

It stands in for the Inception network of the usual GAN metrics (no Inception weights can be
downloaded here): its labels give the share of generated images of the forgotten class, its
penultimate features the classifier-FID, its probabilities the classifier Inception-style score.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.datasets import ArrayDataset
from ..metrics import predict
from ..metrics.gan import penultimate_features
from ..models import build_model
from ..tasks import ClassificationTask
from ..training import TrainConfig, train_model
from ..utils import resolve_device
from .training import atomic_torch_save, cache_key, default_cache_dir

__all__ = ["load_or_train_evaluator", "penultimate_features"]


def load_or_train_evaluator(
    train: ArrayDataset,
    test: ArrayDataset,
    *,
    model: str = "small_cnn",
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | dict | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train (or read from the cache) the evaluator classifier on ``train``; report its test accuracy.

    The cache key holds the model name and arguments, the recipe, the seed, the training data and
    the device type; checkpoints are written atomically and read with ``weights_only=True``.

    Returns:
        The classifier in eval mode, and ``info`` with ``test_accuracy``, ``cached`` and ``path``.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if train.num_classes is None or train.x.ndim != 4:
        raise ValueError("train must be a labelled ArrayDataset of images shaped (N, C, H, W)")
    kwargs = {"in_channels": int(train.x.shape[1]), "num_classes": int(train.num_classes), "input_size": int(train.x.shape[-1])}
    kwargs.update(model_kwargs or {})
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_model(model, **kwargs)
    penultimate_features(net, train.x[:2])  # fails now, not after training, if features cannot be read
    params = {"model": model, "kwargs": kwargs, "recipe": cfg.to_dict(), "seed": seed}
    path = (
        Path(cache_dir) if cache_dir is not None else default_cache_dir()
    ) / f"evaluator-{cache_key('evaluator', params, train, dev)}.pt"
    task = ClassificationTask(int(train.num_classes))
    if use_cache and path.is_file():
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        net.to(dev).eval()
        cached = True
    else:
        net, _ = train_model(net, train, task, cfg, device=dev, seed=seed, desc="evaluator")
        atomic_torch_save(net.state_dict(), path)
        cached = False
    acc = predict(net, test, task, dev).accuracy
    return net.eval(), {"test_accuracy": acc, "cached": cached, "path": str(path)}
