"""The study object: one training / test set with patient metadata, and every method run on a forget split."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from ...cache import ArtifactCache, ArtifactInfo
from ...data.datasets import ArrayDataset
from ...data.mislabel import RelabelledSplit
from ...data.splits import ForgetSplit, stratified_partition
from ...experiments.base import model_factory, train_or_load
from ...metrics import predict
from ...results import ResultsRecorder
from ...strategies import make_config
from ...tasks import ClassificationTask
from ...training import TrainConfig
from ...utils import resolve_device
from ..classifiers import ClassifierExperiment

DEFAULT_METHODS = ("retrain", "random_label", "salun", "scrub", "finetune", "neggrad_plus")


class RunStore:
    """The unlearning runs a study has made, for :class:`ReusingExperiment`, within a memory budget.

    Why a budget: each run holds its model. 04's default grid keeps 300 small CNNs (about 0.4 MB each),
    but a paper-scale ResNet-18 is 45 MB, and 300 of them would not fit beside the study. Once the kept
    models reach ``max_bytes``, further runs are not kept (they are computed again when asked for twice).
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self.runs: dict[tuple[Any, ...], Any] = {}
        self.bytes = 0

    def get(self, key: tuple[Any, ...]) -> Any | None:
        return self.runs.get(key)

    def put(self, key: tuple[Any, ...], result: Any) -> None:
        model = getattr(result, "model", None)
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values()) if isinstance(model, nn.Module) else 0
        if self.bytes + size <= self.max_bytes:
            self.runs[key] = result
            self.bytes += size

    def clear(self) -> None:
        self.runs.clear()
        self.bytes = 0


@dataclass
class ReusingExperiment(ClassifierExperiment):
    """A :class:`ClassifierExperiment` that runs each unlearning computation of its study once.

    Why: an analysis tunes a method on the tuning seeds' splits, then runs the pick on every seed, the
    tuning seeds included. There the pick's run is the very candidate run the search already made (same
    original, split, seed, config and step budget; :func:`~unlearn_lib.strategies.unlearn` is seeded), so
    it is read back instead of recomputed: the same model, bit for bit, and the same measured seconds.
    ``reuse`` is the study's store (:attr:`MedicalStudy._reuse`); runs with their own seed or a per-epoch
    callback (forget quality, curves) and the reference (cached on disk anyway) are always computed.
    """

    reuse: RunStore | None = field(default=None, repr=False)

    def _unlearn(
        self,
        ds: dict[str, ArrayDataset],
        method: str,
        config: Any,
        *,
        seed: int | None = None,
        on_epoch: Any = None,
        max_steps: int | None = None,
    ) -> Any:
        if self.reuse is None or seed is not None or on_epoch is not None or method == "retrain":
            return super()._unlearn(ds, method, config, seed=seed, on_epoch=on_epoch, max_steps=max_steps)
        key = (
            self.seed,
            np.sort(self.split.forget).tobytes(),
            np.sort(self.split.val).tobytes(),
            tuple(len(ds[k]) for k in ("forget", "retain", "val")),
            method,
            repr(self.make_config(method, config)),
            max_steps,
        )
        result = self.reuse.get(key)
        if result is None:
            result = super()._unlearn(ds, method, config, max_steps=max_steps)
            self.reuse.put(key, result)
        return result


