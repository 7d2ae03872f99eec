"""Medical classifier unlearning: the five analyses of study 2 as library code, so notebook 04 stays thin.

Study 2 (arXiv 2407.07539) asks whether unlearning a medical classifier is effective, what it costs,
and whether it treats groups of patients or samples differently. :class:`MedicalStudy` holds one
training / test set with patient metadata and runs any registered strategy through
:class:`~unlearn_lib.experiment.ClassifierExperiment`, adding per-group (sex) accuracies. The
``run_*`` functions are the analyses; each records tidy rows under a scenario ``"<analysis>:<level>"``:

* ``tuning:<config>`` - each method's small lr x epochs search, selected on validation data only
  (:func:`tuned_hparams` hands the picks to the later analyses, as the study tunes before comparing);
* ``size:<fraction>`` - random forget sets of growing size;
* ``sex:<F|M>`` - same-size forget sets of only female / only male samples;
* ``difficulty:<easy|hard>`` - forget sets from the lowest / highest per-class loss quantile of the
  original model;
* ``subject:<id>`` - every training patch of one patient;
* ``salun_mask:<fraction>`` - SalUn's mask-sparsity sweep.

:class:`MedicalPlan` checks every analysis's parameters before any training. The ``*_table`` /
``plot_*`` functions read the rows back (from the re-read ``metrics.csv``), so every table and figure
is a pivot of measured numbers; :func:`claims_table` sets the study's claims beside them.

One original model is trained per seed on everything but that seed's validation partition; every
forget split of that seed shares the partition (see :func:`unlearn_lib.data.indices_forget_split`), so
the original never saw validation data and all analyses of one seed start from the same model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats
from torch import nn

from .data.datasets import ArrayDataset
from .data.medical import attribute_forget_split, indices_forget_split, load_brain_patches, load_chexpert, load_medmnist
from .data.splits import ForgetSplit, make_forget_split, stratified_partition
from .experiment import ClassifierExperiment, model_factory
from .metrics import predict
from .report import markdown_table, mean_std_table
from .results import ResultsRecorder
from .strategies import get_strategy, make_config
from .tasks import ClassificationTask
from .training import TrainConfig, train_model
from .utils import progress, resolve_device

__all__ = [
    "ANALYSES",
    "CLAIMS",
    "DATA_SOURCES",
    "DEFAULT_METHODS",
    "SEX_BIAS_HARM",
    "MedicalPlan",
    "MedicalStudy",
    "analysis_rows",
    "claims_table",
    "data_overview",
    "difficulty_forget_split",
    "difficulty_table",
    "forget_size_table",
    "holm",
    "load_medical_data",
    "plot_difficulty",
    "plot_forget_sizes",
    "plot_patches",
    "plot_salun_sweep",
    "plot_sex",
    "plot_subject",
    "plot_tuning",
    "run_difficulty",
    "run_forget_sizes",
    "run_salun_sweep",
    "run_sex",
    "run_subject",
    "run_tuning",
    "salun_sweep_table",
    "select_by_validation",
    "sex_bias_test",
    "sex_table",
    "subject_table",
    "summary_markdown",
    "summary_tables",
    "tuned_hparams",
    "tuning_table",
    "vs_retrain",
]

DEFAULT_METHODS = ("retrain", "random_label", "salun", "scrub", "finetune", "neggrad_plus")
DATA_SOURCES = ("embedded", "medmnist", "chexpert")
_MAIN_COLUMNS = {
    ("forget", "accuracy"): "forget acc",
    ("retain", "accuracy"): "retain acc",
    ("test", "accuracy"): "test acc",
    ("forget", "mia"): "MIA",
    ("average", "gap_to_retrain"): "avg gap",
}


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def load_medical_data(
    source: str = "embedded",
    data_dir: str | None = None,
    *,
    seed: int = 0,
    n_subjects: int = 16,
    cohort_size: int = 64,
    patch_size: int = 28,
    patches_per_subject: int = 150,
    n_test_subjects: int = 4,
    medmnist_flag: str = "tissuemnist",
    max_samples: int | None = 3000,
    chexpert_target: str = "Pleural Effusion",
    chexpert_uncertain: str = "zeros",
    image_size: int = 64,
) -> tuple[ArrayDataset, ArrayDataset]:
    """``(train, test)`` for the notebook from one of :data:`DATA_SOURCES`.

    ``embedded`` cuts tissue patches from the simulated cohort (no files needed); ``medmnist`` reads
    ``data_dir/<medmnist_flag>.npz`` (train split subsampled to ``max_samples``, test to a third of
    it); ``chexpert`` reads ``train.csv`` (``max_samples`` rows) as training and ``valid.csv`` (other
    patients) as test.

    Raises:
        ValueError: an unknown source, or a file-based source without ``data_dir``.
    """
    if source not in DATA_SOURCES:
        raise ValueError(f"source must be one of {DATA_SOURCES}, got {source!r}")
    if source == "embedded":
        return load_brain_patches(
            n_subjects,
            cohort_size,
            patch_size=patch_size,
            patches_per_subject=patches_per_subject,
            n_test_subjects=n_test_subjects,
            seed=seed,
        )
    if not data_dir:
        raise ValueError(f"data source {source!r} reads files: set data_dir to the directory that holds them")
    if source == "medmnist":
        n_test = None if max_samples is None else max(1, max_samples // 3)
        train = load_medmnist(data_dir, medmnist_flag, "train", max_samples=max_samples, seed=seed)
        return train, load_medmnist(data_dir, medmnist_flag, "test", max_samples=n_test, seed=seed)
    kw = {"target": chexpert_target, "uncertain": chexpert_uncertain, "image_size": image_size, "seed": seed}
    return load_chexpert(data_dir, "train", max_images=max_samples, **kw), load_chexpert(data_dir, "valid", **kw)


def data_overview(train: ArrayDataset, test: ArrayDataset, column: str = "sex") -> pd.DataFrame:
    """Samples per split, class and ``column`` value (subjects too, when there is a subject column)."""
    rows = []
    for name, ds in (("train", train), ("test", test)):
        meta = {"class": ds.labels, column: np.asarray(ds.meta.get(column, np.full(len(ds), "n/a"))).astype(str)}
        frame = pd.DataFrame(meta).assign(split=name)
        if "subject" in ds.meta:
            frame["subject"] = np.asarray(ds.meta["subject"]).astype(str)
        rows.append(frame)
    frame = pd.concat(rows, ignore_index=True)
    table = pd.crosstab([frame.split, frame[column]], frame["class"])
    table.columns = [f"class {c}" for c in table.columns]
    if "subject" in frame:
        table["subjects"] = frame.groupby(["split", column])["subject"].nunique()
    return table


def plot_patches(dataset: ArrayDataset, per_class: int = 6, class_names: Sequence[str] | None = None, seed: int = 0) -> plt.Figure:
    """A grid of random samples, one row per class, titled with the sample's sex when known."""
    rng = np.random.default_rng(seed)
    classes = np.unique(dataset.labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class, 1.4 * len(classes)), squeeze=False)
    for r, c in enumerate(classes):
        idx = rng.choice(np.flatnonzero(dataset.labels == c), size=per_class, replace=False)
        for ax, i in zip(axes[r], idx):
            ax.imshow(dataset.x[i].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=str(dataset.meta["sex"][i]) if "sex" in dataset.meta else "")
        axes[r, 0].set_ylabel(class_names[r] if class_names else f"class {c}")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# The study object
