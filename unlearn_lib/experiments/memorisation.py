"""How much a model memorised each training example, and forget sets graded by it.

Zhao, Kurmanji et al. ("What makes unlearning hard and what to do about it", NeurIPS 2024,
arXiv 2406.01257) show that memorisation decides how hard a forget set is. A well-learned, typical
example is predicted just as well by a model that never saw it, so forgetting it costs nothing and
"do nothing" already looks like retraining; a memorised example (atypical, or mislabelled) is only
right because it was trained on, so retraining loses it and an unlearning method has to as well.
Random forget sets are mostly the first kind; that is why they rank methods so poorly.

:func:`memorisation_scores` is Feldman & Zhang's (NeurIPS 2020) subsampling estimator,
``mem(i) = P(correct on i | i in training) - P(correct on i | i not in training)``, over ``n_models``
models trained with the original's recipe on random halves of the training set. The halves come in
complementary pairs, so every example is in exactly half of the models and out of the other half.
Beside it, the cheap *confidence proxy* (C-proxy; Jiang et al., ICLR 2021, used by Zhao et al.):
the softmax probability of the true label, averaged over the epochs of training, read from the first
complementary pair (together they train on every example once). It needs no held-out models; :meth:`MemorisationScores.rank_correlation` says
how well it ranks like the estimator. The scores are cached like every trained model (same key parts,
plus the number of models).

:func:`memorisation_split` draws equal-size forget sets from the low, medium and high levels: thirds of
the score's range (below 1/3, up to 2/3, above), the cuts RUM uses too. Not tertiles by rank: on the
embedded MNIST about 92 % of the training digits score exactly 0, so the top third by rank is mostly
typical digits (its mean score was 0.09) and a forget set drawn from it carries almost no signal.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..cache import ArtifactCache, source_digest
from ..data.datasets import ArrayDataset
from ..data.splits import ForgetSplit, make_forget_split, validation_partition
from ..metrics import mia_features, predict
from ..strategies.rum import CUTS, LEVELS
from ..tasks import Task
from ..training import Recipe, TrainConfig, train_model
from ..utils import atomic_write_json, progress, resolve_device
from .base import model_factory, training_parts

__all__ = ["CUTS", "LEVELS", "MemorisationScores", "memorisation_scores", "memorisation_split"]

_KIND = "memorisation"
_COLUMNS = ["label", "memorisation", "p_in", "p_out", "c_proxy"]


@dataclass(frozen=True)
class MemorisationScores:
    """Per training example: ``memorisation``, ``p_in``, ``p_out`` and ``c_proxy`` (index: training index).

    ``seconds`` is the measured training time of all ``n_models`` models (when read from the cache,
    the time measured when they were trained): the estimator's price. ``proxy_seconds`` is the
    C-proxy's: the first pair of models alone, with their per-epoch evaluations.
    """

    frame: pd.DataFrame
    n_models: int
    seconds: float
    proxy_seconds: float
    cached: bool = False

    def levels(self, indices: np.ndarray | None = None) -> pd.Series:
        """The level (``low`` / ``medium`` / ``high``, split at :data:`CUTS`) of each of ``indices`` (default: all)."""
        idx = np.arange(len(self.frame)) if indices is None else np.sort(np.asarray(indices))
        mem = self.frame.memorisation.to_numpy()[idx]
        level = np.where(mem < CUTS[0], LEVELS[0], np.where(mem < CUTS[1], LEVELS[1], LEVELS[2]))
        return pd.Series(level, index=pd.Index(idx, name="index"))

    def rank_correlation(self) -> float:
        """Spearman's rho between memorisation and 1 - C-proxy: how well the cheap proxy ranks like the estimator."""
        rho = stats.spearmanr(self.frame.memorisation, 1.0 - self.frame.c_proxy).statistic
        return float(rho)

    def attach(self, train: ArrayDataset) -> ArrayDataset:
        """``train`` with metadata columns ``memorisation`` and ``c_proxy``: subsets (forget sets) carry
        them to strategies (RUM reads them) and into ``examples.parquet``."""
        if len(train) != len(self.frame):
            raise ValueError(f"train has {len(train)} samples but the scores were computed on {len(self.frame)}")
        return train.with_meta(memorisation=self.frame.memorisation.to_numpy(), c_proxy=self.frame.c_proxy.to_numpy())


