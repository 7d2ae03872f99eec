"""Subject-level unlearning for 3D segmentation, as library code so notebook 03 stays thin.

:class:`SegmentationExperiment` holds one cohort split by subject (forget / retain / held-out), trains
the baseline with the Med3D recipe, applies each strategy with a per-epoch callback that records
Dice and MAE on every split, and writes tidy rows. Per-epoch rows are scenario ``curve`` with the
``epoch`` column set (epoch 0 is the baseline); the end of each run is scenario ``final``. :func:`horizon_table` reads the
20- and 50-epoch values back from ``metrics.csv`` with their change relative to the baseline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.patches import Patch
from torch import nn
from torch.utils.data import Dataset

from .cache import ArtifactCache, ArtifactInfo
from .data.datasets import ArrayDataset
from .data.patches import random_patches, tile_patches
from .data.splits import make_forget_split
from .experiments.base import Experiment, Values, cached_retrain, model_factory, training_parts
from .floors import FLOORS, record_floors
from .loops import batches
from .metrics.segmentation import SegmentationOutputs, evaluate_segmentation
from .results import ResultsRecorder
from .strategies import UnlearnResult, make_config, unlearn
from .tasks import SegmentationTask, Task
from .training import Recipe, train_model
from .utils import atomic_write, progress, resolve_device, torch_generator

__all__ = [
    "PAPER_HEADLINE",
    "SavedSlices",
    "SegTrainConfig",
    "SegmentationExperiment",
    "cohort_figure",
    "cost_table",
    "curves_frame",
    "dice_curves",
    "floors_table",
    "headline_comparison",
    "horizon_spread",
    "horizon_table",
    "inter_subject_dice",
    "memorisation_table",
    "merge_parts",
    "read_slices",
    "record_floors",
    "save_slices",
    "slices_figure",
    "subject_splits",
    "summary_parts",
    "tradeoff_table",
    "train_segmenter",
    "with_epochs",
]

#: arXiv 2606.16180, Noisy Label after 50 epochs on MRBrainS18 (mean foreground Dice).
PAPER_HEADLINE = {
    "method": "noisy_label",
    "epochs": 50,
    "forget_before": 0.9226,
    "forget_after": 0.0613,
    "forget_change_pct": -93.0,
    "retain_after": 0.7576,
    "retain_pct_of_baseline": 84.0,
}
SPLITS = ("retain", "forget", "heldout")


@dataclass
class SegTrainConfig(Recipe):
    """Med3D's fine-tuning recipe: cross-entropy, SGD momentum 0.9, weight decay 1e-3, encoder lr 1e-3
    and ``head_lr_factor`` (100x) for the head, ExponentialLR gamma 0.99 per epoch, batch 1.

    Patch-wise training (``patch_size`` set): every epoch draws ``patches_per_volume`` fresh random crops
    per training volume (:func:`~unlearn_lib.data.patches.random_patches`, foreground and background
    centres at even odds), so an epoch is ``n_volumes * patches_per_volume`` crops. ``loss="dice_ce"``
    is MONAI's ``DiceCELoss`` (foreground Dice + cross-entropy), which keeps thin, rare tissue (CSF) from
    being drowned by background; ``"ce"`` is Med3D's cross-entropy.
    """

    epochs: int = 100
    lr: float = 1e-3
    head_lr_factor: float = 100.0
    weight_decay: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 1
    patch_size: int | None = None
    patches_per_volume: int = 4
    loss: Literal["ce", "dice_ce"] = "ce"

    def check(self) -> None:
        super().check()
        self._positive("epochs", "head_lr_factor", "gamma", "patches_per_volume")
        if self.gamma > 1:
            raise ValueError(f"SegTrainConfig.gamma must be in (0, 1], got {self.gamma}")
        if self.patch_size is not None and (not isinstance(self.patch_size, int) or self.patch_size < 4):
            raise ValueError(f"SegTrainConfig.patch_size must be None or an int >= 4, got {self.patch_size!r}")
        if self.loss not in ("ce", "dice_ce"):
            raise ValueError(f"SegTrainConfig.loss must be 'ce' or 'dice_ce', got {self.loss!r}")

    def criterion(self, task: Task) -> Any:
        """The training loss: the task's cross-entropy, or MONAI's Dice + cross-entropy."""
        if self.loss == "ce":
            return task.loss
        from monai.losses import DiceCELoss

        dice_ce = DiceCELoss(include_background=False, to_onehot_y=True, softmax=True)
        return lambda logits, y: dice_ce(logits, y[:, None])

    def fit(
        self, model: nn.Module, dataset: Dataset, task: Task, device: torch.device, seed: int, desc: str = "train segmenter"
    ) -> nn.Module:
        """Encoder and head as separate parameter groups (the head at ``head_lr_factor`` x lr)."""
        model.to(device)
        enc, dec = getattr(model, "encoder", None), getattr(model, "decoder", None)
        if isinstance(enc, nn.Module) and isinstance(dec, nn.Module):
            groups = [{"params": enc.parameters(), "lr": self.lr}, {"params": dec.parameters(), "lr": self.lr * self.head_lr_factor}]
        else:
            groups = [{"params": model.parameters(), "lr": self.lr}]
        opt = self.make_optimizer(groups)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, self.gamma)
        gen = torch_generator(seed)
        loss_fn = self.criterion(task)
        if self.patch_size is not None and not isinstance(dataset, ArrayDataset):
            raise ValueError("patch-wise training needs an ArrayDataset of volumes")
        for epoch in progress(range(self.epochs), desc=desc):
            model.train()
            data = dataset
            if self.patch_size is not None:  # fresh crops every epoch, from (seed, epoch) only
                data = random_patches(dataset, self.patch_size, self.patches_per_volume, seed=seed * 100_003 + epoch)
            for x, y in batches(data, self.batch_size, generator=gen):
                x, y = x.to(device), y.to(device)
                loss = loss_fn(task.logits(model, x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
        return model.eval()


def train_segmenter(
    model: nn.Module,
    dataset: ArrayDataset,
    task: SegmentationTask,
    config: SegTrainConfig | Mapping[str, Any] | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
) -> tuple[nn.Module, float]:
    """Train with :class:`SegTrainConfig` (encoder and head as separate parameter groups); returns (model, seconds)."""
    cfg = config if isinstance(config, SegTrainConfig) else SegTrainConfig.from_dict(config)
    return train_model(model, dataset, task, cfg, device=device, seed=seed, desc="train segmenter")


def subject_splits(dataset: ArrayDataset, forget_subjects: Sequence[int], heldout_subjects: Sequence[int]) -> dict[str, ArrayDataset]:
    """Split by subject id: ``forget`` (to unlearn), ``heldout`` (never trained on), ``retain`` (the rest).

    The one forget-split module builds it (:func:`~unlearn_lib.data.make_forget_split`, kind
    ``subject``: the held-out subjects are its validation part).
    """
    if "subject" not in dataset.meta:
        raise ValueError("dataset has no 'subject' metadata column")
    split = make_forget_split(dataset.meta["subject"], "subject", forget=list(forget_subjects), heldout=list(heldout_subjects))
    parts = split.datasets(dataset)
    return {"retain": parts["retain"], "forget": parts["forget"], "heldout": dataset.subset(split.val, "heldout")}


@dataclass
class SegmentationExperiment(Experiment):
    """One subject split of a cohort, a Med3D-style model, and the unlearning runs on it."""

    modality: ClassVar[str] = "segmentation"

    dataset: ArrayDataset
    forget_subjects: Sequence[int]
    heldout_subjects: Sequence[int]
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    model_name: str = "med3d_resnet"
    seed: int = 0
    device: str = "auto"
    mae_kind: Literal["probability", "label"] = "probability"
    slice_axis: int = 2
    label_names: Sequence[str] | None = None
    original: nn.Module | None = None
    #: The recipe the original was trained with (set by :meth:`train_baseline`); ``retrain`` repeats it.
    recipe: SegTrainConfig | None = None
    results: dict[str, Any] = field(default_factory=dict)
    #: The kept axial slices, keyed as ``slices.npz`` stores them (:func:`save_slices`, :func:`read_slices`).
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    #: Unlearning epochs at which every method's predicted slices are kept (the notebook's horizons; None:
    #: only each model's final prediction), so the explorer can step through epochs.
    slice_epochs: Sequence[int] | None = None
    #: Axial slices kept per subject, evenly spread over the brain (the truth's foreground extent).
    n_slices: int = 5
    #: Retain subjects whose slices are kept (the first ones), beside every forget subject.
    slice_retain: int = 2
    #: Where the baseline and the retrained reference are kept (None: ``ArtifactCache()``, which follows
    #: ``$UNLEARN_CACHE`` and ``UNLEARN_NO_CACHE``).
    cache: ArtifactCache | None = None
    #: Patch edge for unlearning (None: whole volumes). With patches, one unlearning epoch is one pass
    #: over the forget subject's tiles (:func:`tile_patches`) paired with as many fixed random crops of
    #: the retain subjects (``retain_patches``, None: as many as there are tiles), the same for every
    #: method (retrain trains on whole retain volumes with the recipe).
    unlearn_patch: int | None = None
    retain_patches: int | None = None
    #: Sliding-window edge for evaluation (None: whole volumes in one pass).
    roi_size: int | None = None
    #: How many retain subjects are evaluated (the first ones; None: all). Every epoch's evaluation
    #: costs one inference per evaluated subject, so a large cohort evaluates a sample.
    eval_retain: int | None = None
    #: Unlearning epochs after which the curve is recorded (None: every epoch).
    eval_epochs: Sequence[int] | None = None
    #: A label for every row this experiment writes (the ``group`` column), e.g. the forgotten subject.
    group: str | None = None

    def __post_init__(self) -> None:
        if self.dataset.num_classes is None or self.dataset.num_classes < 2:
            raise ValueError("dataset.num_classes must be >= 2")
        self.task = SegmentationTask(int(self.dataset.num_classes))
        self.splits = subject_splits(self.dataset, self.forget_subjects, self.heldout_subjects)
        v = self.retain_patches
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ValueError(f"retain_patches must be None or an int >= 1, got {v!r}")
        if self.eval_retain is not None and (
            not isinstance(self.eval_retain, int) or isinstance(self.eval_retain, bool) or self.eval_retain < 1
        ):
            raise ValueError(f"eval_retain must be None or an int >= 1, got {self.eval_retain!r}")
        if self.eval_epochs is not None and (
            isinstance(self.eval_epochs, str) or not all(isinstance(e, int) and e >= 1 for e in self.eval_epochs)
        ):
            raise ValueError(f"eval_epochs must be None or a list of ints >= 1, got {self.eval_epochs!r}")
        if self.slice_epochs is not None and (
            isinstance(self.slice_epochs, str)
            or not all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in self.slice_epochs)
        ):
            raise ValueError(f"slice_epochs must be None or a list of ints >= 1, got {self.slice_epochs!r}")
        for name in ("n_slices", "slice_retain"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (1 if name == "n_slices" else 0):
                raise ValueError(f"{name} must be an int >= {1 if name == 'n_slices' else 0}, got {v!r}")
        retain = self.splits["retain"]
        n_eval = len(retain) if self.eval_retain is None else min(self.eval_retain, len(retain))
        #: The splits every evaluation reads: forget, held-out and (the first ``eval_retain``) retain subjects.
        self.eval_splits = {
            "retain": retain.subset(np.arange(n_eval), "retain"),
            "forget": self.splits["forget"],
            "heldout": self.splits["heldout"],
        }
        #: What the unlearning methods (not retrain) iterate over: volumes, or tiles and retain crops.
        self.unlearn_sets = {"forget": self.splits["forget"], "retain": retain}
        if self.unlearn_patch is not None:
            forget_tiles = tile_patches(self.splits["forget"], self.unlearn_patch)
            n_retain = len(forget_tiles) if self.retain_patches is None else self.retain_patches
            per_volume = -(-n_retain // max(len(retain), 1))
            pool = random_patches(retain, self.unlearn_patch, per_volume, seed=self.seed)
            pick = np.random.default_rng([self.seed, 31]).permutation(len(pool))[:n_retain]
            self.unlearn_sets = {"forget": forget_tiles, "retain": pool.subset(np.sort(pick), "retain patches")}
        self.dev = resolve_device(self.device)
        kwargs = {"num_classes": self.task.num_classes, "in_channels": int(self.dataset.x.shape[1]), **dict(self.model_kwargs)}
        self.factory = model_factory(self.model_name, self.seed, **kwargs)  # validates name and arguments now
        self._model_args = kwargs
        self.original_seconds: float | None = None
        #: Where the baseline came from (trained now or read from the cache); set by :meth:`train_baseline`.
        self.original_info: ArtifactInfo | None = None
        self._original_values: Values | None = None
        self._outputs: dict[str, dict[str, SegmentationOutputs]] = {}

    def train_baseline(self, config: SegTrainConfig | Mapping[str, Any] | None = None) -> float:
        """Train the original model on retain + forget subjects with ``config`` (kept as the recipe); returns
        the wall time, measured when it was trained if it is read from the artifact cache
        (``original_info.describe()`` says which). The training subjects are taken in the dataset's order,
        so every forget request over the same held-out subjects trains (and caches) one and the same original."""
        train = self.training_set()
        self.recipe = config if isinstance(config, SegTrainConfig) else SegTrainConfig.from_dict(config)
        recipe = self.recipe

        def fit(net: nn.Module) -> float:
            return train_segmenter(net, train, self.task, recipe, device=self.dev, seed=self.seed)[1]

        parts = training_parts(train, self.model_name, self._model_args, self.seed, self.seed, recipe, self.task, self.dev)
        self.original, info = self._cache().load_or_train("original", parts, self.factory, fit, device=self.dev)
        self.original_info, seconds = info, info.seconds
        self.original_seconds, self._original_values, self._outputs = seconds, None, {}
        self.predictions = {}
        self._keep_predictions("original", self.original)
        return seconds

    def training_set(self) -> ArrayDataset:
        """Every subject that is not held out (retain and forget), in the dataset's order."""
        held = set(np.asarray(self.splits["heldout"].meta["subject"]).tolist())
        keep = [i for i, s in enumerate(np.asarray(self.dataset.meta["subject"]).tolist()) if s not in held]
        out = self.dataset.subset(keep, "train")
        return ArrayDataset(out.x, out.y, num_classes=self.task.num_classes)

    def evaluate(self, model: nn.Module) -> Values:
        """Mean Dice, Dice per class, MAE, voxel accuracy and loss on retain, forget and held-out subjects."""
        return self._evaluate(model)[0]

    def evaluate_method(self, method: str, result: Any) -> Values:
        values, self._outputs[method] = self._evaluate(result.model)  # per-subject outputs kept for the examples
        return values

    def record_examples(self, recorder: ResultsRecorder, scenario: str, methods: Sequence[str], **extra: Any) -> None:
        """Per subject and class: Dice, with the subject's MAE and loss (``examples.parquet``)."""
        names = list(self.label_names or range(self.task.num_classes))
        for method in methods:
            for split, out in self._outputs.get(method, {}).items():
                subjects = np.asarray(self.eval_splits[split].meta["subject"])
                n_fg = out.dice_per_class.shape[1]
                frame = pd.DataFrame(
                    {
                        "id": np.repeat(subjects, n_fg).astype(np.int64),
                        "label": np.tile(np.arange(1, n_fg + 1), len(subjects)).astype(np.int64),
                        "label_name": np.tile([str(n) for n in names[1 : n_fg + 1]], len(subjects)),
                        "dice": out.dice_per_class.reshape(-1).astype(np.float64),
                        "mae": np.repeat(out.mae, n_fg).astype(np.float64),
                        "loss": np.repeat(out.loss, n_fg).astype(np.float64),
                    }
                )
                recorder.add_examples(frame, scenario=scenario, method=method, seed=self.seed, split=split, **extra)

    def _evaluate(self, model: nn.Module) -> tuple[Values, dict[str, SegmentationOutputs]]:
        names = self.label_names
        outs = evaluate_segmentation(model, self.eval_splits, self.task, self.dev, mae_kind=self.mae_kind, roi_size=self.roi_size)
        values: Values = {}
        for split, o in outs.items():
            for metric, v in o.summary().items():
                values[(split, metric)] = v
            per_class = np.nanmean(o.dice_per_class, axis=0)
            for k, v in enumerate(per_class, start=1):
                values[(split, f"dice_{names[k] if names else k}")] = float(v)
        return values, outs

    def evaluate_original(self) -> Values:
        if self._original_values is None:  # the original does not change: evaluate it once
            self._original_values, self._outputs["original"] = self._evaluate(self.original)
        return self._original_values

    def _slice_subjects(self) -> list[tuple[int, str, ArrayDataset, int]]:
        """(subject id, role, split, row) of every forget subject and the first ``slice_retain`` retain subjects."""
        out = []
        for role, limit in (("forget", None), ("retain", self.slice_retain)):
            ds = self.splits[role]
            ids = np.asarray(ds.meta["subject"]).tolist()
            out += [(int(s), role, ds, i) for i, s in enumerate(ids[:limit])]
        return out

    def _slice_index(self, subjects: list[tuple[int, str, ArrayDataset, int]]) -> np.ndarray:
        """``n_slices`` axial positions evenly inside the kept subjects' labelled extent (edges left out: nearly empty)."""
        n = int(subjects[0][2].y.shape[1 + self.slice_axis])
        other = tuple(a for a in range(3) if a != self.slice_axis)
        fg = np.zeros(n, dtype=bool)
        for _, _, ds, i in subjects:
            fg |= (ds.y[i].numpy() > 0).any(axis=other)
        lo, hi = (int(np.flatnonzero(fg)[0]), int(np.flatnonzero(fg)[-1])) if fg.any() else (0, n - 1)
        return np.unique(np.round(np.linspace(lo, hi, self.n_slices + 2)[1:-1]).astype(np.int16))

    def _keep_predictions(self, key: str, model: nn.Module, epoch: int | None = None) -> None:
        """Kept slices of the forget and the first retain subjects: image and truth once, and this model's
        predicted labels under ``subject<id>/final/<key>`` (or ``subject<id>/epoch<epoch>/<key>``)."""
        subjects = self._slice_subjects()
        if "slice_index" not in self.predictions:
            self.predictions["slice_index"] = self._slice_index(subjects)
            self.predictions["subjects"] = np.array([s for s, _, _, _ in subjects], dtype=np.int64)
            self.predictions["roles"] = np.array([r for _, r, _, _ in subjects])
            self.predictions["epochs"] = np.array(sorted(set(self.slice_epochs or ())), dtype=np.int64)
        index = torch.as_tensor(self.predictions["slice_index"].astype(np.int64))
        was_training = model.training
        with torch.no_grad():
            model.eval()
            for subject, _, ds, i in subjects:
                x, y = ds.x[i : i + 1].to(self.dev), ds.y[i]
                pred = self.task.predictions(self.logits(model, x))[0].cpu()
                pre = f"subject{subject}"
                if f"{pre}/image" not in self.predictions:
                    self.predictions[f"{pre}/image"] = _axial(x[0, 0].cpu(), self.slice_axis, index).astype(np.float16)
                    self.predictions[f"{pre}/truth"] = _axial(y, self.slice_axis, index).astype(np.uint8)
                where = "final" if epoch is None else f"epoch{epoch}"
                self.predictions[f"{pre}/{where}/{key}"] = _axial(pred, self.slice_axis, index).astype(np.uint8)
        model.train(was_training)

    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str) -> UnlearnResult:
        """One method from the original, recording every split after every epoch (scenario ``curve``)."""
        if method != "retrain":  # every unlearning curve starts at the original; retrain has no curve
            recorder.add_many(scenario="curve", method=method, seed=self.seed, values=self.evaluate_original(), epoch=0, **self._extra())
        recorded = None if self.eval_epochs is None else set(self.eval_epochs)
        sliced = set(self.slice_epochs or ())

        def on_epoch(model: nn.Module, epoch: int, phase: str) -> None:
            # SCRUB's max pass is half an epoch; record once the epoch is done, at the scheduled epochs
            if phase != "max" and (recorded is None or epoch + 1 in recorded):
                recorder.add_many(
                    scenario="curve", method=method, seed=self.seed, values=self.evaluate(model), epoch=epoch + 1, **self._extra()
                )
            if phase != "max" and epoch + 1 in sliced:  # the evaluation keeps no volumes: predict the few kept subjects
                self._keep_predictions(method, model, epoch + 1)

        exact = method == "retrain"  # the reference trains on whole retain volumes with the recipe
        data = self.splits if exact else self.unlearn_sets

        def run(factory: Any) -> UnlearnResult:
            return unlearn(
                method,
                self.original,
                retain=data["retain"],
                forget=data["forget"],
                val=self.splits["heldout"],
                task=self.task,
                config=config,
                model_factory=factory,
                device=self.dev,
                seed=self.seed,
                on_epoch=on_epoch,
                recipe=self.recipe,
            )

        if method == "retrain" and self.recipe is not None:  # the reference through the artifact cache (it records no epochs)
            make_config(method, config)  # refuse hyper-parameters before any lookup, as unlearn would
            retain = self.splits["retain"]
            parts = training_parts(retain, self.model_name, self._model_args, self.seed, self.seed, self.recipe, self.task, self.dev)
            res = cached_retrain(self._cache(), parts, self.factory, run, self.recipe, self.dev)
        else:
            res = run(self.factory)
        self._keep_predictions(method, res.model)
        return res

    def _cache(self) -> ArtifactCache:
        return self.cache if self.cache is not None else ArtifactCache()

    def run(
        self, methods: Sequence[str], recorder: ResultsRecorder, hparams: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Values]:  # type: ignore[override]
        """Unlearn with every method (scenario ``final``, per-epoch rows in ``curve``); returns the final values."""
        if self.original is None:
            raise ValueError("train_baseline() must run before run()")
        self.check(methods, hparams)
        recorder.add_many(scenario="curve", method="original", seed=self.seed, values=self.evaluate_original(), epoch=0, **self._extra())
        steps = self.original_info.steps if self.original_info is not None else None
        return super().run(
            methods, recorder, "final", hparams, original_seconds=self.original_seconds, original_steps=steps, **self._extra()
        )

    def adopt_original(self, other: SegmentationExperiment) -> None:
        """Use ``other``'s trained baseline (another forget request over the same training subjects), so
        several requests share one original without a second training or cache read."""
        mine = np.sort(np.concatenate([self.splits["retain"].meta["subject"], self.splits["forget"].meta["subject"]]))
        theirs = np.sort(np.concatenate([other.splits["retain"].meta["subject"], other.splits["forget"].meta["subject"]]))
        if (
            other.original is None
            or not np.array_equal(mine, theirs)
            or self._model_args != other._model_args
            or self.model_name != other.model_name
        ):
            raise ValueError("adopt_original needs a trained experiment with the same training subjects and model")
        self.original, self.recipe, self.original_info, self.original_seconds = (
            other.original,
            other.recipe,
            other.original_info,
            other.original_seconds,
        )
        self._original_values, self._outputs, self.predictions = None, {}, {}
        self._keep_predictions("original", self.original)

    def _extra(self) -> dict[str, Any]:
        return {} if self.group is None else {"group": self.group}

    def logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Whole-volume logits as the evaluation computes them (sliding windows when ``roi_size`` is set)."""
        if self.roi_size is None:
            return self.task.logits(model, x)
        from monai.inferers import sliding_window_inference

        out = sliding_window_inference(x, (self.roi_size,) * 3, 4, lambda t: self.task.logits(model, t), overlap=0.25, mode="gaussian")
        return torch.as_tensor(out).as_subclass(torch.Tensor)


def curves_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The per-epoch rows of a tidy results frame with an integer ``epoch`` column."""
    sel = df[(df.scenario == "curve") & df.epoch.notna()].copy()
    if sel.empty:
        raise ValueError("no per-epoch rows (scenario 'curve' with an epoch) in these results")
    sel["epoch"] = sel.epoch.astype(int)
    return sel