@dataclass
class MedicalStudy:
    """A training and a test set with metadata, a model recipe, and the methods to compare.

    Args:
        train / test: datasets; ``group`` (default ``sex``) in their metadata enables per-group metrics.
        model: registered model name; ``in_channels``, ``num_classes`` and ``input_size`` come from
            the data unless given in ``model_kwargs``.
        recipe: :class:`~unlearn_lib.training.TrainConfig` overrides for the original model;
            ``retrain`` repeats exactly this recipe (it takes no hyper-parameters of its own).
        methods: registered strategies run on every forget split (``retrain`` first: it is the
            reference every gap is measured against).
        hparams: per-method config overrides.
        val_fraction: the validation share held out of training (never trained on, never test).
        group: metadata column for per-group accuracies, or None.
        cache: where originals and retrained references are kept (None: ``ArtifactCache()``, which
            follows ``$UNLEARN_CACHE`` and ``UNLEARN_NO_CACHE``).
        partition_labels: the labels the validation partition is stratified by; None: the training
            labels. A study on changed labels (:meth:`relabelled`) keeps the true ones here, so it
            holds out exactly the validation samples of the study it came from.
    """

    train: ArrayDataset
    test: ArrayDataset
    model: str = "small_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    methods: Sequence[str] = DEFAULT_METHODS
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "auto"
    val_fraction: float = 0.1
    mia_folds: int = 5
    group: str | None = "sex"
    cache: ArtifactCache | None = None
    partition_labels: np.ndarray | None = field(default=None, repr=False)
    #: Per seed, where the original came from (trained now or read from the cache) and its measured training time.
    original_infos: dict[int, ArtifactInfo] = field(default_factory=dict, init=False, repr=False)
    _originals: dict[int, tuple[nn.Module, float]] = field(default_factory=dict, init=False, repr=False)
    #: The latest split's experiment and its key (seed, forget indices); only one is kept, as each holds
    #: every unlearned model of its split.
    _latest: tuple[tuple[int, bytes], ClassifierExperiment] | None = field(default=None, init=False, repr=False)
    #: Unlearning runs already made, for :class:`ReusingExperiment` (emptied by :meth:`forget_runs`).
    _reuse: RunStore = field(default_factory=RunStore, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.train) == 0 or len(self.test) == 0:
            raise ValueError(f"train and test must be non-empty, got {len(self.train)} and {len(self.test)} samples")
        if self.train.x.shape[1:] != self.test.x.shape[1:]:
            raise ValueError(f"train images {tuple(self.train.x.shape[1:])} and test images {tuple(self.test.x.shape[1:])} differ in shape")
        self.methods = list(self.methods)
        if not self.methods:
            raise ValueError("methods must name at least one registered strategy")
        unknown = sorted(set(self.hparams) - set(self.methods))
        if unknown:
            raise ValueError(f"hparams given for methods not in methods: {unknown}")
        for m in self.methods:
            make_config(m, self._hparams_for(m))  # an unknown name is refused here too
        self.train_cfg = TrainConfig.from_dict(self.recipe)
        if self.group is not None and (self.group not in self.train.meta or self.group not in self.test.meta):
            self.group = None  # e.g. MedMNIST: no sex column, so no per-group metrics
        self.num_classes = int(max(self.train.num_classes or 0, self.test.num_classes or 0))
        self.task = ClassificationTask(self.num_classes)
        kwargs = {"in_channels": int(self.train.x.shape[1]), "num_classes": self.num_classes, "input_size": int(self.train.x.shape[-1])}
        self.model_kwargs = {**kwargs, **self.model_kwargs}
        model_factory(self.model, 0, **self.model_kwargs)  # validates name and arguments now
        if self.partition_labels is not None and len(self.partition_labels) != len(self.train):
            raise ValueError(f"partition_labels has {len(self.partition_labels)} labels for {len(self.train)} training samples")

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
        return {**self.hparams.get(method, {}), **dict(override or {})}

    def val_partition(self, seed: int) -> np.ndarray:
        """The validation indices every split of ``seed`` shares (as :func:`make_forget_split` draws them)."""
        labels = self.labels if self.partition_labels is None else np.asarray(self.partition_labels)
        return stratified_partition(labels, round(self.val_fraction * len(labels)), seed)[0]

    def relabelled(self, relabel: RelabelledSplit) -> MedicalStudy:
        """The same study on ``relabel``'s changed training labels: its own originals (trained on the
        wrong labels, cached under their own key), the same validation partition, methods and hyper-parameters.

        Why a second study: a mislabelled request changes what the original learnt, so it cannot share
        the originals of every other analysis.

        Raises:
            ValueError: ``relabel`` was made for another training set (:meth:`experiment` then refuses a
                split whose validation part is not the seed's partition).
        """
        if len(relabel.labels) != len(self.train) or not np.array_equal(relabel.true_labels, self.labels):
            raise ValueError(f"relabel was made for other training labels than this study's {len(self.train)} samples")
        return dataclasses.replace(
            self,
            train=relabel.apply(self.train),
            hparams={m: dict(v) for m, v in self.hparams.items()},
            partition_labels=self.labels.copy(),
        )

    # -- models ----------------------------------------------------------------------------------

    def original(self, seed: int) -> tuple[nn.Module, float]:
        """The original model of ``seed``: trained on everything but the validation partition (kept in
        memory, and in the artifact cache, where its seconds are those measured when it was trained)."""
        if seed not in self._originals:
            pool = self.train.subset(np.setdiff1d(np.arange(len(self.train)), self.val_partition(seed)), "train-pool")
            net, info = train_or_load(
                "original",
                pool,
                self.model,
                self.model_kwargs,
                self.train_cfg,
                self.task,
                self.device,
                seed,
                cache=self.cache,
                desc=f"original seed {seed}",
            )
            self.original_infos[seed] = info
            self._originals[seed] = (net, info.seconds)
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
            exp = ReusingExperiment(
                self.train,
                self.test,
                split,
                self.task,
                net,
                factory,
                seed,
                self.device,
                self.mia_folds,
                group=self.group,
                model_name=self.model,
                model_kwargs=self.model_kwargs,
                recipe=self.train_cfg,
                cache=self.cache,
                original_info=self.original_infos.get(seed),
                reuse=self._reuse,
            )
            self._latest = (key, exp)
        return self._latest[1]

    def forget_runs(self) -> None:
        """Drop the stored unlearning runs (each holds a model): an analysis's runs serve that analysis,
        and the tuning grid's the size analysis after it."""
        self._reuse.clear()

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
        **extra: Any,
    ) -> dict[str, dict[tuple[str, str], float]]:
        """Unlearn ``split`` with every method; record the standard metrics, per-group accuracies
        (``"test:F"``) and the forget-set size; ``extra`` are explicit result columns of every row."""
        methods = list(methods or self.methods)
        hp = {m: self._hparams_for(m, (hparams or {}).get(m)) for m in methods}
        exp = self.experiment(split, seed)
        per_method = exp.run(methods, recorder, scenario, {m: v for m, v in hp.items() if v}, self.original(seed)[1], **extra)
        for method in per_method:
            recorder.add(scenario=scenario, method=method, seed=seed, split="forget", metric="n", value=float(len(split.forget)), **extra)
        return per_method
