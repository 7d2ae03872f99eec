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
from .data.splits import make_forget_split
from .experiments.base import Experiment, Values, cached_retrain, model_factory, training_parts
from .loops import batches
from .metrics.segmentation import SegmentationOutputs, evaluate_segmentation
from .results import ResultsRecorder
from .strategies import UnlearnResult, make_config, unlearn
from .tasks import SegmentationTask, Task
from .training import Recipe, train_model
from .utils import atomic_write, progress, resolve_device, torch_generator

__all__ = [
    "PAPER_HEADLINE",
    "SegTrainConfig",
    "SegmentationExperiment",
    "curves_frame",
    "dice_curves",
    "headline_comparison",
    "horizon_table",
    "inter_subject_dice",
    "save_slices",
    "slices_figure",
    "subject_splits",
    "summary_parts",
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
    """

    epochs: int = 100
    lr: float = 1e-3
    head_lr_factor: float = 100.0
    weight_decay: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 1

    def check(self) -> None:
        super().check()
        self._positive("epochs", "head_lr_factor", "gamma")
        if self.gamma > 1:
            raise ValueError(f"SegTrainConfig.gamma must be in (0, 1], got {self.gamma}")

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
        for _ in progress(range(self.epochs), desc=desc):
            model.train()
            for x, y in batches(dataset, self.batch_size, generator=gen):
                x, y = x.to(device), y.to(device)
                loss = task.loss(task.logits(model, x), y)
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
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Where the baseline and the retrained reference are kept (None: ``ArtifactCache()``, which follows
    #: ``$UNLEARN_CACHE`` and ``UNLEARN_NO_CACHE``).
    cache: ArtifactCache | None = None

    def __post_init__(self) -> None:
        if self.dataset.num_classes is None or self.dataset.num_classes < 2:
            raise ValueError("dataset.num_classes must be >= 2")
        self.task = SegmentationTask(int(self.dataset.num_classes))
        self.splits = subject_splits(self.dataset, self.forget_subjects, self.heldout_subjects)
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
        (``original_info.describe()`` says which)."""
        train = ArrayDataset(
            torch.cat([self.splits["retain"].x, self.splits["forget"].x]),
            torch.cat([self.splits["retain"].y, self.splits["forget"].y]),
            num_classes=self.task.num_classes,
        )
        self.recipe = config if isinstance(config, SegTrainConfig) else SegTrainConfig.from_dict(config)
        recipe = self.recipe

        def fit(net: nn.Module) -> float:
            return train_segmenter(net, train, self.task, recipe, device=self.dev, seed=self.seed)[1]

        parts = training_parts(train, self.model_name, self._model_args, self.seed, self.seed, recipe, self.task, self.dev)
        self.original, info = self._cache().load_or_train("original", parts, self.factory, fit, device=self.dev)
        self.original_info, seconds = info, info.seconds
        self.original_seconds, self._original_values, self._outputs = seconds, None, {}
        self._keep_predictions("original", self.original)
        return seconds

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
                subjects = np.asarray(self.splits[split].meta["subject"])
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
        outs = evaluate_segmentation(model, self.splits, self.task, self.dev, mae_kind=self.mae_kind)
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

    def _keep_predictions(self, key: str, model: nn.Module) -> None:
        """Middle slices of the first forget and first retain subject: image, truth, prediction."""
        with torch.no_grad():
            model.eval()
            for split in ("forget", "retain"):
                x, y = self.splits[split].x[:1].to(self.dev), self.splits[split].y[:1]
                pred = self.task.predictions(self.task.logits(model, x)).cpu()
                mid = x.shape[2 + self.slice_axis] // 2
                kept = self.predictions.setdefault(split, {})
                kept["image"] = x[0, 0].cpu().select(self.slice_axis, mid).numpy()
                kept["truth"] = y[0].select(self.slice_axis, mid).numpy()
                kept[key] = pred[0].select(self.slice_axis, mid).numpy()

    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str) -> UnlearnResult:
        """One method from the original, recording every split after every epoch (scenario ``curve``)."""
        recorder.add_many(scenario="curve", method=method, seed=self.seed, values=self.evaluate_original(), epoch=0)

        def on_epoch(model: nn.Module, epoch: int, phase: str) -> None:
            if phase != "max":  # SCRUB's max pass is half an epoch; record once the epoch is done
                recorder.add_many(scenario="curve", method=method, seed=self.seed, values=self.evaluate(model), epoch=epoch + 1)

        def run(factory: Any) -> UnlearnResult:
            return unlearn(
                method,
                self.original,
                retain=self.splits["retain"],
                forget=self.splits["forget"],
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
        recorder.add_many(scenario="curve", method="original", seed=self.seed, values=self.evaluate_original(), epoch=0)
        return super().run(methods, recorder, "final", hparams, original_seconds=self.original_seconds)


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
    methods = [m for m in dict.fromkeys(df.method) if m != "original"]
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


def headline_comparison(df: pd.DataFrame, epochs: int = 50) -> pd.DataFrame:
    """The paper's Noisy Label headline beside ours: forget Dice change and retain Dice as % of baseline."""
    m = PAPER_HEADLINE["method"]
    if not ((df.method == m).any()):
        raise ValueError(f"no {m!r} rows in these results")
    f0, r0 = _value_at(df, "original", "forget", "dice", 0)[0], _value_at(df, "original", "retain", "dice", 0)[0]
    f1, r1 = _value_at(df, m, "forget", "dice", epochs)[0], _value_at(df, m, "retain", "dice", epochs)[0]
    ours = {
        "forget Dice before": f0,
        "forget Dice after": f1,
        "forget change %": 100 * (f1 - f0) / f0 if f0 else float("nan"),
        "retain Dice after": r1,
        "retain % of baseline": 100 * r1 / r0 if r0 else float("nan"),
    }
    paper = {
        "forget Dice before": PAPER_HEADLINE["forget_before"],
        "forget Dice after": PAPER_HEADLINE["forget_after"],
        "forget change %": PAPER_HEADLINE["forget_change_pct"],
        "retain Dice after": PAPER_HEADLINE["retain_after"],
        "retain % of baseline": PAPER_HEADLINE["retain_pct_of_baseline"],
    }
    return pd.DataFrame([paper, ours], index=pd.Index([f"paper (MRBrainS18, {m} @50)", f"ours ({m} @{epochs})"], name="source"))


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


def save_slices(predictions: Mapping[str, Mapping[str, np.ndarray]], path: str | os.PathLike) -> Path:
    """Save the kept slices as one ``.npz`` (atomically), so the figure is drawn from a file."""
    flat = {f"{split}/{key}": np.asarray(v) for split, d in predictions.items() for key, v in d.items()}
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **flat))