def _value_at(df: pd.DataFrame, method: str, split: str, metric: str, epoch: int) -> tuple[float, bool]:
    """Value at ``epoch`` (or the run's final value for methods without epochs, e.g. retrain)."""
    rows = df[(df.method == method) & (df.split == split) & (df.metric == metric)]
    at = rows[(rows.scenario == "curve") & (rows.epoch == epoch)]
    if not at.empty:
        return float(at.value.mean()), True
    fin = rows[rows.scenario == "final"]
    return (float(fin.value.mean()), False) if not fin.empty else (float("nan"), False)


def horizon_table(
    df: pd.DataFrame, horizons: Sequence[int] = (20, 50), metric: str = "dice", splits: Sequence[str] = SPLITS
) -> pd.DataFrame:
    """Per method: ``metric`` on each split at each horizon, and the change relative to the baseline (%).

    A method that records no epochs (``retrain``) shows its final value at every horizon, marked
    ``(final)`` in the ``note`` column. A horizon past a method's last epoch is left empty.
    """
    df = df[df.scenario != FLOORS]
    order = df[df.scenario == "final"].method if (df.scenario == "final").any() else df.method  # run order
    methods = [m for m in dict.fromkeys([*order, *df.method]) if m != "original"]
    base = {s: _value_at(df, "original", s, metric, 0)[0] for s in splits}
    rows = []
    for m in methods:
        row: dict[str, Any] = {"method": m}
        notes = set()
        last = curves_frame(df[df.method == m]).epoch.max() if ((df.method == m) & (df.scenario == "curve")).any() else 0
        for h in horizons:
            for s in splits:
                if last and h > last:
                    v, exact = float("nan"), True
                else:
                    v, exact = _value_at(df, m, s, metric, h)
                if not exact:
                    notes.add("final")
                row[f"{s} {metric} @{h}"] = v
                row[f"{s} Δ% @{h}"] = 100.0 * (v - base[s]) / base[s] if base[s] else float("nan")
        row["note"] = ", ".join(sorted(notes))
        rows.append(row)
    out = pd.DataFrame(rows).set_index("method")
    baseline_row = {c: (base[c.split()[0]] if f" {metric} @" in c else 0.0) for c in out.columns if c != "note"}
    return pd.concat([pd.DataFrame([{**baseline_row, "note": "before unlearning"}], index=pd.Index(["original"], name="method")), out])