class _EpochConfidence:
    """Records, after every epoch's worth of optimizer steps, the model's true-label confidence on
    ``data``: the C-proxy's learning-speed signal, read without touching the training loop.

    It listens on torch's global optimizer-step hook (as :class:`~unlearn_lib.utils.Timer` counts steps);
    evaluation runs in eval mode under a forked RNG and restores the train mode, so the model trains
    exactly as it would unobserved."""

    def __init__(
        self, model: torch.nn.Module, data: ArrayDataset, task: Task, device: torch.device, steps_per_epoch: int, active: bool = True
    ) -> None:
        self.model, self.data, self.task, self.device, self.every = model, data, task, device, steps_per_epoch
        self.active = active
        self.steps = 0
        self.rows: list[np.ndarray] = []

    def __call__(self, *args: object) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            was = self.model.training
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                out = predict(self.model, self.data, self.task, self.device, keep_logits=True)
            self.model.train(was)
            self.rows.append(mia_features(out.logits, out.targets, "confidence")[:, 0])  # p(true label)

    def __enter__(self) -> _EpochConfidence:
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self._hook = register_optimizer_step_post_hook(self) if self.active else None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hook is not None:
            self._hook.remove()


def _check_n_models(n_models: object) -> int:
    if not isinstance(n_models, (int, np.integer)) or isinstance(n_models, bool) or n_models < 2 or n_models % 2:
        raise ValueError(
            f"n_models must be an even int >= 2 (complementary halves come in pairs; the estimator wants >= 16), got {n_models!r}"
        )
    return int(n_models)