def slices_figure(path: str | os.PathLike, label_names: Sequence[str] = ("background", "CSF", "GM", "WM")) -> plt.Figure:
    """Rows: forget and retain subject; columns: image, truth, the original's prediction, then each method's."""
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    splits = [s for s in ("forget", "retain") if f"{s}/image" in data]
    keys = [k.split("/", 1)[1] for k in data if k.startswith(f"{splits[0]}/") and k.split("/", 1)[1] not in ("image", "truth")]
    cols = ["image", "truth", *keys]
    cmap = plt.get_cmap("viridis", len(label_names))
    fig, axes = plt.subplots(len(splits), len(cols), figsize=(1.9 * len(cols), 2.0 * len(splits)), squeeze=False)
    for r, split in enumerate(splits):
        for c, key in enumerate(cols):
            ax = axes[r, c]
            arr = data[f"{split}/{key}"].T
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


def summary_parts(df: pd.DataFrame, horizons: Sequence[int]) -> dict[str, pd.DataFrame | str]:
    """The parts of ``summary.md``: the horizon table (Dice) and the paper's headline beside ours."""
    from .report import markdown_table

    table = horizon_table(df, horizons).drop(columns=["note"])
    head = headline_comparison(df, epochs=max(h for h in horizons))
    return {
        f"Mean foreground Dice on retain / forget / held-out subjects after {', '.join(map(str, horizons))} unlearning epochs, "
        "with the change relative to the baseline (Δ%)": table.reset_index(),
        "Noisy Label, the paper's headline (MRBrainS18) beside ours": markdown_table(head.reset_index(), "{:.2f}"),
    }