def _groups(df: pd.DataFrame) -> list[Any]:
    """The forget requests in ``df`` (its ``group`` values; one unnamed group when none is set)."""
    if "group" not in df or df.group.isna().all():
        return [None]
    return list(dict.fromkeys(df.group.dropna()))


def _group(df: pd.DataFrame, g: Any) -> pd.DataFrame:
    return df if g is None else df[df.group == g]


def _mean_std(values: Sequence[float], digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "–"
    return f"{v.mean():.{digits}f}" + (f" ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else "")


def headline_comparison(df: pd.DataFrame, epochs: int = 50) -> pd.DataFrame:
    """The paper's Noisy Label headline beside ours (mean over forget requests, and their std):
    forget Dice before and after, its change, retain Dice after and as % of the baseline."""
    m = PAPER_HEADLINE["method"]
    if not ((df.method == m).any()):
        raise ValueError(f"no {m!r} rows in these results")
    per = []
    for g in _groups(df):
        d = _group(df, g)
        f0, r0 = _value_at(d, "original", "forget", "dice", 0)[0], _value_at(d, "original", "retain", "dice", 0)[0]
        f1, r1 = _value_at(d, m, "forget", "dice", epochs)[0], _value_at(d, m, "retain", "dice", epochs)[0]
        per.append(
            {
                "forget Dice before": f0,
                "forget Dice after": f1,
                "forget change %": 100 * (f1 - f0) / f0 if f0 else float("nan"),
                "retain Dice after": r1,
                "retain % of baseline": 100 * r1 / r0 if r0 else float("nan"),
            }
        )
    ours = pd.DataFrame(per)
    paper = {
        "forget Dice before": PAPER_HEADLINE["forget_before"],
        "forget Dice after": PAPER_HEADLINE["forget_after"],
        "forget change %": PAPER_HEADLINE["forget_change_pct"],
        "retain Dice after": PAPER_HEADLINE["retain_after"],
        "retain % of baseline": PAPER_HEADLINE["retain_pct_of_baseline"],
    }
    rows = [paper, ours.mean().to_dict()]
    index = [f"paper (MRBrainS18, {m} @50)", f"ours ({m} @{epochs}, mean of {len(ours)})"]
    if len(ours) > 1:
        rows.append(ours.std(ddof=1).to_dict())
        index.append(f"ours (std over {len(ours)} forgotten subjects)")
    return pd.DataFrame(rows, index=pd.Index(index, name="source"))


def horizon_spread(
    df: pd.DataFrame, horizons: Sequence[int] = (20, 50), metric: str = "dice", splits: Sequence[str] = SPLITS
) -> pd.DataFrame:
    """``metric`` per split at each horizon as ``mean ± std`` over the forget requests (one row per method)."""
    frames = [horizon_table(_group(df, g), horizons, metric, splits) for g in _groups(df)]
    cols = [f"{s} {metric} @{h}" for h in horizons for s in splits]
    out = pd.DataFrame(
        {c: [_mean_std([f.loc[m, c] for f in frames if m in f.index]) for m in frames[0].index] for c in cols}, index=frames[0].index
    )
    out.index.name = "method"
    return out


def memorisation_table(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Per forget request: the baseline's and retrain's ``metric`` on the forgotten subject and on held-out
    subjects. ``memorised`` (baseline minus retrain on the forgotten subject) is what the baseline knows
    about that subject beyond what it generalises: the signal that makes forgetting measurable."""
    rows = []
    for g in _groups(df):
        d = _group(df, g)
        of, rf = _value_at(d, "original", "forget", metric, 0)[0], _final(d, "retrain", "forget", metric)
        oh, rh = _value_at(d, "original", "heldout", metric, 0)[0], _final(d, "retrain", "heldout", metric)
        rows.append(
            {
                "forget request": "all" if g is None else g,
                f"baseline forget {metric}": of,
                f"retrain forget {metric}": rf,
                f"baseline held-out {metric}": oh,
                f"retrain held-out {metric}": rh,
                "memorised": of - rf,
            }
        )
    return pd.DataFrame(rows).set_index("forget request")


def _final(d: pd.DataFrame, method: str, split: str, metric: str) -> float:
    sel = d[(d.scenario == "final") & (d.method == method) & (d.split == split) & (d.metric == metric)]
    return float(sel.value.mean()) if not sel.empty else float("nan")


def tradeoff_table(df: pd.DataFrame, epochs: int, min_signal: float = 0.01, splits: Sequence[str] = SPLITS) -> tuple[pd.DataFrame, bool]:
    """Every method (and the untouched original) ranked by its distance to retrain at ``epochs``: the mean
    over ``splits`` of |Dice - retrain's Dice|, averaged over forget requests, with its cost.

    Retrain is the exact answer, so the closest method forgets what retraining forgets and keeps what it
    keeps. The ranking means something only if the baseline knows the forgotten subjects better than
    retrain does; so only the requests whose own ``memorised`` reaches ``min_signal`` are ranked (a
    request without signal would pull every method, and the original, towards "as close as retrain").
    With none, every request is shown and the table is uninformative. Returns (table sorted by
    distance, informative); ``table.attrs["requests"]`` lists the requests averaged over and
    ``table.attrs["excluded"]`` those left out for lack of signal.
    """
    memorised = memorisation_table(df)["memorised"]
    df = df[df.scenario != FLOORS]
    groups = _groups(df)
    with_signal = [g for g in groups if memorised.get("all" if g is None else g, float("nan")) >= min_signal]
    informative = bool(with_signal)
    used = with_signal if informative else groups
    methods = [m for m in dict.fromkeys(df.method) if m != "retrain"]
    rows = []
    for m in methods:
        dist, forget, retain, steps, secs = [], [], [], [], []
        for g in used:
            d = _group(df, g)
            at = {s: _value_at(d, m, s, "dice", 0 if m == "original" else epochs)[0] for s in splits}
            ref = {s: _final(d, "retrain", s, "dice") for s in splits}
            base_r = _value_at(d, "original", "retain", "dice", 0)[0]
            dist.append(float(np.mean([abs(at[s] - ref[s]) for s in splits])))
            forget.append(at["forget"] - ref["forget"])
            retain.append(100 * at["retain"] / base_r if base_r else float("nan"))
            secs.append(_final(d, m, "all", "seconds"))
            steps.append(_final(d, m, "all", "steps"))
        rows.append(
            {
                "method": m,
                "distance to retrain": float(np.mean(dist)),
                "± (requests)": float(np.std(dist, ddof=1)) if len(dist) > 1 else 0.0,
                "forget Dice − retrain's": float(np.mean(forget)),
                "retain % of baseline": float(np.mean(retain)),
                "seconds": float(np.nanmean(secs)) if not np.isnan(secs).all() else float("nan"),
                "optimizer steps": float(np.nanmean(steps)) if not np.isnan(steps).all() else float("nan"),
            }
        )
    table = pd.DataFrame(rows).set_index("method").sort_values("distance to retrain")
    table.attrs["requests"] = ["all" if g is None else g for g in used]
    table.attrs["excluded"] = ["all" if g is None else g for g in groups if g not in used]
    return table, informative


def cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds and optimizer steps per method (the baseline's training for ``original``), mean ± std over requests."""
    fin = df[(df.scenario == "final") & (df.split == "all")]
    rows = {}
    for m in dict.fromkeys(fin.method):
        rows[m] = {k: _mean_std(fin[(fin.method == m) & (fin.metric == k)].value.tolist(), 1) for k in ("seconds", "steps")}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    return out


def floors_table(df: pd.DataFrame, split: str = "heldout") -> pd.DataFrame:
    """Dice (mean and per tissue) on ``split`` of the recorded floors and of the baseline model, and the
    model's margin over each floor (from saved rows only)."""
    held = df[(df.scenario == FLOORS) & (df.split == split)]
    if held.empty:
        raise ValueError(f"no {FLOORS!r} rows on split {split!r} in these results")
    metrics = [m for m in dict.fromkeys(held.metric)]
    rows = {f: {m: float(held[(held.method == f) & (held.metric == m)].value.mean()) for m in metrics} for f in dict.fromkeys(held.method)}
    first = _group(df[df.scenario != FLOORS], _groups(df[df.scenario != FLOORS])[0])
    model = {m: _value_at(first, "original", split, m, 0)[0] for m in metrics}
    floors = list(rows)
    rows["baseline model"] = model
    for f in floors:
        rows[f"model − {f}"] = {m: model[m] - rows[f][m] for m in metrics}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = f"{split} subjects"
    return out


def cohort_figure(
    dataset: ArrayDataset, subjects: Sequence[int] = (0, 1), label_names: Sequence[str] = ("background", "CSF", "GM", "WM"), axis: int = 2
) -> plt.Figure:
    """For each subject: the middle slice's image and labels, and the image's intensity histogram per
    tissue (overlapping histograms are why one voxel's brightness cannot segment the brain)."""
    ids = np.asarray(dataset.meta.get("subject", np.arange(len(dataset))))
    cmap = plt.get_cmap("viridis", len(label_names))
    fig, axes = plt.subplots(len(subjects), 3, figsize=(10, 3.1 * len(subjects)), squeeze=False, gridspec_kw={"width_ratios": [1, 1, 1.6]})
    for r, sid in enumerate(subjects):
        rows = np.flatnonzero(ids == sid)
        if rows.size == 0:
            raise ValueError(f"no subject {sid} in the dataset")
        i = int(rows[0])
        x, y = dataset.x[i, 0].numpy(), dataset.y[i].numpy()
        mid = x.shape[axis] // 2
        axes[r, 0].imshow(np.take(x, mid, axis).T, cmap="gray", origin="lower")
        axes[r, 1].imshow(np.take(y, mid, axis).T, cmap=cmap, vmin=0, vmax=len(label_names) - 1, origin="lower", interpolation="nearest")
        meta = ", ".join(f"{k} {np.asarray(v)[i]}" for k, v in dataset.meta.items() if k != "subject")
        axes[r, 0].set_ylabel(f"subject {sid}\n{meta}", fontsize=8)
        for k in range(1, len(label_names)):
            axes[r, 2].hist(x[y == k], bins=60, range=(0, 1), alpha=0.55, color=cmap(k), label=label_names[k], density=True)
        axes[r, 2].set_xlabel("image intensity")
        axes[r, 2].set_ylabel("density")
        axes[r, 2].legend(title="tissue", fontsize=8)
        for ax in axes[r, :2]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("image (middle slice)")
    axes[0, 1].set_title("labels")
    axes[0, 2].set_title("intensity per tissue")
    handles = [Patch(color=cmap(k), label=name) for k, name in enumerate(label_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(label_names), frameon=False, title="labels")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def dice_curves(df: pd.DataFrame, metric: str = "dice", splits: Sequence[str] = SPLITS) -> sns.FacetGrid:
    """Metric per epoch, one line per method, one panel per split (drawn from saved rows)."""
    cur = curves_frame(df)
    cur = cur[(cur.metric == metric) & cur.split.isin(splits) & (cur.method != "original")]
    if cur.empty:
        raise ValueError(f"no per-epoch rows of {metric!r}")
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.relplot(data=cur, x="epoch", y="value", hue="method", col="split", col_order=list(splits), kind="line", height=3.4, aspect=1.1)
    g.set_axis_labels("unlearning epoch", metric)
    return g


def _axial(volume: torch.Tensor, axis: int, index: torch.Tensor) -> np.ndarray:
    """The slices ``index`` of a (D, H, W) volume along ``axis``, stacked first: (n_slices, ., .)."""
    return volume.index_select(axis, index).movedim(axis, 0).numpy()


def save_slices(predictions: Mapping[str, np.ndarray | Mapping[str, np.ndarray]], path: str | os.PathLike) -> Path:
    """Save the kept slices as one ``.npz`` (atomically), so figures and the explorer read a file.

    Takes :attr:`SegmentationExperiment.predictions` (flat, keyed as stored) or the older nested
    ``{role: {key: slice}}``, stored as ``<role>/<key>``."""
    flat: dict[str, np.ndarray] = {}
    for key, v in predictions.items():
        if isinstance(v, Mapping):
            flat.update({f"{key}/{k}": np.asarray(a) for k, a in v.items()})
        else:
            flat[key] = np.asarray(v)
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **flat))


@dataclass(frozen=True)
class SavedSlices:
    """The slices one run kept, whatever layout its ``slices.npz`` has.

    Current layout: ``slice_index`` (n_slices,), ``subjects`` / ``roles`` (kept subjects, forget or retain),
    ``epochs`` (the unlearning epochs kept), and per subject ``subject<id>/image`` (float16) and
    ``subject<id>/truth``, ``subject<id>/final/<model>``, ``subject<id>/epoch<e>/<method>`` (uint8 labels),
    each (n_slices, H, W). Older runs kept one middle slice per role (``forget/image``, ``forget/<model>``, ...):
    read as one slice of subjects ``forget`` and ``retain`` with only final predictions."""

    subjects: dict[str, str]  # name -> role
    slice_index: np.ndarray | None  # None: an older run, which did not record where its slice was
    epochs: list[int]
    data: dict[str, np.ndarray]

    def methods(self) -> list[str]:
        """Every model with a final prediction, in the order the run kept them."""
        first = next(iter(self.subjects), "")
        pre = f"{first}/final/"
        return [k[len(pre) :] for k in self.data if k.startswith(pre)]

    def image(self, subject: str) -> np.ndarray:
        return self.data[f"{subject}/image"].astype(np.float32)

    def truth(self, subject: str) -> np.ndarray:
        return self.data[f"{subject}/truth"]

    def prediction(self, subject: str, model: str, epoch: int | None = None) -> np.ndarray | None:
        """``model``'s labels at unlearning ``epoch`` (None: final); a model kept only once (original, retrain:
        they do not change with the unlearning epoch) gives its final prediction at every epoch."""
        if epoch is not None and f"{subject}/epoch{epoch}/{model}" in self.data:
            return self.data[f"{subject}/epoch{epoch}/{model}"]
        if epoch is not None and any(k.startswith(f"{subject}/epoch") and k.endswith(f"/{model}") for k in self.data):
            return None  # a method that stopped before this epoch
        return self.data.get(f"{subject}/final/{model}")


def read_slices(source: str | os.PathLike | Mapping[str, np.ndarray]) -> SavedSlices:
    """A ``slices.npz`` (path or loaded arrays) in either layout, as :class:`SavedSlices`."""
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        with np.load(source, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    if "slice_index" in data:
        subjects = {f"subject{int(s)}": str(r) for s, r in zip(data["subjects"], data["roles"])}
        return SavedSlices(subjects, data["slice_index"], [int(e) for e in data.get("epochs", [])], data)
    roles = [r for r in ("forget", "retain") if f"{r}/image" in data]
    if not roles:
        raise ValueError("slices.npz holds neither slice_index (current layout) nor forget/image (older layout)")
    new: dict[str, np.ndarray] = {}
    for role in roles:
        for key, v in data.items():
            head, _, name = key.partition("/")
            if head == role:
                new[f"{role}/{name if name in ('image', 'truth') else 'final/' + name}"] = v[None]
    return SavedSlices({r: r for r in roles}, None, [], new)


def slices_figure(path: str | os.PathLike, label_names: Sequence[str] = ("background", "CSF", "GM", "WM")) -> plt.Figure:
    """Rows: the first forget and retain subject (middle kept slice); columns: image, truth, each model's final prediction."""
    saved = read_slices(path)
    roles = list(dict.fromkeys(saved.subjects.values()))
    picks = [next(s for s, r in saved.subjects.items() if r == role) for role in roles]
    cols = ["image", "truth", *saved.methods()]
    cmap = plt.get_cmap("viridis", len(label_names))
    fig, axes = plt.subplots(len(picks), len(cols), figsize=(1.9 * len(cols), 2.0 * len(picks)), squeeze=False)
    for r, (split, subject) in enumerate(zip(roles, picks)):
        mid = len(saved.truth(subject)) // 2
        for c, key in enumerate(cols):
            ax = axes[r, c]
            full = saved.image(subject) if key == "image" else saved.truth(subject) if key == "truth" else saved.prediction(subject, key)
            arr = full[mid].T
            if key == "image":
                ax.imshow(arr, cmap="gray", origin="lower")
            else:
                ax.imshow(arr, cmap=cmap, vmin=0, vmax=len(label_names) - 1, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(key, fontsize=8)
        axes[r, 0].set_ylabel(f"{split} subject")
    handles = [Patch(color=cmap(k), label=name) for k, name in enumerate(label_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(label_names), frameon=False, bbox_to_anchor=(0.5, -0.02), title="tissue")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def with_epochs(methods: Sequence[str], epochs: int, hparams: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Per-method configs where every unlearning method runs ``epochs`` epochs unless ``hparams`` says otherwise.

    ``retrain`` keeps its own training length (it is the reference, not an unlearning horizon).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        cfg = dict((hparams or {}).get(m) or {})
        if m != "retrain":
            cfg.setdefault("epochs", epochs)
        out[m] = cfg
    return out


def inter_subject_dice(dataset: ArrayDataset) -> pd.DataFrame:
    """Mean foreground Dice between the label maps of every pair of subjects (1 on the diagonal)."""
    from .data.cohort import label_dice

    n = len(dataset)
    labels = tuple(range(1, int(dataset.num_classes or int(dataset.y.max()) + 1)))
    mat = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            mat[i, j] = mat[j, i] = label_dice(dataset.y[i], dataset.y[j], labels)
    ids = dataset.meta.get("subject", np.arange(n))
    return pd.DataFrame(mat, index=pd.Index(ids, name="subject"), columns=list(ids))


def merge_parts(
    df: pd.DataFrame, params: Mapping[str, Any], run_dirs: Sequence[Path], figures_dir: Path
) -> tuple[dict[str, pd.DataFrame | str], str]:
    """Notebook 03's merger (:mod:`unlearn_lib.batch.merge`): its summary and figures over forget requests
    that ran as separate tasks, drawn by the same functions the notebook calls.

    Why: each request is unlearned from the same cached baseline and is independent of the others, so
    the batch runs them side by side; the study's tables (mean ± spread over requests) need all of them."""
    from .plotting import save_figure

    horizons = list(params["horizons"])
    floors = df.scenario == FLOORS  # every part records the same floors (they ignore the request): keep one copy
    df = pd.concat([df[~floors], df[floors].drop_duplicates(subset=[c for c in df.columns if c not in ("run_id", "timestamp")])])
    unl = df[df.scenario != FLOORS]
    figures_dir = Path(figures_dir)
    g = dice_curves(unl)
    save_figure(g.figure, figures_dir / "03_dice_curves.png")
    plt.close(g.figure)
    g = dice_curves(unl, metric="mae")
    save_figure(g.figure, figures_dir / "03_mae_curves.png")
    plt.close(g.figure)
    slices = Path(run_dirs[0]) / "slices.npz"
    if slices.is_file():  # the first request's subjects, as the one-task notebook draws them
        tissues = list(dict.fromkeys(m[len("dice_") :] for m in unl.metric.unique() if str(m).startswith("dice_")))
        fig = slices_figure(slices, ["background", *tissues])
        save_figure(fig, figures_dir / "03_slices.png")
        plt.close(fig)
    note = (
        f"profile {params.get('profile', '?')}; {len(params['forget_requests'])} forget request(s), "
        f"{params.get('unlearn_epochs', '?')} unlearning epochs; baseline and retrain trained with {params.get('recipe')}"
    )
    return summary_parts(df, horizons, params.get("min_signal", 0.01)), note


def summary_parts(df: pd.DataFrame, horizons: Sequence[int], min_signal: float = 0.01) -> dict[str, pd.DataFrame | str]:
    """The parts of ``summary.md``: floors, the horizon table, memorisation, the signal floor of requests
    labelled by their design (:mod:`unlearn_lib.segmentation_design`), the trade-off ranking, the paper's headline."""
    from .report import markdown_table
    from .segmentation_design import FLOOR_GAP, FLOOR_SPREAD, MIN_TRAINING_SEEDS, signal_floor_table

    parts: dict[str, pd.DataFrame | str] = {}
    if (df.scenario == FLOORS).any():
        parts["Held-out Dice of the trivial floors and of the baseline model"] = markdown_table(floors_table(df).reset_index())
    df = df[df.scenario != FLOORS]
    n = len(_groups(df))
    parts[
        f"Mean foreground Dice on retain / forget / held-out subjects at {', '.join(map(str, horizons))} unlearning epochs, mean ± std over {n} forget request(s)"
    ] = horizon_spread(df, horizons).reset_index()
    parts["Memorisation: what the baseline knows about each forgotten subject beyond what retraining without it gives"] = markdown_table(
        memorisation_table(df).reset_index()
    )
    floor = signal_floor_table(df)
    if not floor.empty and floor.design.ne("unlabelled").any():  # requests labelled by their design (issue #33)
        parts[
            f"Signal floor per request: retrain's forget Dice ≥ {FLOOR_GAP} below the original's and ≥ {FLOOR_SPREAD:g}× retrain's held-out spread over ≥ {MIN_TRAINING_SEEDS} training seeds; typical requests have none"
        ] = markdown_table(floor.reset_index())
    table, informative = tradeoff_table(df, max(horizons), min_signal)
    excluded = table.attrs["excluded"]
    verdict = (
        f"ranked over the {len(table.attrs['requests'])} request(s) with signal"
        + (f" (left out, memorisation below {min_signal}: {', '.join(map(str, excluded))})" if excluded else "")
        if informative
        else f"UNINFORMATIVE (no request's memorisation reaches {min_signal}: the baseline barely knows the forgotten subjects better than retrain; not ranked)"
    )
    parts[
        f"Distance to retrain at {max(horizons)} epochs (mean |Dice − retrain's| over the three splits), with cost; scenario {verdict}"
    ] = markdown_table(table.reset_index())
    parts["Noisy Label, the paper's headline (MRBrainS18) beside ours"] = markdown_table(
        headline_comparison(df, epochs=max(horizons)).reset_index(), "{:.2f}"
    )
    return parts