def memorisation_scores(
    train: ArrayDataset,
    task: Task,
    *,
    model: str,
    model_kwargs: Mapping[str, Any] | None = None,
    recipe: Recipe | Mapping[str, Any] | None = None,
    n_models: int = 16,
    seed: int = 0,
    device: str = "auto",
    cache: ArtifactCache | None = None,
) -> MemorisationScores:
    """Feldman & Zhang's memorisation score and the C-proxy of every example of ``train``.

    ``n_models`` models (an even number; 16 or more for the estimator to resolve steps of 1/8) are
    trained with ``recipe`` (the original's: memorisation is a property of the recipe too) on
    complementary random halves, drawn with ``seed``. Scores go through ``cache`` (default
    ``ArtifactCache()``), keyed like a trained model plus ``n_models``.

    Raises:
        ValueError: ``n_models`` odd or < 2, a dataset without one label per example, or fewer than 4 examples.
    """
    n_models = _check_n_models(n_models)
    if train.y.ndim != 1 or len(train) < 4:
        raise ValueError(
            f"memorisation_scores needs a classification set of at least 4 examples, got targets of shape {tuple(train.y.shape)}"
        )
    kwargs = dict(model_kwargs or {})
    cfg = recipe if isinstance(recipe, Recipe) else TrainConfig.from_dict(recipe)
    store = cache if cache is not None else ArtifactCache()
    parts = training_parts(train, model, kwargs, seed, seed, cfg, task, device)
    key = store.key(_KIND, **parts, n_models=n_models, estimator=source_digest(memorisation_scores, _EpochConfidence))
    path = store.paths(_KIND, key)[1]
    if store.enabled and path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(stored["frame"])[_COLUMNS].rename_axis("index")
        return MemorisationScores(frame, int(stored["n_models"]), float(stored["seconds"]), float(stored["proxy_seconds"]), cached=True)

    dev = resolve_device(device)
    n = len(train)
    correct_in, correct_out = np.zeros(n), np.zeros(n)
    confidence = np.zeros(n)
    seconds = proxy_seconds = 0.0
    for pair in progress(range(n_models // 2), desc="memorisation pairs"):
        order = np.random.default_rng([seed, pair]).permutation(n)
        for side, half in enumerate((np.sort(order[: n // 2]), np.sort(order[n // 2 :]))):
            m = 2 * pair + side
            net = model_factory(model, seed * 1000 + m, **kwargs)()
            data = train.subset(half, f"half-{m}")
            # The C-proxy is read from the first pair only: its two models see every example once, which
            # is all the proxy needs (one training's worth), and the other pairs train unobserved.
            watch = _EpochConfidence(net, data, task, dev, steps_per_epoch=-(-len(half) // cfg.batch_size), active=pair == 0)
            start = time.perf_counter()
            with watch:
                train_model(net, data, task, cfg, device=dev, seed=seed * 1000 + m, desc=f"memorisation model {m + 1}/{n_models}")
            seconds += time.perf_counter() - start
            if pair == 0:
                proxy_seconds += time.perf_counter() - start
            hit = np.asarray(predict(net, train, task, dev).correct, dtype=np.float64)
            inside = np.zeros(n, dtype=bool)
            inside[half] = True
            correct_in[inside] += hit[inside]
            correct_out[~inside] += hit[~inside]
            if watch.rows:
                confidence[half] = np.mean(watch.rows, axis=0)
    # Complementary halves: every example is in exactly one model of each pair, out of the other.
    n_in = np.full(n, n_models / 2)
    p_in, p_out = correct_in / n_in, correct_out / (n_models - n_in)
    frame = pd.DataFrame(
        {
            "label": train.labels.astype(np.int64),
            "memorisation": p_in - p_out,
            "p_in": p_in,
            "p_out": p_out,
            "c_proxy": confidence,
        }
    )
    frame.index.name = "index"
    scores = MemorisationScores(frame, n_models, seconds, proxy_seconds)
    if store.enabled:
        stored = {"frame": frame.to_dict(orient="list"), "n_models": n_models, "seconds": seconds, "proxy_seconds": proxy_seconds}
        atomic_write_json(path, stored)
    return scores


def memorisation_split(
    scores: MemorisationScores,
    labels: np.ndarray,
    level: str,
    n_forget: int,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> ForgetSplit:
    """``n_forget`` training examples drawn (seeded) from one memorisation ``level`` of the seed's pool.

    Candidates are the seed's training pool (validation excluded), so the validation part is the one
    every other kind of this seed has and one original serves every level. Use one ``n_forget`` for
    every level: the size of the request then plays no part in the comparison.

    Raises:
        ValueError: an unknown ``level``, scores for another training set, or ``n_forget`` more than the
            level holds (the counts of every level are named).
    """
    labels = np.asarray(labels)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if len(scores.frame) != len(labels):
        raise ValueError(f"the scores cover {len(scores.frame)} examples but labels has {len(labels)}: score the same training set")
    _, pool = validation_partition(labels, seed=seed, val_fraction=val_fraction)
    levels = scores.levels(pool)
    candidates = levels.index[levels == level].to_numpy()
    if not isinstance(n_forget, (int, np.integer)) or isinstance(n_forget, bool) or not 1 <= n_forget <= len(candidates):
        counts = {lv: int((levels == lv).sum()) for lv in LEVELS}
        raise ValueError(
            f"n_forget must be an int in [1, {len(candidates)}]: the {level}-memorisation level of seed {seed}'s training pool "
            f"holds {len(candidates)} examples (levels {counts}); got {n_forget!r}"
        )
    rng = np.random.default_rng([seed, 11, LEVELS.index(level)])
    chosen = np.sort(rng.choice(candidates, size=int(n_forget), replace=False))
    split = make_forget_split(labels, "index", forget=chosen, seed=seed, val_fraction=val_fraction)
    mem = scores.frame.memorisation.to_numpy()[chosen]
    desc = f"{n_forget} {level}-memorisation training samples (memorisation {mem.min():.2f} to {mem.max():.2f}, mean {mem.mean():.2f})"
    # What a model that never saw them gets right (the estimator's P(correct | out)): the target tuning
    # aims the forget accuracy at, since a memorised example's validation-like accuracy is not it.
    unseen = float(scores.frame.p_out.to_numpy()[chosen].mean())
    meta = {**split.meta, "level": level, "memorisation_mean": float(mem.mean()), "unseen_accuracy": unseen}
    return dataclasses.replace(split, kind="memorisation", description=desc, meta=meta)