# --------------------------------------------------------------------------------------------------


@dataclass
class MedicalStudy:
    """A training and a test set with metadata, a model recipe, and the methods to compare.

    Args:
        train / test: datasets; ``group`` (default ``sex``) in their metadata enables per-group metrics.
        model: registered model name; ``in_channels``, ``num_classes`` and ``input_size`` come from
            the data unless given in ``model_kwargs``.
        train_config: :class:`~unlearn_lib.training.TrainConfig` overrides for the original model;
            ``retrain`` uses the same recipe unless ``hparams["retrain"]`` says otherwise.
        methods: registered strategies run on every forget split (``retrain`` first: it is the
            reference every gap is measured against).
        hparams: per-method config overrides.
        val_fraction: the validation share held out of training (never trained on, never test).
        group: metadata column for per-group accuracies, or None.
    """

    train: ArrayDataset
    test: ArrayDataset
    model: str = "small_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    methods: Sequence[str] = DEFAULT_METHODS
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "auto"
    val_fraction: float = 0.1
    mia_folds: int = 5
    group: str | None = "sex"
    _originals: dict[int, tuple[nn.Module, float]] = field(default_factory=dict, init=False, repr=False)
    #: The latest split's experiment and its key (seed, forget indices); only one is kept, as each holds
    #: every unlearned model of its split.
    _latest: tuple[tuple[int, bytes], ClassifierExperiment] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.train) == 0 or len(self.test) == 0:
            raise ValueError(f"train and test must be non-empty, got {len(self.train)} and {len(self.test)} samples")
        if self.train.x.shape[1:] != self.test.x.shape[1:]:
            raise ValueError(f"train images {tuple(self.train.x.shape[1:])} and test images {tuple(self.test.x.shape[1:])} differ in shape")
        self.methods = list(self.methods)
        if not self.methods:
            raise ValueError("methods must name at least one registered strategy")
        unknown = sorted(set(self.hparams) - set(self.methods) - {"retrain"})
        if unknown:
            raise ValueError(f"hparams given for methods not in methods: {unknown}")
        for m in self.methods:
            make_config(m, self._hparams_for(m))  # an unknown name is refused here too
        self.train_cfg = TrainConfig.from_dict(self.train_config)
        if self.group is not None and (self.group not in self.train.meta or self.group not in self.test.meta):
            self.group = None  # e.g. MedMNIST: no sex column, so no per-group metrics
        self.num_classes = int(max(self.train.num_classes or 0, self.test.num_classes or 0))
        self.task = ClassificationTask(self.num_classes)
        kwargs = {"in_channels": int(self.train.x.shape[1]), "num_classes": self.num_classes, "input_size": int(self.train.x.shape[-1])}
        self.model_kwargs = {**kwargs, **self.model_kwargs}
        model_factory(self.model, 0, **self.model_kwargs)  # validates name and arguments now

    # -- configuration ---------------------------------------------------------------------------

    @property
    def labels(self) -> np.ndarray:
        return self.train.labels

    def update_hparams(self, hparams: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace some methods' hyper-parameters (e.g. with :func:`tuned_hparams`), validated first."""
        unknown = sorted(set(hparams) - set(self.methods))
        if unknown:
            raise ValueError(f"hparams given for methods not in methods: {unknown}")
        for m, cfg in hparams.items():
            make_config(m, {**self._hparams_for(m), **dict(cfg)})
        for m, cfg in hparams.items():
            self.hparams[m] = {**self.hparams.get(m, {}), **dict(cfg)}

    def _hparams_for(self, method: str, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
        base = dict(self.train_config) if method == "retrain" else {}
        return {**base, **self.hparams.get(method, {}), **dict(override or {})}

    def val_partition(self, seed: int) -> np.ndarray:
        """The validation indices every split of ``seed`` shares (as :func:`make_forget_split` draws them)."""
        return stratified_partition(self.labels, round(self.val_fraction * len(self.labels)), seed)[0]

    # -- models ----------------------------------------------------------------------------------

    def original(self, seed: int) -> tuple[nn.Module, float]:
        """The original model of ``seed``: trained on everything but the validation partition (cached)."""
        if seed not in self._originals:
            pool = np.setdiff1d(np.arange(len(self.train)), self.val_partition(seed))
            net = model_factory(self.model, seed, **self.model_kwargs)()
            net, seconds = train_model(
                net,
                self.train.subset(pool, "train-pool"),
                self.task,
                self.train_cfg,
                device=self.device,
                seed=seed,
                desc=f"original seed {seed}",
            )
            self._originals[seed] = (net, seconds)
        return self._originals[seed]

    def experiment(self, split: ForgetSplit, seed: int) -> ClassifierExperiment:
        """The :class:`ClassifierExperiment` of ``split`` (cached: a tuning grid re-uses one split, and
        the original's evaluation is then computed once); its validation part must be the seed's."""
        if not np.array_equal(np.sort(split.val), self.val_partition(seed)):
            raise ValueError(
                f"split's validation set is not seed {seed}'s partition: build it with seed={seed}, val_fraction={self.val_fraction}"
            )
        key = (seed, np.sort(split.forget).tobytes())
        if self._latest is None or self._latest[0] != key:
            net, _ = self.original(seed)
            factory = model_factory(self.model, seed, **self.model_kwargs)
            exp = ClassifierExperiment(
                self.train, self.test, split, self.task, net, factory, seed, self.device, self.mia_folds, group=self.group
            )
            self._latest = (key, exp)
        return self._latest[1]

    def training_losses(self, seed: int) -> np.ndarray:
        """Per-sample loss of the original model on every training sample (its difficulty)."""
        net, _ = self.original(seed)
        return predict(net, self.train, self.task, resolve_device(self.device)).loss

    # -- one forget split ------------------------------------------------------------------------

    def run(
        self,
        split: ForgetSplit,
        seed: int,
        scenario: str,
        recorder: ResultsRecorder,
        methods: Sequence[str] | None = None,
        hparams: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, dict[tuple[str, str], float]]:
        """Unlearn ``split`` with every method; record the standard metrics, per-group accuracies
        (``"test:F"``) and the forget-set size."""
        methods = list(methods or self.methods)
        hp = {m: self._hparams_for(m, (hparams or {}).get(m)) for m in methods}
        exp = self.experiment(split, seed)
        per_method = exp.run(methods, recorder, scenario, {m: v for m, v in hp.items() if v}, original_seconds=self.original(seed)[1])
        for method in per_method:
            recorder.add(scenario=scenario, method=method, seed=seed, split="forget", metric="n", value=float(len(split.forget)))
        return per_method


# --------------------------------------------------------------------------------------------------
# The analyses (each records rows under "<analysis>:<level>")
# --------------------------------------------------------------------------------------------------


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    return seeds


def _check_fractions(fractions: Sequence[float], name: str) -> list[float]:
    fractions = list(fractions)
    if not fractions or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1 for f in fractions):
        raise ValueError(f"{name} must be a non-empty list of numbers in (0, 1), got {fractions!r}")
    return [float(f) for f in fractions]


def run_forget_sizes(study: MedicalStudy, fractions: Sequence[float], seeds: Sequence[int], recorder: ResultsRecorder) -> None:
    """Forget-set size: random forget sets of each ``fraction`` of the training pool (all but validation), every method, every seed."""
    fractions = _check_fractions(fractions, "forget fractions")
    for seed in _check_seeds(seeds):
        for f in progress(fractions, desc=f"forget sizes, seed {seed}"):
            split = make_forget_split(study.labels, "random", fraction=f, seed=seed, val_fraction=study.val_fraction)
            study.run(split, seed, f"size:{f:g}", recorder)


def _group_counts(study: MedicalStudy, column: str, seed: int) -> dict[str, int]:
    pool = np.setdiff1d(np.arange(len(study.train)), study.val_partition(seed))
    values, counts = np.unique(np.asarray(study.train.meta[column]).astype(str)[pool], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def _check_sex(study: MedicalStudy, n_forget: int, seeds: Sequence[int], groups: Sequence[str], column: str) -> None:
    if column not in study.train.meta:
        raise ValueError(f"the training data {study.train.name!r} have no {column!r} column, so the sex analysis cannot run")
    if not isinstance(n_forget, int) or n_forget < 1:
        raise ValueError(f"sex n_forget must be a positive int, got {n_forget!r}")
    for seed in _check_seeds(seeds):
        counts = _group_counts(study, column, seed)
        for g in groups:
            if counts.get(g, 0) < n_forget:
                raise ValueError(
                    f"sex n_forget={n_forget} but only {counts.get(g, 0)} training samples of seed {seed} have {column} == {g!r}"
                )


def run_sex(
    study: MedicalStudy,
    n_forget: int,
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    groups: Sequence[str] = ("F", "M"),
    column: str = "sex",
) -> None:
    """Sex: forget ``n_forget`` samples of only one sex, for each sex in ``groups``, every seed.

    Both forget sets of one seed have the same size and the same original model, so their results
    pair up for :func:`sex_bias_test`.

    Raises:
        ValueError: no ``column`` in the metadata (MedMNIST), or a group with fewer than ``n_forget``
            training samples.
    """
    _check_sex(study, n_forget, seeds, groups, column)
    for seed in seeds:
        for g in groups:
            split = attribute_forget_split(
                study.labels, study.train.meta[column].astype(str), g, n_forget=n_forget, seed=seed, val_fraction=study.val_fraction
            )
            study.run(split, seed, f"sex:{g}", recorder)


def difficulty_forget_split(
    labels: np.ndarray, losses: np.ndarray, level: str, n_forget: int, *, quantile: float = 0.2, seed: int = 0, val_fraction: float = 0.1
) -> ForgetSplit:
    """Forget ``n_forget`` samples from the easiest or hardest ``quantile`` of each class.

    Difficulty is the original model's per-sample training loss. Quantiles are taken *within each
    class* and the forget set is spread evenly over classes, so "hard" does not simply mean "the
    hardest class".

    Raises:
        ValueError: an unknown level, a quantile outside (0, 1), or too few candidates.
    """
    if level not in ("easy", "hard"):
        raise ValueError(f"level must be 'easy' or 'hard', got {level!r}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    labels, losses = np.asarray(labels), np.asarray(losses, dtype=np.float64)
    if losses.shape != labels.shape:
        raise ValueError(f"losses must have one value per training sample ({labels.shape}), got {losses.shape}")
    val = stratified_partition(labels, round(val_fraction * len(labels)), seed)[0]
    pool = np.setdiff1d(np.arange(len(labels)), val)
    classes = np.unique(labels[pool])
    rng = np.random.default_rng(seed + 3)
    quota = np.full(len(classes), n_forget // len(classes))
    quota[: n_forget % len(classes)] += 1
    chosen = []
    for c, k in zip(classes, quota):
        idx = pool[labels[pool] == c]
        order = idx[np.argsort(losses[idx], kind="stable")]
        m = max(1, math.floor(quantile * len(order)))
        candidates = order[:m] if level == "easy" else order[-m:]
        if k > len(candidates):
            raise ValueError(
                f"class {c} has only {len(candidates)} samples in its {level} {quantile:.0%}; lower n_forget or raise quantile"
            )
        chosen.append(rng.choice(candidates, size=int(k), replace=False))
    forget = np.concatenate(chosen)
    return indices_forget_split(
        labels,
        forget,
        seed=seed,
        val_fraction=val_fraction,
        description=f"{n_forget} {level} samples (per-class {quantile:.0%} loss quantile)",
        kind="difficulty",
    )


def _check_difficulty(study: MedicalStudy, n_forget: int, seeds: Sequence[int], quantile: float) -> None:
    """Can every seed's per-class quantile hold its share of ``n_forget``? (Known before any training.)"""
    if not isinstance(n_forget, int) or n_forget < 1:
        raise ValueError(f"difficulty n_forget must be a positive int, got {n_forget!r}")
    if not 0 < quantile < 1:
        raise ValueError(f"difficulty quantile must be in (0, 1), got {quantile!r}")
    for seed in _check_seeds(seeds):
        pool = np.setdiff1d(np.arange(len(study.labels)), study.val_partition(seed))
        classes, counts = np.unique(study.labels[pool], return_counts=True)
        quota = -(-n_forget // len(classes))
        room = min(max(1, math.floor(quantile * c)) for c in counts)
        if quota > room:
            raise ValueError(
                f"difficulty n_forget={n_forget} needs {quota} samples per class, but the smallest class's {quantile:.0%} quantile holds {room}"
                f" (seed {seed}): lower n_forget to <= {room * len(classes)} or raise the quantile"
            )


def run_difficulty(study: MedicalStudy, n_forget: int, seeds: Sequence[int], recorder: ResultsRecorder, quantile: float = 0.2) -> None:
    """Difficulty: easy and hard forget sets of the same size, every method, every seed."""
    _check_difficulty(study, n_forget, seeds, quantile)
    for seed in seeds:
        losses = study.training_losses(seed)
        for level in ("easy", "hard"):
            split = difficulty_forget_split(
                study.labels, losses, level, n_forget, quantile=quantile, seed=seed, val_fraction=study.val_fraction
            )
            study.run(split, seed, f"difficulty:{level}", recorder)


def run_subject(study: MedicalStudy, seeds: Sequence[int], recorder: ResultsRecorder, column: str = "subject") -> list[str]:
    """One subject: forget every training patch of one patient (a different patient per seed).

    Returns:
        The forgotten subject of each seed.

    Raises:
        ValueError: no ``column`` in the training metadata.
    """
    if column not in study.train.meta:
        raise ValueError(f"the training data {study.train.name!r} have no {column!r} column, so the subject analysis cannot run")
    subjects = np.unique(np.asarray(study.train.meta[column]).astype(str))
    seeds = _check_seeds(seeds)
    order = np.random.default_rng(12345).permutation(subjects)
    chosen = []
    for i, seed in enumerate(seeds):
        subject = str(order[i % len(order)])
        split = make_forget_split(
            study.labels,
            "attribute",
            attribute=study.train.meta[column].astype(str),
            value=subject,
            seed=seed,
            val_fraction=study.val_fraction,
        )
        study.run(split, seed, f"subject:{subject}", recorder)
        chosen.append(subject)
    return chosen


def _grid_config(method: str, base: Mapping[str, Any], lr: float, epochs: int) -> dict[str, Any]:
    cfg = {**base, "lr": float(lr), "epochs": int(epochs)}
    fields = {f.name for f in dataclasses.fields(get_strategy(method).Config)}
    if not {"lr", "epochs"} <= fields:
        raise ValueError(f"strategy {method!r} has no lr / epochs hyper-parameters to search")
    if "msteps" in fields:  # SCRUB: max steps cannot exceed epochs
        cfg["msteps"] = min(int(cfg.get("msteps", make_config(method, base).msteps)), int(epochs))
    return cfg


def _check_tuning(
    study: MedicalStudy, methods: Sequence[str], lr_factors: Sequence[float], epochs: Sequence[int], seeds: Sequence[int], fraction: float
) -> list[str]:
    methods = [m for m in methods if m != "retrain"]
    if not methods or not list(lr_factors) or not list(epochs):
        raise ValueError("tuning needs at least one method other than retrain, one lr factor and one epochs value")
    if any(not f > 0 for f in lr_factors) or any(not isinstance(e, int) or isinstance(e, bool) or e < 1 for e in epochs):
        raise ValueError(f"tuning lr_factors must be > 0 and epochs positive ints, got {list(lr_factors)} and {list(epochs)}")
    _check_fractions([fraction], "tuning fraction")
    _check_seeds(seeds)
    for m in methods:
        make_config(m, _grid_config(m, study._hparams_for(m), 1.0, int(epochs[0])))  # a registered method with lr and epochs
    return methods


def run_tuning(
    study: MedicalStudy,
    methods: Sequence[str],
    lr_factors: Sequence[float],
    epochs: Sequence[int],
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    fraction: float = 0.1,
) -> None:
    """Tuning: each method's lr x epochs grid on one random forget set, every config timed.

    The lr grid is ``factor * (the method's configured lr)``. ``retrain`` runs once per seed as the
    time reference (scenario ``tuning:reference``); it needs no search (it is the original recipe).
    The chosen config is picked later from the saved metrics by :func:`select_by_validation`.
    """
    methods = _check_tuning(study, methods, lr_factors, epochs, seeds, fraction)
    for seed in seeds:
        split = make_forget_split(study.labels, "random", fraction=fraction, seed=seed, val_fraction=study.val_fraction)
        study.run(split, seed, "tuning:reference", recorder, methods=["retrain"])
        for method in methods:
            base = study._hparams_for(method)
            base_lr = make_config(method, base).lr
            for factor in progress(lr_factors, desc=f"tuning {method}"):
                for ep in epochs:
                    cfg = _grid_config(method, base, base_lr * factor, ep)
                    scenario = f"tuning:lr={cfg['lr']:.3g},epochs={ep}"
                    study.run(split, seed, scenario, recorder, methods=[method], hparams={method: cfg})
                    for key in ("lr", "epochs"):
                        recorder.add(scenario=scenario, method=method, seed=seed, split="config", metric=key, value=cfg[key])


def _check_masks(study: MedicalStudy, mask_fractions: Sequence[float], method: str) -> None:
    if not list(mask_fractions) or any(isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m <= 1 for m in mask_fractions):
        raise ValueError(f"salun mask fractions must be a non-empty list of numbers in (0, 1], got {list(mask_fractions)}")
    fields = {f.name for f in dataclasses.fields(get_strategy(method).Config)}
    if "mask_fraction" not in fields:
        raise ValueError(f"the mask sweep needs a strategy with a mask_fraction hyper-parameter; {method!r} has none")


def run_salun_sweep(
    study: MedicalStudy,
    mask_fractions: Sequence[float],
    fraction: float,
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    method: str = "salun",
) -> None:
    """SalUn's mask sparsity: the share of weights it may change, on the ``size:<fraction>`` forget set.

    Only ``method`` runs here; its reference (retrain, and Random Label = a mask of 1.0) is read from
    the forget-size analysis at the same fraction and seed, which uses the identical split.
    """
    _check_masks(study, mask_fractions, method)
    for seed in _check_seeds(seeds):
        split = make_forget_split(study.labels, "random", fraction=fraction, seed=seed, val_fraction=study.val_fraction)
        for m in progress(mask_fractions, desc=f"salun sweep, seed {seed}"):
            study.run(split, seed, f"salun_mask:{m:g}", recorder, methods=[method], hparams={method: {"mask_fraction": float(m)}})


#: The analyses in the order the notebook runs them.
ANALYSES = ("tuning", "size", "sex", "difficulty", "subject", "salun_mask")


@dataclass
class MedicalPlan:
    """Every analysis's parameters, checked against the study before any model is trained.

    :meth:`check` validates all of them up front (so a bad ``sex_n_forget`` fails in seconds, not after
    the forget-size analysis has run for minutes) and says which analyses the data cannot support
    (no ``sex`` column in MedMNIST: the sex analysis is skipped, with the reason). :meth:`run` runs one.
    """

    seeds: Sequence[int] = (0, 1, 2)
    forget_fractions: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.5)
    sex_n_forget: int = 100
    sex_seeds: Sequence[int] | None = None
    difficulty_n_forget: int = 60
    difficulty_quantile: float = 0.2
    tuning_methods: Sequence[str] = ("random_label", "salun", "scrub", "finetune", "neggrad_plus")
    tuning_lr_factors: Sequence[float] = (0.3, 1.0, 3.0)
    tuning_epochs: Sequence[int] = (1, 2)
    tuning_seeds: Sequence[int] = (0,)
    tuning_fraction: float = 0.1
    salun_masks: Sequence[float] = (0.1, 0.3, 0.5, 0.9)
    salun_fraction: float = 0.1
    analyses: Sequence[str] = ANALYSES
    skipped: dict[str, str] = field(default_factory=dict, init=False)
    _checked: MedicalStudy | None = field(default=None, init=False, repr=False)

    def check(self, study: MedicalStudy) -> dict[str, str]:
        """Validate every parameter against ``study``; returns ``{analysis: why it is skipped}``.

        Raises:
            ValueError: a bad parameter (named), or an analysis asked for that cannot run as asked.
        """
        unknown = sorted(set(self.analyses) - set(ANALYSES))
        if unknown:
            raise ValueError(f"analyses must be among {ANALYSES}, got unknown {unknown}")
        _check_seeds(self.seeds)
        self.forget_fractions = _check_fractions(self.forget_fractions, "forget_fractions")
        self.skipped = {}
        for analysis, column in (("sex", "sex"), ("subject", "subject")):
            if analysis in self.analyses and column not in study.train.meta:
                self.skipped[analysis] = f"skipped: the data ({study.train.name}) have no {column!r} column (MedMNIST ships none)"
        if "sex" in self.analyses and "sex" not in self.skipped:
            _check_sex(study, self.sex_n_forget, self.sex_seeds or self.seeds, ("F", "M"), "sex")
        if "difficulty" in self.analyses:
            _check_difficulty(study, self.difficulty_n_forget, self.seeds, self.difficulty_quantile)
        if "tuning" in self.analyses:
            _check_tuning(study, self.tuning_methods, self.tuning_lr_factors, self.tuning_epochs, self.tuning_seeds, self.tuning_fraction)
        if "salun_mask" in self.analyses:
            _check_masks(study, self.salun_masks, "salun")
            needs = {"retrain", "random_label"} - set(study.methods)
            if "size" not in self.analyses or float(self.salun_fraction) not in self.forget_fractions or needs:
                raise ValueError(
                    f"salun_fraction={self.salun_fraction} must be one of forget_fractions {self.forget_fractions}, with the size analysis"
                    f" run and retrain and random_label among the methods (missing: {sorted(needs)}): the sweep reads its references there"
                )
        self._checked = study
        return self.skipped

    def run(self, study: MedicalStudy, analysis: str, recorder: ResultsRecorder) -> bool:
        """Run one analysis; False, with the reason printed, when it is skipped. Checks the plan first
        if :meth:`check` has not run on this study."""
        if self._checked is not study:
            self.check(study)
        if analysis not in self.analyses or analysis in self.skipped:
            print(self.skipped.get(analysis, f"skipped: {analysis!r} is not in this plan's analyses"))
            return False
        if analysis == "size":
            run_forget_sizes(study, self.forget_fractions, self.seeds, recorder)
        elif analysis == "sex":
            run_sex(study, self.sex_n_forget, self.sex_seeds or self.seeds, recorder)
        elif analysis == "difficulty":
            run_difficulty(study, self.difficulty_n_forget, self.seeds, recorder, self.difficulty_quantile)
        elif analysis == "subject":
            run_subject(study, self.seeds, recorder)
        elif analysis == "tuning":
            run_tuning(
                study, self.tuning_methods, self.tuning_lr_factors, self.tuning_epochs, self.tuning_seeds, recorder, self.tuning_fraction
            )
        else:
            run_salun_sweep(study, self.salun_masks, self.salun_fraction, self.seeds, recorder)
        return True


# --------------------------------------------------------------------------------------------------
# Reading the saved metrics back: tables
# --------------------------------------------------------------------------------------------------


def analysis_rows(df: pd.DataFrame, analysis: str) -> pd.DataFrame:
    """Rows of one analysis, with its level (``0.05``, ``F``, ``hard``, ...) in a ``level`` column."""
    sel = df[df.scenario.astype(str).str.startswith(f"{analysis}:")].copy()
    if sel.empty:
        raise ValueError(f"no rows for analysis {analysis!r} in these metrics (scenarios: {sorted(df.scenario.unique())[:8]})")
    sel["level"] = sel.scenario.str.split(":", n=1).str[1]
    return sel


def vs_retrain(df: pd.DataFrame, split: str, metric: str) -> pd.DataFrame:
    """``value - retrain's value`` for one (split, metric), per scenario and seed (signed).

    Returns columns scenario, level, seed, method, value, retrain, diff. Negative forget-accuracy
    differences mean the method forgot *more* than exact unlearning would (over-forgetting).
    """
    sel = df[(df.split == split) & (df.metric == metric)]
    ref = sel[sel.method == "retrain"].set_index(["scenario", "seed"])["value"].rename("retrain")
    if ref.empty:
        raise ValueError(f"no retrain rows for ({split}, {metric}): run retrain in the same scenarios")
    out = sel[sel.method != "retrain"].join(ref, on=["scenario", "seed"]).dropna(subset=["retrain"])
    out = out.assign(diff=out.value - out.retrain)
    if "level" not in out:
        out["level"] = out.scenario.str.split(":", n=1).str[1]
    return out[["scenario", "level", "seed", "method", "value", "retrain", "diff"]]


def _ordered(methods: Sequence[str]) -> list[str]:
    first = [m for m in ("original", *DEFAULT_METHODS) if m in set(methods)]
    return first + sorted(set(methods) - set(first))


def forget_size_table(df: pd.DataFrame) -> pd.DataFrame:
    """Forget-set size: mean ± std over seeds of forget / retain / test accuracy, MIA and gap, per size."""
    rows = analysis_rows(df, "size")
    rows = rows.assign(size=rows.level.astype(float))
    table = mean_std_table(rows, ["size", "method"], _MAIN_COLUMNS)
    order = _ordered(rows.method.unique())
    index = sorted(table.index, key=lambda t: (t[0], order.index(t[1])))
    return table.reindex(pd.MultiIndex.from_tuples(index, names=["forget fraction", "method"]))


def sex_table(df: pd.DataFrame) -> pd.DataFrame:
    """Sex: per forgotten sex and method, forget accuracy and test accuracy on each sex."""
    rows = analysis_rows(df, "sex")
    cols = {
        ("forget", "accuracy"): "forget acc",
        ("test:F", "accuracy"): "test acc F",
        ("test:M", "accuracy"): "test acc M",
        ("forget", "mia"): "MIA",
    }
    cols[("average", "gap_to_retrain")] = "avg gap"
    return mean_std_table(rows.assign(forgotten=rows.level), ["forgotten", "method"], cols)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaNs are left out of the family and stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out


#: The harm the claim "no sex bias" is judged on (see :func:`sex_bias_test`).
SEX_BIAS_HARM = "own-sex drop beyond retrain"


def sex_bias_test(df: pd.DataFrame, groups: tuple[str, str] = ("F", "M")) -> pd.DataFrame:
    """Paired test over seeds: does forgetting one sex harm that sex (or unlearning quality) more?

    For every method and seed, these harms are computed for the run that forgot ``F`` and the run
    that forgot ``M`` (same seed = same original model and validation set, hence *paired*):

    * ``own-sex test drop`` - test accuracy on the forgotten sex, original minus unlearned;
    * ``other-sex test drop`` - the same on the other sex (collateral damage);
    * ``own-sex drop beyond retrain`` - test accuracy on the forgotten sex, retrain minus unlearned:
      what the method costs that sex *beyond* exact unlearning. Losing a sex's samples can lower
      accuracy on that sex legitimately (retraining shows how much); only the excess is the method's;
    * ``avg gap`` - mean |accuracy - retrain's| over forget / retain / test (unlearning quality).

    The test is a paired t-test (``scipy.stats.ttest_rel``) of harm(F) - harm(M): pairing removes the
    seed-to-seed variance of training. ``holm p`` adjusts each harm's p-values over the methods
    (Holm-Bonferroni), since testing many methods at 0.05 finds something by chance. The Wilcoxon
    signed-rank test cannot reach p < 0.05 with few seeds (its smallest two-sided p with n pairs is
    2 / 2**n), so its p is reported only from 6 pairs on. With 3-5 seeds the test has little power:
    a large p is "no detectable bias", not proof of none; read the mean difference beside it.
    """
    rows = analysis_rows(df, "sex")
    a, b = groups
    acc = rows[rows.metric == "accuracy"].pivot_table(index=["method", "seed", "level"], columns="split", values="value")
    orig = acc.xs("original", level="method")
    retrain = acc.xs("retrain", level="method") if "retrain" in acc.index.get_level_values("method") else None
    gap = rows[(rows.split == "average") & (rows.metric == "gap_to_retrain")].set_index(["method", "seed", "level"])["value"]
    out = []
    for method in _ordered(rows.method.unique()):
        if method == "original":
            continue
        harms: dict[str, dict[str, pd.Series]] = {}
        for g in groups:
            other = b if g == a else a
            mine = acc.xs((method, g), level=("method", "level"))
            base = orig.xs(g, level="level")
            h = {
                "own-sex test drop": base[f"test:{g}"] - mine[f"test:{g}"],
                "other-sex test drop": base[f"test:{other}"] - mine[f"test:{other}"],
            }
            if method != "retrain" and retrain is not None:  # both are 0 by definition for retrain itself
                h[SEX_BIAS_HARM] = retrain.xs(g, level="level")[f"test:{g}"] - mine[f"test:{g}"]
                h["avg gap"] = gap.xs((method, g), level=("method", "level"))
            harms[g] = h
        for name in harms[a]:
            x, y = harms[a][name].align(harms[b][name], join="inner")
            d = (x - y).to_numpy()
            n = len(d)
            t_p = float(stats.ttest_rel(x, y).pvalue) if n >= 2 and np.ptp(d) > 0 else float("nan")
            w_p = float(stats.wilcoxon(d).pvalue) if n >= 6 and np.any(d != 0) else float("nan")
            out.append(
                {
                    "method": method,
                    "harm": name,
                    f"mean ({a} forgotten)": float(x.mean()),
                    f"mean ({b} forgotten)": float(y.mean()),
                    "mean diff": float(d.mean()),
                    "n seeds": n,
                    "paired t p": t_p,
                    "holm p": np.nan,
                    "wilcoxon p": w_p,
                }
            )
    table = pd.DataFrame(out)
    for _, idx in table.groupby("harm").groups.items():
        table.loc[idx, "holm p"] = holm(table.loc[idx, "paired t p"].to_numpy())
    return table


def difficulty_table(df: pd.DataFrame) -> pd.DataFrame:
    """Difficulty: per level and method, forget accuracy beside retrain's and the signed difference.

    ``forget acc - retrain`` < 0: the method over-forgets (erases more than never having seen the
    samples would); > 0: it under-forgets.
    """
    rows = analysis_rows(df, "difficulty")
    d = vs_retrain(rows, "forget", "accuracy")
    m = vs_retrain(rows, "forget", "mia")
    g = d.groupby(["level", "method"])
    table = pd.DataFrame(
        {
            "forget acc": g.value.mean(),
            "retrain forget acc": g.retrain.mean(),
            "forget acc - retrain": g["diff"].mean(),
            "± (std over seeds)": g["diff"].std(ddof=1),
            "MIA - retrain": m.groupby(["level", "method"])["diff"].mean(),
        }
    )
    table = table.round(3) + 0.0  # + 0.0 turns a rounded -0.000 into 0.000
    table["verdict"] = np.where(
        table["forget acc - retrain"] < -0.05, "over-forgets", np.where(table["forget acc - retrain"] > 0.05, "under-forgets", "close")
    )
    return table


def subject_table(df: pd.DataFrame) -> pd.DataFrame:
    """One subject: forgetting one patient, mean ± std over seeds (one patient per seed)."""
    rows = analysis_rows(df, "subject")
    return mean_std_table(rows.assign(analysis="subject"), "method", _MAIN_COLUMNS)


def select_by_validation(df: pd.DataFrame) -> pd.DataFrame:
    """Pick each method's config per seed from its tuning grid, using no test data and no retrain.

    Score (lower is better) = |forget acc - val acc| + max(0, original val acc - val acc): a retrained
    model treats a random forget set like unseen data, so its forget accuracy sits near the validation
    accuracy; and unlearning should not cost validation accuracy. Both terms use only training and
    validation samples.
    """
    rows = analysis_rows(df, "tuning")
    acc = rows[rows.metric == "accuracy"].pivot_table(index=["method", "seed", "scenario"], columns="split", values="value")
    orig_val = acc.xs("original", level="method").groupby("seed")["val"].first()
    grid = acc.drop(index="original", level="method", errors="ignore")
    grid = grid[[s != "tuning:reference" for s in grid.index.get_level_values("scenario")]].reset_index()
    if grid.empty:
        raise ValueError("no tuning configs in these metrics: run run_tuning first")
    grid["score"] = (grid.forget - grid.val).abs() + np.maximum(0.0, grid.seed.map(orig_val) - grid.val)
    best = grid.loc[grid.groupby(["method", "seed"])["score"].idxmin()]
    return best[["method", "seed", "scenario", "score", "forget", "val"]].reset_index(drop=True)


def tuned_hparams(df: pd.DataFrame, study: MedicalStudy) -> dict[str, dict[str, Any]]:
    """Each tuned method's validation-picked lr and epochs, as ``hparams`` for :meth:`MedicalStudy.update_hparams`.

    With several tuning seeds, the configuration picked most often wins (ties: the lower mean score).
    """
    best = select_by_validation(df)
    rows = analysis_rows(df, "tuning")
    cfg = rows[rows.split == "config"].pivot_table(index=["method", "scenario"], columns="metric", values="value", aggfunc="first")
    out = {}
    for method, g in best.groupby("method", sort=False):
        votes = g.groupby("scenario").agg(n=("score", "size"), score=("score", "mean")).sort_values(["n", "score"], ascending=[False, True])
        lr, epochs = cfg.loc[(method, votes.index[0]), ["lr", "epochs"]]
        grid = _grid_config(method, study._hparams_for(method), float(lr), int(epochs))
        out[method] = {k: grid[k] for k in ("lr", "epochs", "msteps") if k in grid}
    return out


def tuning_table(df: pd.DataFrame) -> pd.DataFrame:
    """Tuning: search cost as a multiple of retraining, and how good the validation-picked config is.

    Search time is the sum of every config's wall time (one seed); the ratio divides it by that
    seed's retraining time, then both are averaged over seeds. Test accuracy and the gap to retrain
    of the picked config are reported here only; they played no part in picking it.
    """
    rows = analysis_rows(df, "tuning")
    secs = rows[(rows.split == "all") & (rows.metric == "seconds") & (rows.method != "original")]
    ref = secs[secs.scenario == "tuning:reference"].set_index("seed")["value"]
    grid = secs[secs.scenario != "tuning:reference"]
    search = grid.groupby(["method", "seed"])["value"].agg(["sum", "count"]).reset_index()
    search["ratio"] = search["sum"] / search.seed.map(ref)
    best = select_by_validation(df)
    acc = rows[rows.metric == "accuracy"].pivot_table(index=["method", "seed", "scenario"], columns="split", values="value")
    retrain_acc = acc.xs(("retrain", "tuning:reference"), level=("method", "scenario"))
    cfg = rows[rows.split == "config"].pivot_table(index=["method", "seed", "scenario"], columns="metric", values="value")
    picked = []
    for r in best.itertuples():
        a = acc.loc[(r.method, r.seed, r.scenario)]
        ra = retrain_acc.loc[r.seed]
        c = cfg.loc[(r.method, r.seed, r.scenario)]
        gap = np.mean([abs(a[s] - ra[s]) for s in ("forget", "retain", "test")])
        picked.append({"method": r.method, "seed": r.seed, "lr": c["lr"], "epochs": c["epochs"], "test": a["test"], "gap": gap})
    picked = pd.DataFrame(picked).merge(search, on=["method", "seed"])
    g = picked.groupby("method")
    table = pd.DataFrame(
        {
            "configs": g["count"].first().astype(int),
            "search s": g["sum"].mean(),
            "retrain s": g.seed.apply(lambda s: ref.loc[s].mean()),
            "search / retrain": g.ratio.mean(),
            "picked lr": g.lr.agg(lambda v: ", ".join(f"{x:.3g}" for x in v)),
            "picked epochs": g.epochs.agg(lambda v: ", ".join(str(int(x)) for x in v)),
            "picked test acc": g.test.mean(),
            "picked avg gap": g.gap.mean(),
        }
    )
    return table.reindex([m for m in _ordered(table.index) if m in table.index])


def salun_sweep_table(df: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """SalUn per mask fraction, beside retrain and Random Label on the same ``size:<fraction>`` split."""
    rows = analysis_rows(df, "salun_mask")
    rows = rows[rows.method != "original"].assign(setting=lambda r: "salun mask " + r.level)
    size = df[(df.scenario == f"size:{fraction:g}") & df.method.isin(["retrain", "random_label"])]
    both = pd.concat([rows, size.assign(setting=size.method)], ignore_index=True)
    cols = {k: v for k, v in _MAIN_COLUMNS.items() if k[1] != "gap_to_retrain"}
    return mean_std_table(both, "setting", cols)


# --------------------------------------------------------------------------------------------------
# Figures (seaborn, from the saved metrics)
# --------------------------------------------------------------------------------------------------

_PANELS = {
    ("forget", "accuracy"): "forget acc",
    ("retain", "accuracy"): "retain acc",
    ("test", "accuracy"): "test acc",
    ("forget", "mia"): "MIA",
}


def _panels(rows: pd.DataFrame) -> pd.DataFrame:
    keep = [(s, m) for s, m in _PANELS]
    sel = rows[[(s, m) in keep for s, m in zip(rows.split, rows.metric)]]
    return sel.assign(panel=[_PANELS[(s, m)] for s, m in zip(sel.split, sel.metric)])


def plot_forget_sizes(df: pd.DataFrame) -> plt.Figure:
    """Forget / retain / test accuracy and MIA against forget-set size, one line per method (± sd)."""
    rows = _panels(analysis_rows(df, "size"))
    rows = rows[rows.method != "original"].assign(size=lambda r: 100 * r.level.astype(float))
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.relplot(
        data=rows, x="size", y="value", hue="method", hue_order=_ordered(rows.method.unique()), col="panel", col_order=list(_PANELS.values()),
        kind="line", marker="o", errorbar="sd", height=3.0, aspect=1.0, facet_kws={"sharey": False},
    )  # fmt: skip
    g.set(xscale="log")
    g.set_axis_labels("forget set (% of training)", "")
    g.set_titles("{col_name}")
    return g.figure


def plot_sex(df: pd.DataFrame) -> plt.Figure:
    """Test accuracy drop (original - unlearned) on each sex, after forgetting only F or only M."""
    rows = analysis_rows(df, "sex")
    acc = rows[(rows.metric == "accuracy") & rows.split.isin(["test:F", "test:M"])]
    orig = acc[acc.method == "original"].set_index(["seed", "level", "split"])["value"].rename("orig")
    drop = acc[acc.method != "original"].join(orig, on=["seed", "level", "split"])
    drop = drop.assign(drop=drop.orig - drop.value, evaluated=drop.split.str.split(":").str[1], forgotten="forgot " + drop.level)
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=drop, kind="bar", x="method", y="drop", hue="evaluated", col="forgotten", order=_ordered(drop.method.unique()),
        errorbar="sd", height=3.4, aspect=1.5,
    )  # fmt: skip
    g.set_axis_labels("", "test accuracy drop vs original")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", rotation=30)
    return g.figure


def plot_difficulty(df: pd.DataFrame) -> plt.Figure:
    """Forget accuracy minus retrain's (signed) and MIA minus retrain's, easy vs hard forget sets."""
    rows = analysis_rows(df, "difficulty")
    d = pd.concat(
        [
            vs_retrain(rows, "forget", "accuracy").assign(panel="forget acc - retrain"),
            vs_retrain(rows, "forget", "mia").assign(panel="MIA - retrain"),
        ]
    )
    d = d[d.method != "original"]
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=d, kind="bar", x="method", y="diff", hue="level", hue_order=["easy", "hard"], col="panel", order=_ordered(d.method.unique()),
        errorbar="sd", height=3.4, aspect=1.4, sharey=False,
    )  # fmt: skip
    g.set_axis_labels("", "difference to retrain")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.axhline(0, color="k", lw=0.8)
        ax.tick_params(axis="x", rotation=30)
    return g.figure


def plot_subject(df: pd.DataFrame) -> plt.Figure:
    """Forgetting one patient: accuracy per split and MIA, per method (± sd over seeds)."""
    rows = _panels(analysis_rows(df, "subject"))
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(
        data=rows, kind="bar", x="panel", y="value", hue="method", hue_order=_ordered(rows.method.unique()), order=list(_PANELS.values()),
        errorbar="sd", height=3.4, aspect=2.2,
    )  # fmt: skip
    g.set_axis_labels("", "")
    return g.figure


def plot_tuning(df: pd.DataFrame) -> plt.Figure:
    """Left: search time as a multiple of one retraining. Right: every config's validation score."""
    rows = analysis_rows(df, "tuning")
    secs = rows[(rows.split == "all") & (rows.metric == "seconds") & (rows.method != "original")]
    ref = secs[secs.scenario == "tuning:reference"].set_index("seed")["value"]
    search = secs[secs.scenario != "tuning:reference"].groupby(["method", "seed"])["value"].sum().reset_index()
    search["ratio"] = search.value / search.seed.map(ref)
    order = _ordered(search.method.unique())
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    sns.barplot(data=search, x="method", y="ratio", order=order, errorbar="sd", ax=axes[0])
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set(xlabel="", ylabel="search time / retrain time", title="cost of the lr x epochs search")
    acc = rows[rows.metric == "accuracy"].pivot_table(index=["method", "seed", "scenario"], columns="split", values="value").reset_index()
    acc = acc[(acc.method != "original") & (acc.scenario != "tuning:reference")]
    sns.scatterplot(data=acc, x="val", y="forget", hue="method", hue_order=order, ax=axes[1])
    lo = float(min(acc.val.min(), acc.forget.min()))
    axes[1].plot([lo, 1], [lo, 1], "k--", lw=0.8)
    axes[1].set(xlabel="validation accuracy", ylabel="forget accuracy", title="configs tried (target: near the diagonal)")
    for ax in axes[:1]:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_salun_sweep(df: pd.DataFrame, fraction: float) -> plt.Figure:
    """SalUn's four panels against mask fraction, with retrain and Random Label as reference lines."""
    rows = _panels(analysis_rows(df, "salun_mask"))
    rows = rows[rows.method != "original"].assign(mask=lambda r: r.level.astype(float))
    ref = _panels(df[(df.scenario == f"size:{fraction:g}") & df.method.isin(["retrain", "random_label"])])
    sns.set_theme(style="whitegrid", context="notebook")
    panels = list(_PANELS.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
    for ax, panel in zip(axes, panels):
        sns.lineplot(data=rows[rows.panel == panel], x="mask", y="value", marker="o", errorbar="sd", ax=ax, label="salun")
        for method, style in (("retrain", "--"), ("random_label", ":")):
            v = ref[(ref.panel == panel) & (ref.method == method)]["value"]
            if len(v):
                ax.axhline(float(v.mean()), color="k", ls=style, lw=1, label=method)
        ax.set(title=panel, xlabel="mask fraction (share of weights updated)", ylabel="")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def summary_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every analysis's table that the metrics allow (missing analyses are left out)."""
    makers = {
        "Tuning cost (lr x epochs, picked on validation)": tuning_table,
        "Forget-set size": forget_size_table,
        "Sex (per forgotten sex)": sex_table,
        "Sex bias test (paired t over seeds)": sex_bias_test,
        "Difficulty": difficulty_table,
        "One subject": subject_table,
    }
    out = {}
    for name, make in makers.items():
        try:
            out[name] = make(df)
        except ValueError:
            continue
    return out


def _methods(index: Sequence[str]) -> list[str]:
    return [m for m in _ordered(index) if m not in ("original", "retrain")]


def _claim_effective(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    rows = analysis_rows(df, "size")
    f = vs_retrain(rows, "forget", "accuracy").groupby(["method", "level"])["diff"].mean().abs()
    r = vs_retrain(rows, "retain", "accuracy").groupby(["method", "level"])["diff"].mean()
    ok = ((f <= tol) & (r >= -tol)).groupby("method")
    held, sizes = ok.sum(), ok.size()
    methods = _methods(held.index)
    measured = "; ".join(
        f"{m}: {int(held[m])}/{int(sizes[m])} sizes (worst forget diff {f[m].max():.3f}, worst retain diff {r[m].min():+.3f})"
        for m in methods
    )
    everywhere = [m for m in methods if held[m] == sizes[m]]
    some = [m for m in methods if 0 < held[m] < sizes[m]]
    verdict = f"within {tol} of retrain on forget and retain at every size: {', '.join(everywhere) or 'no method'}"
    return measured, verdict + (f"; at some sizes: {', '.join(some)}" if some else "")


def _claim_sex(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    bias = sex_bias_test(df)
    own = bias[bias.harm == SEX_BIAS_HARM].set_index("method")
    n = int(own["n seeds"].min())
    measured = "; ".join(f"{m}: {r['mean diff']:+.3f} (holm p={r['holm p']:.2g})" for m, r in own.iterrows())
    hits = [m for m, r in own.iterrows() if r["holm p"] < 0.05]
    verdict = (
        f"bias detected for {', '.join(hits)}"
        if hits
        else f"no bias detected (paired t over {n} seeds, Holm-adjusted p >= 0.05; little power)"
    )
    return f"{SEX_BIAS_HARM} on test, F forgotten minus M forgotten: " + measured, verdict


def _claim_generalisation(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    rows = analysis_rows(df, "size")
    acc = rows[(rows.split == "test") & (rows.metric == "accuracy")].assign(f=lambda r: r.level.astype(float))
    mean = acc.groupby(["method", "f"])["value"].mean()
    lo, hi = acc.f.min(), acc.f.max()
    if lo == hi:
        raise ValueError("one forget size only: nothing to compare")
    drop = {m: mean[(m, lo)] - mean[(m, hi)] for m in mean.index.get_level_values(0).unique()}
    methods = _methods(drop)
    worse = [m for m in methods if drop[m] - drop.get("retrain", 0.0) > tol]
    measured = f"test acc drop from {lo:g} to {hi:g} of training forgotten: retrain {drop.get('retrain', float('nan')):+.3f}; " + "; ".join(
        f"{m} {drop[m]:+.3f}" for m in methods
    )
    verdict = (
        f"reproduced for {', '.join(worse)} (> {tol} beyond retrain's own drop)"
        if worse
        else "not reproduced: no method loses more than retraining does"
    )
    return measured, verdict


def _claim_difficulty(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    d = vs_retrain(analysis_rows(df, "difficulty"), "forget", "accuracy").groupby(["method", "level"])["diff"].mean()
    methods = _methods(d.index.get_level_values(0).unique())
    gap = {m: d[(m, "hard")] - d[(m, "easy")] for m in methods}
    biased = [m for m in methods if abs(gap[m]) > tol]
    measured = "forget acc - retrain, hard minus easy: " + "; ".join(f"{m} {gap[m]:+.3f}" for m in methods)
    verdict = (
        f"reproduced for {', '.join(biased)} (> {tol}; positive = hard samples under-forgotten)"
        if biased
        else f"not reproduced (all within {tol})"
    )
    return measured, verdict


def _claim_tuning(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    t = tuning_table(df)
    measured = "; ".join(f"{m}: {int(r['configs'])} configs = {r['search / retrain']:.2f}x retrain" for m, r in t.iterrows())
    lo, hi = t["search / retrain"].min(), t["search / retrain"].max()
    return measured, f"an overhead of {lo:.2f}-{hi:.2f}x one retraining on top of the chosen run"


#: Study 2's claims (arXiv 2407.07539, abstract) and the function that measures each here.
CLAIMS = {
    "unlearning performs well on the retain and forget sets": _claim_effective,
    "no bias against male or female samples": _claim_sex,
    "generalisation suffers, more for larger forget sets": _claim_generalisation,
    "methods may be biased against easy or hard samples": _claim_difficulty,
    "hyper-parameter tuning adds computational overhead": _claim_tuning,
}


def claims_table(df: pd.DataFrame, tol: float = 0.05) -> pd.DataFrame:
    """Each claim of the study beside what these metrics show, with a verdict at tolerance ``tol``.

    Every number is computed from ``df``; claims whose analysis did not run are left out. ``tol`` is
    our threshold (an accuracy difference of 5 points by default), not the paper's.
    """
    rows = []
    for claim, measure in CLAIMS.items():
        try:
            measured, verdict = measure(df, tol)
        except (ValueError, KeyError):
            continue
        rows.append({"study's claim": claim, "measured here": measured, "verdict": verdict})
    return pd.DataFrame(rows)


def summary_markdown(df: pd.DataFrame, footer: str) -> str:
    """``summary.md`` for the README: a heading, one table per analysis, and the run's footer line."""
    parts = ["## 04 · Medical classifier unlearning: size, sex, difficulty, subject, tuning cost\n"]
    claims = claims_table(df)
    if not claims.empty:
        parts.append("**The study's claims against this run**\n\n" + markdown_table(claims))
    for name, table in summary_tables(df).items():
        parts.append(f"**{name}**\n\n{markdown_table(table)}")
    parts.append(footer.strip() + "\n")
    return "\n".join(parts)
