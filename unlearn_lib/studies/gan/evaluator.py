"""The evaluator classifier: trained once on the same real data as the GAN, cached on disk.

It stands in for the Inception network of the usual GAN metrics (no Inception weights can be
downloaded here): its labels give the share of generated images of the forgotten class, its
penultimate features the classifier-FID, its probabilities the classifier Inception-style score.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from ...cache import ArtifactCache
from ...data.datasets import ArrayDataset
from ...experiments.base import train_or_load
from ...metrics import predict
from ...metrics.gan import penultimate_features
from ...models import build_model
from ...tasks import ClassificationTask
from ...training import TrainConfig
from ...utils import resolve_device

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

    It goes through the artifact cache (:class:`~unlearn_lib.cache.ArtifactCache`, kind ``evaluator``,
    root ``cache_dir``): the key holds the model name and arguments, the recipe, the seed, the training
    data and the device type; checkpoints are written atomically and read with ``weights_only=True``.
    ``use_cache=False`` (or ``UNLEARN_NO_CACHE=1``) always trains and neither reads nor writes.

    Returns:
        The classifier in eval mode, and ``info`` with ``test_accuracy``, ``cached``, ``path`` and
        ``artifact`` (the :class:`~unlearn_lib.cache.ArtifactInfo`).
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if train.num_classes is None or train.x.ndim != 4:
        raise ValueError("train must be a labelled ArrayDataset of images shaped (N, C, H, W)")
    kwargs = {"in_channels": int(train.x.shape[1]), "num_classes": int(train.num_classes), "input_size": int(train.x.shape[-1])}
    kwargs.update(model_kwargs or {})
    dev = resolve_device(device)

    def build() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_model(model, **kwargs)
        penultimate_features(net, train.x[:2])  # fails now, not after training, if features cannot be read
        return net

    build()  # every check before any work (hashing the data, training)
    task = ClassificationTask(int(train.num_classes))

    store = ArtifactCache(cache_dir, enabled=None if use_cache else False)
    net, info = train_or_load("evaluator", train, model, kwargs, cfg, task, dev, seed, cache=store, factory=build)
    acc = predict(net, test, task, dev).accuracy
    path = str(info.path) if info.path else None
    return net.eval(), {"test_accuracy": acc, "cached": info.cached, "path": path, "artifact": info}
