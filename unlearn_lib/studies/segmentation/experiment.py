"""Notebook 03's experiment: one subject split, its baseline, and every unlearning run on it.

:class:`SegmentationExperiment` is the part that trains and unlearns; the tables and figures that read
its saved rows back live in :mod:`.tables` and :mod:`.figures`, the kept slices in :mod:`.slices`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...cache import ArtifactCache, ArtifactInfo
from ...data.datasets import ArrayDataset
from ...data.patches import random_patches, tile_patches
from ...experiments.base import Experiment, Values, cached_retrain, model_factory, train_or_load, training_parts
from ...metrics.segmentation import SegmentationOutputs, dice_per_class, evaluate_segmentation
from ...results import ResultsRecorder
from ...strategies import UnlearnResult, make_config, unlearn
from ...tasks import SegmentationTask
from ...utils import Timer, resolve_device
from .recipe import SegTrainConfig, subject_splits
from .slices import _axial


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
    #: Every unlearning method's optimizer-step budget, in epochs of one step per retain batch (the paired
    #: mechanics' epoch; the notebook's ``unlearn_epochs``). A method whose epoch holds more than one pass
    #: (SCRUB's max passes: a config with ``msteps``) runs at ``max_steps`` = this many retain passes and
    #: is recorded at step checkpoints, so ``epoch`` h means the same optimizer steps for every method.
    #: None: each method's own schedule (SCRUB then spends more steps than the others).
    budget_epochs: int | None = None
    #: Subjects never trained on and never reported, which only tuning reads (:mod:`.tuning`): the held-out
    #: subjects stay an untouched test of generalisation. Empty: no validation split (nothing can be tuned).
    validation_subjects: Sequence[int] = ()

    def __post_init__(self) -> None:
        if self.dataset.num_classes is None or self.dataset.num_classes < 2:
            raise ValueError("dataset.num_classes must be >= 2")
        self.task = SegmentationTask(int(self.dataset.num_classes))
        validation = [int(s) for s in self.validation_subjects]
        both = sorted(set(validation) & {int(s) for s in self.heldout_subjects})
        if both:
            raise ValueError(f"validation_subjects {both} are also held-out subjects: validation picks, held-out reports")
        self.splits = subject_splits(self.dataset, self.forget_subjects, [*self.heldout_subjects, *validation])
        if validation:  # both are never trained on; split them by role
            untrained = self.splits["heldout"]
            is_val = np.isin(np.asarray(untrained.meta["subject"]), validation)
            self.splits["heldout"] = untrained.subset(np.flatnonzero(~is_val), "heldout")
            self.splits["validation"] = untrained.subset(np.flatnonzero(is_val), "validation")
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
        v = self.budget_epochs
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ValueError(f"budget_epochs must be None or an int >= 1, got {v!r}")
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
        self.original, info = train_or_load(
            "original",
            train,
            self.model_name,
            self._model_args,
            self.recipe,
            self.task,
            self.dev,
            self.seed,
            cache=self._cache(),
            factory=self.factory,
            desc="train segmenter",
        )
        self.original_info, seconds = info, info.seconds
        self.original_seconds, self._original_values, self._outputs = seconds, None, {}
        self.predictions = {}
        self._keep_predictions("original", self.original)
        return seconds

    def training_set(self) -> ArrayDataset:
        """Every subject that is neither held out nor a validation subject (retain and forget), in the dataset's order."""
        untrained = [self.splits[k] for k in ("heldout", "validation") if k in self.splits]
        held = {s for ds in untrained for s in np.asarray(ds.meta["subject"]).tolist()}
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
                # The whole volume's Dice per tissue at this epoch, beside its slices (the explorer shows both).
                dice = dice_per_class(pred.reshape(1, *y.shape), y[None], self.task.num_classes)[0]
                self.predictions[f"dice/{pre}/{where}/{key}"] = dice.numpy().astype(np.float32)
        model.train(was_training)

    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str) -> UnlearnResult:
        """One method from the original, recording every split after every epoch (scenario ``curve``).

        With ``budget_epochs``, a method whose epochs hold more than one pass (SCRUB) runs at the others'
        optimizer-step budget and its curve is recorded at step checkpoints (see :meth:`_step_budget`)."""
        if method != "retrain":  # every unlearning curve starts at the original; retrain has no curve
            recorder.add_many(
                scenario="curve", method=method, seed=self.seed, values=self.evaluate_original(), epoch=0, **self.row_columns()
            )
        recorded = None if self.eval_epochs is None else set(self.eval_epochs)
        sliced = set(self.slice_epochs or ())
        exact = method == "retrain"  # the reference trains on whole retain volumes with the recipe
        data = self.splits if exact else self.unlearn_sets
        budget = None if exact else self._step_budget(method, config, data["retain"])
        done: set[int] = set()
        wanted = set() if budget is None else (set(range(1, self.budget_epochs + 1)) if recorded is None else set(recorded)) | sliced

        def record(model: nn.Module, epoch: int) -> None:
            if recorded is None or epoch in recorded:
                recorder.add_many(
                    scenario="curve", method=method, seed=self.seed, values=self.evaluate(model), epoch=epoch, **self.row_columns()
                )
            if epoch in sliced:  # the evaluation keeps no volumes: predict the few kept subjects
                self._keep_predictions(method, model, epoch)
            done.add(epoch)

        counter = Timer()  # counts this method's optimizer steps as it runs (its seconds are unlearn's)

        def on_epoch(model: nn.Module, epoch: int, phase: str) -> None:
            if budget is None:
                if phase != "max":  # SCRUB's max pass is half its epoch: record once the epoch is done
                    record(model, epoch + 1)
            else:  # budget epoch h: the first pass end in [h, h + 1) retain passes' worth of steps
                h = counter.steps // budget[1]
                if h not in done and h in wanted:
                    record(model, h)

        def run(factory: Any) -> UnlearnResult:
            return unlearn(
                method,
                self.original,
                retain=data["retain"],
                forget=data["forget"],
                val=self.splits.get("validation", self.splits["heldout"]),
                task=self.task,
                config=config,
                model_factory=factory,
                device=self.dev,
                seed=self.seed,
                on_epoch=on_epoch,
                recipe=self.recipe,
                max_steps=None if budget is None else budget[0],
            )

        if method == "retrain" and self.recipe is not None:  # the reference through the artifact cache (it records no epochs)
            make_config(method, config)  # refuse hyper-parameters before any lookup, as unlearn would
            retain = self.splits["retain"]
            parts = training_parts(retain, self.model_name, self._model_args, self.seed, self.seed, self.recipe, self.task, self.dev)
            res = cached_retrain(self._cache(), parts, self.factory, run, self.recipe, self.dev)
        else:
            with counter:
                res = run(self.factory)
        if budget is not None:
            self._check_budget(method, res, budget, counter.steps, done, record, wanted)
        self._keep_predictions(method, res.model)
        return res

    def _step_budget(self, method: str, config: Any, retain: Any) -> tuple[int, int] | None:
        """``(max_steps, steps per budget epoch)`` for a method whose epoch holds more than one pass, else None.

        Why: SCRUB's epoch is a min pass over the retain batches plus, in its first ``msteps`` epochs, a max
        pass over the forget batches, so at the same epoch count it takes more optimizer steps than the
        one-pass methods (measured at the default profile: 520 against 400 per request). Its budget is
        ``budget_epochs`` retain passes, and its epoch h is the model at the first pass end at or past h retain
        passes' worth of steps (exactly there when its forget pass costs what a retain pass does, as with the
        default profile's paired tiles; at most one forget pass later otherwise)."""
        if self.budget_epochs is None:
            return None
        cfg = make_config(method, config)
        if not getattr(cfg, "msteps", 0):
            return None
        unit = math.ceil(len(retain) / int(cfg.batch_size))
        return self.budget_epochs * unit, unit

    def _check_budget(
        self, method: str, res: UnlearnResult, budget: tuple[int, int], counted: int, done: set[int], record: Any, wanted: set[int]
    ) -> None:
        """The budgeted run spent exactly its budget once (no stretched rerun), and every checkpoint was recorded:
        the last one from the returned model (the budget stops the run inside its last pass)."""
        max_steps, unit = budget
        if res.budget != "spent" or counted != res.steps or res.steps != max_steps:
            raise ValueError(
                f"{method}: its schedule must spend the step budget of {self.budget_epochs} epochs ({max_steps} optimizer steps) "
                f"in one run; it took {res.steps} ({counted} counted here): give it at least budget_epochs epochs"
            )
        if self.budget_epochs not in done:
            res.model.eval()
            with torch.no_grad():
                record(res.model, self.budget_epochs)
        missed = sorted(h for h in wanted if h <= self.budget_epochs and h not in done)
        if missed:
            raise ValueError(
                f"{method}: no pass ended within one retain pass ({unit} steps) after the checkpoints of budget epochs {missed}: "
                "its passes must be no longer than a retain pass"
            )

    def _cache(self) -> ArtifactCache:
        return self.cache if self.cache is not None else ArtifactCache()

    def original_cost(self) -> tuple[float | None, int | None]:
        return self.original_seconds, (self.original_info.steps if self.original_info is not None else None)

    def begin_run(self, recorder: ResultsRecorder, scenario: str, **extra: Any) -> None:
        """The original's row at epoch 0 of every method's ``curve`` (:meth:`run` records scenario ``final``)."""
        if self.original is None:
            raise ValueError("train_baseline() must run before run()")
        recorder.add_many(
            scenario="curve", method="original", seed=self.seed, values=self.evaluate_original(), epoch=0, **self.row_columns()
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

    def row_columns(self) -> dict[str, Any]:
        """Every row names its request's ``group`` when it has one (several requests in one results file)."""
        return {} if self.group is None else {"group": self.group}

    def logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Whole-volume logits as the evaluation computes them (sliding windows when ``roi_size`` is set)."""
        if self.roi_size is None:
            return self.task.logits(model, x)
        from monai.inferers import sliding_window_inference

        out = sliding_window_inference(x, (self.roi_size,) * 3, 4, lambda t: self.task.logits(model, t), overlap=0.25, mode="gaussian")
        return torch.as_tensor(out).as_subclass(torch.Tensor)
