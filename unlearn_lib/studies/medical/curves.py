"""Learning curves of the original recipe, and the epoch at which validation accuracy stops improving.

Why: an original trained for a fixed, guessed number of epochs may be under-fitted (forgetting then has
nothing to undo) or far past its best. Here the recipe is replayed epoch by epoch, exactly as
:func:`~unlearn_lib.training.train_model` runs it (same initial weights, same seeding, same shuffles),
scoring the training pool, the validation partition and the test subjects after every epoch; training
stops once validation accuracy has not improved for ``patience`` epochs. The original and retraining
then use the picked number of epochs, so "retrain repeats the original's recipe" still holds exactly,
and the original of a curve's seed is bit-for-bit the curve's model at that epoch.

With ``patience=None`` nothing is picked: the curves run the recipe's fixed epochs and are a diagnostic
(how far the original memorises its training set). Why that is the default profile's choice: on a small
validation set the best epoch sits on a plateau where one sample decides, so early stopping is a knife
edge that float differences between CPUs can flip (see ``docs/reproducibility.md``).

A constant learning rate is required: under a cosine schedule the rate at epoch ``e`` depends on the
total epoch count, so a prefix of a longer run is not a shorter run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ...cache import ArtifactCache, fingerprint
from ...experiments import model_factory
from ...experiments.base import training_parts
from ...loops import train_epoch
from ...metrics import predict
from ...results import ResultsRecorder
from ...training import TrainConfig
from ...utils import atomic_write_json, resolve_device, seed_everything, torch_generator
from .study import MedicalStudy

__all__ = [
    "CURVE",
    "curve_table",
    "learning_curve",
    "plot_curves",
    "replays_curves",
    "run_curves",
    "stop_table",
    "stopping_epoch",
    "with_epochs",
]

_COLUMNS = ("epoch", "split", "accuracy", "best")
#: Scenario of the learning-curve rows (one row per epoch, split and metric).
CURVE = "curve"
#: Their method: not ``original``, so that tables averaging the original's rows over scenarios (the
#: floors' margins) never mix in the accuracies of early, unfinished epochs.
CURVE_METHOD = "original_per_epoch"


def replays_curves(recipe: TrainConfig | Mapping[str, Any]) -> bool:
    """Whether learning curves can replay ``recipe`` (a constant rate; a recipe that names no schedule gets
    :class:`~unlearn_lib.training.TrainConfig`'s default): under a cosine schedule a run's prefix is not a shorter run."""
    cfg = recipe if isinstance(recipe, TrainConfig) else TrainConfig.from_dict(dict(recipe))
    return cfg.schedule == "constant"


def learning_curve(study: MedicalStudy, seed: int, max_epochs: int = 40, patience: int | None = 5) -> pd.DataFrame:
    """Accuracy on ``train`` (the training pool), ``val`` and ``test`` after each epoch of the study's
    recipe for ``seed``, until validation accuracy has not improved for ``patience`` epochs (or
    ``max_epochs``; every one of them when ``patience`` is None). Columns ``epoch, split, accuracy, best`` (``best``: the epoch with the highest
    validation accuracy so far, the earliest on ties).

    Raises:
        ValueError: a cosine schedule (the replay is of a constant rate), or ``max_epochs`` / ``patience`` below 1.
    """
    cfg = study.train_cfg
    if not replays_curves(cfg):
        raise ValueError(
            f"learning curves replay a constant learning rate (recipe schedule={cfg.schedule!r}); set recipe['schedule']='constant'"
        )
    for name, value in (("max_epochs", max_epochs), ("patience", max_epochs if patience is None else patience)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    device = resolve_device(study.device)
    val_idx = study.val_partition(seed)
    pool = study.train.subset(np.setdiff1d(np.arange(len(study.train)), val_idx), "train-pool")
    val = study.train.subset(val_idx, "val")
    # A curve is as deterministic as the original it replays, so it is cached beside it (same keys,
    # plus the scored sets and the stopping rule): a warm rerun reads it instead of training again.
    store = study.cache if study.cache is not None else ArtifactCache()
    parts = training_parts(pool, study.model, study.model_kwargs, seed, seed, cfg, study.task, study.device)
    key = store.key("curve", **parts, val=fingerprint(val), test=fingerprint(study.test), max_epochs=max_epochs, patience=patience)
    path = store.paths("curve", key)[1]
    if store.enabled and path.is_file():
        return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))[list(_COLUMNS)]
    curve = _replay(study, seed, pool, val, device, max_epochs, patience)
    if store.enabled:
        atomic_write_json(path, curve.to_dict(orient="records"))
    return curve


def _replay(
    study: MedicalStudy, seed: int, pool: Any, val: Any, device: torch.device, max_epochs: int, patience: int | None
) -> pd.DataFrame:
    """The epoch-by-epoch replay of the recipe behind :func:`learning_curve`."""
    cfg = study.train_cfg
    net = model_factory(study.model, seed, **study.model_kwargs)()
    seed_everything(seed)  # as train_model does, so epoch e here is the original trained for e epochs
    net.to(device)
    opt = cfg.make_optimizer(net.parameters())
    gen = torch_generator(seed)
    rows, best_acc, best_epoch = [], -1.0, 0
    for epoch in range(1, max_epochs + 1):
        train_epoch(net, pool, study.task, opt, device, cfg.batch_size, gen)
        with torch.random.fork_rng():  # evaluation must not move any random state the next epoch uses
            acc = {
                name: float(np.mean(np.asarray(predict(net, data, study.task, device).correct)))
                for name, data in (("train", pool), ("val", val), ("test", study.test))
            }
        if acc["val"] > best_acc:  # strict: on a plateau the earliest epoch stays the best (standard early stopping)
            best_acc, best_epoch = acc["val"], epoch
        rows += [{"epoch": epoch, "split": split, "accuracy": value, "best": best_epoch} for split, value in acc.items()]
        if patience is not None and epoch - best_epoch >= patience:
            break
    return pd.DataFrame(rows)


def stopping_epoch(curves: Sequence[pd.DataFrame]) -> int:
    """The epochs the recipe should run: the median (rounded down) of the curves' best-validation epochs.
    One number for every seed, because retraining must repeat one recipe."""
    if not curves:
        raise ValueError("stopping_epoch needs at least one learning curve")
    return int(np.floor(np.median([int(c.best.iloc[-1]) for c in curves])))


def run_curves(study: MedicalStudy, seeds: Sequence[int], recorder: ResultsRecorder, max_epochs: int = 40, patience: int | None = 5) -> int:
    """Learning curves for ``seeds`` recorded as rows of scenario :data:`CURVE` (``epoch`` column), and
    the epoch count the recipe runs recorded as ``(curve, stop_epoch)``; returns that count: the picked
    one under early stopping, ``max_epochs`` (the fixed recipe) when ``patience`` is None."""
    curves = []
    for seed in seeds:
        curve = learning_curve(study, seed, max_epochs, patience)
        curves.append(curve)
        for r in curve.itertuples():
            recorder.add(
                scenario=CURVE, method=CURVE_METHOD, seed=seed, split=r.split, metric="accuracy", value=r.accuracy, epoch=int(r.epoch)
            )
        recorder.add(scenario=CURVE, method=CURVE_METHOD, seed=seed, split="val", metric="best_epoch", value=float(curve.best.iloc[-1]))
    epochs = int(max_epochs) if patience is None else stopping_epoch(curves)
    recorder.add(scenario=CURVE, method=CURVE_METHOD, seed=int(seeds[0]), split="all", metric="stop_epoch", value=float(epochs))
    return epochs


def with_epochs(study: MedicalStudy, epochs: int) -> MedicalStudy:
    """The same study with the recipe's epochs set to ``epochs`` (originals and retraining both use it)."""
    return dataclasses.replace(study, recipe={**study.recipe, "epochs": int(epochs)}, hparams=dict(study.hparams))


def curve_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per epoch and split over the curves' seeds (from saved rows), with the picked epoch."""
    rows = df[(df.scenario == CURVE) & (df.metric == "accuracy")]
    if rows.empty:
        raise ValueError(f"no {CURVE!r} rows in these results")
    table = rows.pivot_table(index="epoch", columns="split", values="value", aggfunc="mean")
    return table[[c for c in ("train", "val", "test") if c in table]]


def stop_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per curve seed: its best epoch, and train / validation / test accuracy at the picked epoch count
    with the train - test gap (the memorisation forgetting can undo), from saved rows."""
    rows = df[df.scenario == CURVE]
    stop = rows[rows.metric == "stop_epoch"].value
    if stop.empty:
        raise ValueError(f"no {CURVE!r} stop_epoch row in these results")
    epoch = float(stop.iloc[0])
    acc = rows[(rows.metric == "accuracy") & (pd.to_numeric(rows.epoch) == epoch)].pivot_table(
        index="seed", columns="split", values="value"
    )
    best = rows[rows.metric == "best_epoch"].set_index("seed").value.rename("best epoch")
    # A seed whose curve stopped before the picked epoch has no row there: it shows as NaN, not dropped.
    table = acc.reindex(index=best.index, columns=["train", "val", "test"]).join(best)
    table["train − test"] = table["train"] - table["test"]
    table.insert(0, "picked epochs", int(epoch))
    return table


def plot_curves(df: pd.DataFrame) -> plt.Figure:
    """Train / validation / test accuracy per epoch (mean over seeds), the picked epoch marked."""
    table = curve_table(df)
    stop = df[(df.scenario == CURVE) & (df.metric == "stop_epoch")].value
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for split in table:
        ax.plot(table.index, table[split], marker=".", label=split)
    if len(stop):
        ax.axvline(float(stop.iloc[0]), color="grey", ls="--", lw=1, label="picked epochs")
    ax.set(xlabel="epoch", ylabel="accuracy", title="original recipe: learning curves")
    ax.legend()
    fig.tight_layout()
    return fig
