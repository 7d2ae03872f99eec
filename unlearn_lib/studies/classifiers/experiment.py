"""The classifier unlearning experiment, as library code so notebooks stay thin.

``ClassifierExperiment`` holds the data, the forget split and the original model; ``run`` applies
each strategy, evaluates it on every split and records tidy rows (accuracy, error, loss, MIA, time),
then the derived comparisons with the retrained model (gap per split, average gap, speed-up).

Beyond SCRUB's metrics it records the ones the field adopted since: SalUn's SVC MIA-efficacy
(``forget/mia_efficacy``), KL and JS divergence of the outputs to the retrained model's on forget and
test (``kl_to_retrain``, ``js_to_retrain``), the NeurIPS 2023 challenge's forget quality over K seeds
(:meth:`ClassifierExperiment.forget_quality`), and per-epoch error curves
(:meth:`ClassifierExperiment.record_curves`, read back with :func:`curve_frame`).
:meth:`ClassifierExperiment.prepare` trains the original once so several splits of the same pool
(class, selective, random forgetting share one) reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...cache import ArtifactCache, ArtifactInfo
from ...data.datasets import ArrayDataset
from ...data.splits import ForgetSplit
from ...experiments.base import Experiment, Values, cached_retrain, model_factory, train_or_load, training_parts
from ...metrics import (
    ForgetQualityResult,
    ModelOutputs,
    evaluate_splits,
    forget_quality,
    gap_to_reference,
    interclass_confusion,
    js_divergence,
    kl_divergence,
    logit_scaled_confidence,
    mia_loss_lr_ci,
    svc_mia_efficacy,
    ulira,
)
from ...results import ResultsRecorder, example_frame
from ...strategies import make_config, unlearn
from ...tasks import Task
from ...training import Recipe, TrainConfig
from ...utils import progress, resolve_device
from .outputs import read_diverged

__all__ = ["FORGET_QUALITY_K", "GAP_SPLITS", "ClassifierExperiment", "curve_frame", "final_rows", "model_factory"]

#: Per-example metadata kept in ``examples.parquet`` when the training set has it: how memorised an
#: example is (:mod:`.memorisation`), and a mislabelled example's true label (:mod:`unlearn_lib.data.mislabel`).
EXAMPLE_META = ("memorisation", "c_proxy", "true_label")
#: Splits whose accuracy gap to the retrained model is averaged into "average gap".
GAP_SPLITS = ("forget", "retain", "test")
#: Models a side for forget quality: with K a side epsilon cannot exceed log(K * K), so a handful caps it
#: where methods already are; 8 lifts the cap above them (the ``paper`` profile sets 16).
FORGET_QUALITY_K = 8


@dataclass
class ClassifierExperiment(Experiment):
    """One forget split of one training set, with the original model trained on retain + forget."""

    modality: ClassVar[str] = "classification"
    budgeted: ClassVar[bool] = True

    train: ArrayDataset
    test: ArrayDataset
    split: ForgetSplit
    task: Task
    original: nn.Module
    factory: Callable[[], nn.Module]
    seed: int = 0
    device: str = "auto"
    mia_folds: int = 5
    #: Bootstrap resamples of the loss-based MIA's 95% confidence interval (``forget/mia_ci_low`` and
    #: ``forget/mia_ci_high``, next to ``forget/mia``); 0 records no interval.
    mia_boot: int = 1000
    results: dict[str, Any] = field(default_factory=dict)
    svc_mia: bool = True
    divergences: bool = True
    #: The registered model ``factory`` builds (initialised with ``seed``) and its arguments; they key
    #: the ``retrain`` reference in the cache (left None, retrain is always trained).
    model_name: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    #: For the inter-class confusion test: the pair (A, B); ``train.meta["true_label"]`` holds the
    #: labels before the swap, and ``interclass_confusion`` is recorded on forget and test.
    confusion_pair: tuple[int, int] | None = None
    #: A metadata column (e.g. ``"sex"``) of both train and test: accuracy is then also recorded per
    #: value, as split ``"<split>:<value>"`` (``"test:F"``), from the same forward pass.
    group: str | None = None
    #: The recipe the original was trained with; ``retrain`` repeats it (set by :meth:`prepare`).
    recipe: Recipe | None = None
    #: Where trained originals and retrained references are kept (None: ``ArtifactCache()``, which
    #: follows ``$UNLEARN_CACHE`` and ``UNLEARN_NO_CACHE``). ``retrain`` goes through it when the
    #: model is named (``model_name``), since the key needs the model.
    cache: ArtifactCache | None = None
    #: Where the original came from (trained now or read from the cache, and its measured training
    #: time); set by :meth:`prepare` when it trains the original.
    original_info: ArtifactInfo | None = None
    #: Per-example outputs kept per split: at most this many examples (seeded), ``None`` for all of them.
    examples_cap: int | None = 200
    #: Keep, beside the examples, each model's penultimate features on them as a 2-D PCA embedding (axes
    #: fitted on retrain's, so models share them) and its layer-wise linear CKA to retrain, in arrays.npz
    #: (``embedding/...``, ``cka/...``): what the explorer's Contrast view draws. Small: 2 numbers an example.
    record_features: bool = True
    #: Examples (spread over forget / retain / test) on which the layer-wise CKA is computed.
    cka_examples: int = 150
    _original_eval: tuple[Values, dict[str, ModelOutputs]] | None = field(default=None, init=False, repr=False)
    _outputs: dict[str, dict[str, ModelOutputs]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.confusion_pair is not None and "true_label" not in self.train.meta:
            raise ValueError("confusion_pair needs train.meta['true_label'] (the labels before the swap)")
        for name, ds in (("train", self.train), ("test", self.test)):
            if self.group is not None and self.group not in ds.meta:
                raise ValueError(f"group={self.group!r} is not a metadata column of {name} (it has {sorted(ds.meta)})")

    @classmethod
    def prepare(
        cls,
        train: ArrayDataset,
        test: ArrayDataset,
        split: ForgetSplit,
        task: Task,
        *,
        model: str = "small_cnn",
        model_kwargs: Mapping[str, Any] | None = None,
        train_config: Recipe | Mapping[str, Any] | None = None,
        seed: int = 0,
        device: str = "auto",
        original: nn.Module | None = None,
        cache: ArtifactCache | None = None,
        **fields: Any,
    ) -> tuple[ClassifierExperiment, float | None]:
        """Build the experiment, training the original on retain + forget unless ``original`` is given.

        Returns the experiment and the original's training time (``None`` when it was reused). Splits
        made with the same seed and ``val_fraction`` share their retain + forget pool, so one original
        serves class, selective and random forgetting. The original goes through the artifact cache
        (``cache``, default ``ArtifactCache()``): read from it, the time is the one measured when it
        was trained, and ``exp.original_info.describe()`` says so.
        """
        kwargs = dict(model_kwargs or {})
        factory = model_factory(model, seed, **kwargs)
        cfg = train_config if isinstance(train_config, Recipe) else TrainConfig.from_dict(train_config)
        seconds, info = None, None
        if original is None:
            pool = train.subset(np.sort(np.concatenate([split.retain, split.forget])), "train_pool")
            original, info = train_or_load("original", pool, model, kwargs, cfg, task, device, seed, cache=cache, factory=factory)
            seconds = info.seconds
        fields.update(model_name=model, model_kwargs=kwargs, recipe=cfg, cache=cache, original_info=info)
        return cls(train, test, split, task, original, factory, seed, device, **fields), seconds

    def datasets(self) -> dict[str, ArrayDataset]:
        """forget / retain / val / test, plus the test set split by the forgotten class if any."""
        ds = {
            "forget": self.train.subset(self.split.forget, "forget"),
            "retain": self.train.subset(self.split.retain, "retain"),
            "val": self.train.subset(self.split.val, "val"),
            "test": self.test,
        }
        for name, index in self._test_parts().items():
            ds[name] = self.test.subset(index)
        return ds

    def _test_parts(self) -> dict[str, np.ndarray]:
        """The test splits that are parts of the test set (by the forgotten class), as indices into it."""
        if self.split.forget_class is None:
            return {}
        labels = self.test.labels
        return {
            "test_forget_class": np.flatnonzero(labels == self.split.forget_class),
            "test_other_classes": np.flatnonzero(labels != self.split.forget_class),
        }

    def _mia_reference(self, ds: Mapping[str, ArrayDataset]) -> str:
        # Non-members "like the forget set": held-out examples of the forgotten class when there is one.
        return "test_forget_class" if "test_forget_class" in ds else "test"

    def _evaluate(self, model: nn.Module) -> tuple[Values, dict[str, ModelOutputs]]:
        ds = self.datasets()
        parts = self._test_parts()  # read from the test set's outputs: one pass over the test images, not two
        device = resolve_device(self.device)
        evaluated = evaluate_splits(model, {k: v for k, v in ds.items() if k not in parts}, self.task, device, keep_logits=True)
        outs, diverged = read_diverged(evaluated, int(self.task.num_classes))  # each evaluated example counted once
        outs.update({k: outs["test"].subset(index) for k, index in parts.items() if len(index)})
        values: dict[tuple[str, str], float] = {("all", "diverged"): diverged}
        for split, o in outs.items():
            values[(split, "accuracy")] = o.accuracy
            values[(split, "error")] = 1.0 - o.accuracy
            values[(split, "loss")] = float(o.loss.mean())
        member, nonmember = outs["forget"].loss, outs[self._mia_reference(ds)].loss
        mia, low, high = mia_loss_lr_ci(member, nonmember, n_splits=self.mia_folds, seed=self.seed, n_boot=max(self.mia_boot, 1))
        values[("forget", "mia")] = mia
        if self.mia_boot > 0:
            values[("forget", "mia_ci_low")], values[("forget", "mia_ci_high")] = low, high
        if self.svc_mia:
            pairs = {s: (outs[s].logits, outs[s].targets) for s in ("retain", "test", "forget")}
            values[("forget", "mia_efficacy")] = svc_mia_efficacy(pairs["retain"], pairs["test"], pairs["forget"], seed=self.seed)
        if self.group is not None:
            for split in ("forget", "retain", "test"):
                col = np.asarray(ds[split].meta[self.group]).astype(str)
                for g in np.unique(col):
                    values[(f"{split}:{g}", "accuracy")] = float(outs[split].correct[col == g].mean())
        if self.confusion_pair is not None:
            a, b = self.confusion_pair
            true = {"forget": ds["forget"].meta["true_label"], "test": outs["test"].targets}
            for split, t in true.items():
                values[(split, "interclass_confusion")] = interclass_confusion(outs[split].logits.argmax(axis=1), t, a, b)
        return values, outs

    def evaluate_original(self) -> Values:
        if self._original_eval is None:  # the original does not change: evaluate it once per experiment
            self._original_eval = self._evaluate(self.original)
        self._outputs["original"] = self._original_eval[1]
        return self._original_eval[0]

    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str, max_steps: int | None = None) -> Any:
        return self._unlearn(self.datasets(), method, config, max_steps=max_steps)

    def compare(self, per_method: dict[str, Values]) -> None:
        """Per-split accuracy gap, MIA gap and output divergences (KL, JS) to ``retrain``."""
        ref = {s: per_method["retrain"][(s, "accuracy")] for s in GAP_SPLITS}
        logits = {m: {s: o.logits for s, o in outs.items()} for m, outs in self._outputs.items()}
        for method, values in per_method.items():
            acc = {s: values[(s, "accuracy")] for s in GAP_SPLITS}
            for s, g in gap_to_reference(acc, ref, GAP_SPLITS).items():
                values[(s, "gap_to_retrain")] = g
            values[("forget", "mia_gap_to_retrain")] = abs(values[("forget", "mia")] - per_method["retrain"][("forget", "mia")])
            if self.divergences:
                for s in ("forget", "test"):
                    values[(s, "kl_to_retrain")] = float(kl_divergence(logits["retrain"][s], logits[method][s]))
                    values[(s, "js_to_retrain")] = float(js_divergence(logits["retrain"][s], logits[method][s]))

    def evaluate(self, model: nn.Module) -> Values:
        """Accuracy, error and mean loss per split, the loss-based MIA on forget vs held-out, and
        SalUn's SVC MIA-efficacy (members: retain, non-members: test, audited: forget)."""
        return self._evaluate(model)[0]

    def evaluate_method(self, method: str, result: Any) -> Values:
        values, self._outputs[method] = self._evaluate(result.model)  # outputs kept for compare() and the examples
        return values

    def record_examples(self, recorder: ResultsRecorder, scenario: str, methods: Sequence[str], **extra: Any) -> None:
        """Per-example outputs of every model of this run (see :func:`unlearn_lib.results.example_frame`):
        forget / retain / test / val, at most ``examples_cap`` examples per split (a seeded subsample),
        with the :data:`EXAMPLE_META` columns the training set carries (test examples have none)."""
        ds = self.datasets()
        ids = {"forget": self.split.forget, "retain": self.split.retain, "val": self.split.val, "test": np.arange(len(self.test))}
        for method in methods:
            for split in ("forget", "retain", "test", "val"):
                out, data = self._outputs[method][split], ds[split]
                meta = {"group": np.asarray(data.meta[self.group]).astype(str)} if self.group is not None else {}
                meta.update({k: np.asarray(data.meta[k]) for k in EXAMPLE_META if k in data.meta})
                frame = example_frame(out, ids=ids[split], **meta)
                keep = self._example_rows(split, len(frame))
                recorder.add_examples(frame.iloc[keep], scenario=scenario, method=method, seed=self.seed, split=split, **extra)
        if self.record_features:
            self.record_representations(recorder, scenario, methods)

    def record_representations(self, recorder: ResultsRecorder, scenario: str, methods: Sequence[str]) -> None:
        """Arrays ``embedding/<scenario>/seed<k>/<model>`` (the examples' penultimate features in 2-D, on PCA
        axes fitted on retrain's features), ``.../split``, ``.../label``, ``.../id``, and
        ``cka/<scenario>/seed<k>/<model>`` (linear CKA to retrain per layer, names in ``.../layers``), on the
        same capped examples of forget / retain / test as ``examples.parquet``."""
        from sklearn.decomposition import PCA

        from ...metrics.representation import _centred_gram, layer_activations, linear_cka_gram

        ds = self.datasets()
        ids = {"forget": self.split.forget, "retain": self.split.retain, "test": np.arange(len(self.test))}
        rows = {s: self._example_rows(s, len(ds[s])) for s in ids}
        x = torch.cat([ds[s].x[rows[s]] for s in ids])
        models = {m: self.original if m == "original" else getattr(self.results.get(m), "model", None) for m in methods}
        models = {m: net for m, net in models.items() if isinstance(net, nn.Module)}
        ref = self.reference
        if ref not in models or not any(isinstance(m, nn.Linear) for m in models[ref].modules()):
            return  # no retrain to compare with (a tuning grid), or a model without a linear head
        key = f"{scenario}/seed{self.seed}"
        if f"cka/{key}/layers" in recorder.arrays:  # a grid (tuning) runs a scenario again: its first run is kept
            return
        device = resolve_device(self.device)
        # CKA's Gram matrices cost examples² × width per layer: an evenly spread subset of the examples keeps
        # them cheap; one model's activations at a time keeps memory small.
        sub = np.linspace(0, len(x) - 1, min(len(x), self.cka_examples)).astype(int)

        def grams(net: nn.Module) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            acts = layer_activations(net, x, device)
            return acts.pop("penultimate"), {k: _centred_gram(v[sub]) for k, v in acts.items()}

        ref_features, ref_grams = grams(models[ref])
        pca = PCA(n_components=2, random_state=self.seed).fit(ref_features)
        layers = list(ref_grams)
        for m, net in models.items():
            features, g = (ref_features, ref_grams) if m == ref else grams(net)
            recorder.add_array(f"embedding/{key}/{m}", pca.transform(features).astype(np.float32))
            recorder.add_array(f"cka/{key}/{m}", np.array([linear_cka_gram(g[k], ref_grams[k]) for k in layers]))
        recorder.add_array(f"embedding/{key}/split", np.concatenate([np.full(len(rows[s]), s) for s in ids]))
        recorder.add_array(f"embedding/{key}/label", torch.cat([ds[s].y[rows[s]] for s in ids]).numpy())
        recorder.add_array(f"embedding/{key}/id", np.concatenate([np.asarray(ids[s])[rows[s]] for s in ids]).astype(np.int64))
        recorder.add_array(f"cka/{key}/layers", np.array(layers))

    def _example_rows(self, split: str, n: int) -> np.ndarray:
        """The same seeded subsample of a split for every method, so drill-downs compare like with like."""
        if self.examples_cap is None or n <= self.examples_cap:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, sum(map(ord, split))])
        return np.sort(rng.choice(n, self.examples_cap, replace=False))

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
        """Run ``method`` from the original model on ``ds`` (the one place this call is spelled out).

        ``seed`` given: that seed and a factory initialised with it (forget quality needs K distinct
        runs); otherwise the experiment's seed and factory.
        """
        factory = self.factory if seed is None else self._factory_for(seed)
        run_seed = self.seed if seed is None else seed

        def run(model_factory: Callable[[], nn.Module]) -> Any:
            return unlearn(
                method,
                self.original,
                retain=ds["retain"],
                forget=ds["forget"],
                val=ds["val"],
                task=self.task,
                config=config,
                model_factory=model_factory,
                device=self.device,
                seed=run_seed,
                on_epoch=on_epoch,
                recipe=self.recipe,
                max_steps=max_steps,
            )

        if method != "retrain" or self.model_name is None or self.recipe is None:
            return run(factory)
        # The reference through the artifact cache: its key needs the model's name, init seed and data.
        make_config(method, config)  # retrain takes no hyper-parameters: refuse them before any lookup, as unlearn would
        init_seed = self.seed if seed is None else seed
        parts = training_parts(ds["retain"], self.model_name, self.model_kwargs, init_seed, run_seed, self.recipe, self.task, self.device)
        store = self.cache if self.cache is not None else ArtifactCache()
        return cached_retrain(store, parts, factory, run, self.recipe, self.device)

    def _factory_for(self, seed: int) -> Callable[[], nn.Module]:
        """A factory with its own initialisation seed (retrained models must differ in init, too)."""
        if self.model_name is None:
            return self.factory
        return model_factory(self.model_name, seed, **self.model_kwargs)

    def forget_quality(
        self,
        methods: Sequence[str],
        recorder: ResultsRecorder,
        scenario: str,
        *,
        k: int = FORGET_QUALITY_K,
        hparams: Mapping[str, Mapping[str, Any]] | None = None,
        delta: float = 1e-5,
        n_boot: int = 1000,
        confidence: float = 0.95,
    ) -> dict[str, ForgetQualityResult]:
        """The NeurIPS 2023 challenge's forget quality: ``k`` unlearning runs per method (seeds
        ``seed*1000 + i``) against ``k`` retrained models (own init and data order each).

        Records ``forget/forget_quality_epsilon`` (mean per-example epsilon) and
        ``forget/forget_quality_score`` per method, each with its bootstrap interval
        (``..._ci_low`` / ``..._ci_high``, over forget examples and models; see
        :func:`~unlearn_lib.metrics.forget_quality`), and, from the same models (``k >= 3``), the
        per-example likelihood-ratio attack U-LiRA's accuracy ``forget/ulira_accuracy`` with its
        interval (:func:`~unlearn_lib.metrics.ulira`; 0.5 = indistinguishable from retraining); the
        result's ``ulira`` holds it. With the challenge's 512 models epsilon resolves
        fine differences; with a handful it is coarse, capped at ``log(k * k)`` and biased upwards,
        which is why ``retrain`` itself (k fresh retrains against the k references) is reported as the
        floor to compare with. The cost is ``k`` retrains plus ``k`` runs of every method.
        """
        if not isinstance(k, int) or k < 2:
            raise ValueError(f"k must be an int >= 2 (models per side), got {k!r}")
        hparams = self.check(["retrain", *[m for m in methods if m != "retrain"]], hparams)
        ds = self.datasets()
        targets, classes = ds["forget"].labels, int(self.task.num_classes)

        def scores(method: str, seeds: Sequence[int], config: Any) -> np.ndarray:
            rows = []
            for s in seeds:
                res = self._unlearn(ds, method, config, seed=s)
                out, _ = read_diverged(
                    evaluate_splits(res.model, {"forget": ds["forget"]}, self.task, resolve_device(self.device), keep_logits=True), classes
                )
                rows.append(logit_scaled_confidence(out["forget"].logits, targets))
            return np.stack(rows)

        base = self.seed * 1000
        reference = scores("retrain", [base + 500 + i for i in range(k)], hparams.get("retrain"))
        results = {}
        for method in progress(methods, desc=f"{scenario}: forget quality", leave=True):
            seeds = [base + i for i in range(k)]
            u_scores = scores(method, seeds, hparams.get(method))
            res = forget_quality(u_scores, reference, delta=delta, n_boot=n_boot, confidence=confidence, seed=self.seed)
            results[method] = res
            values = {("forget", "forget_quality_epsilon"): res.epsilon, ("forget", "forget_quality_score"): res.score}
            cis = [("forget_quality_epsilon", res.epsilon_ci), ("forget_quality_score", res.score_ci)]
            if k >= 3:
                res.ulira = ulira(u_scores, reference, n_boot=n_boot, confidence=confidence, seed=self.seed)
                values[("forget", "ulira_accuracy")] = res.ulira.accuracy
                cis.append(("ulira_accuracy", res.ulira.accuracy_ci))
            if n_boot:
                for name, (lo, hi) in cis:
                    values[("forget", f"{name}_ci_low")] = lo
                    values[("forget", f"{name}_ci_high")] = hi
            recorder.add_many(scenario=scenario, method=method, seed=self.seed, values=values)
        return results

    def record_curves(
        self,
        method: str,
        recorder: ResultsRecorder,
        scenario: str,
        config: Mapping[str, Any] | None = None,
        max_examples: int = 1000,
    ) -> pd.DataFrame:
        """Run ``method`` once with an ``on_epoch`` hook that measures forget / retain / test error
        after every epoch (and after SCRUB's max and min steps separately).

        A separate run from :meth:`run`, so the hook's evaluations never inflate the timed results.
        Retain and test are subsampled to ``max_examples`` (seeded) to keep the hook cheap.
        """
        ds = self.datasets()
        rng = np.random.default_rng(self.seed)
        probe = {
            "forget": ds["forget"],
            "retain": ds["retain"].subset(np.sort(rng.permutation(len(ds["retain"]))[:max_examples])),
            "test": ds["test"].subset(np.sort(rng.permutation(len(ds["test"]))[:max_examples])),
        }
        dev = resolve_device(self.device)
        rows: list[dict[str, Any]] = []

        def measure(model: nn.Module, epoch: int, phase: str) -> None:
            outs, _ = read_diverged(
                evaluate_splits(model, probe, self.task, dev, keep_logits=True), self.task.num_classes
            )  # NaN is wrong, not class 0
            for split, o in outs.items():
                rows.append({"step": len(rows) // len(probe), "epoch": epoch, "phase": phase, "split": split, "error": 1.0 - o.accuracy})

        measure(self.original, -1, "start")
        self._unlearn(ds, method, config, on_epoch=measure)
        for r in rows:
            recorder.add(
                scenario=scenario,
                method=method,
                seed=self.seed,
                split=r["split"],
                metric="error",
                value=r["error"],
                step=r["step"],
                phase=r["phase"],
                epoch=r["epoch"],
            )
        return pd.DataFrame(rows)


def curve_frame(metrics: pd.DataFrame) -> pd.DataFrame:
    """Curve rows of a saved ``metrics.csv`` (those with a ``step``) as a tidy frame: scenario, method,
    seed, split, step, phase, epoch, error (what :meth:`ClassifierExperiment.record_curves` wrote)."""
    sel = metrics[metrics.step.notna() & (metrics.metric == "error")]
    if sel.empty:
        raise ValueError("no curve rows in these metrics (did the run call record_curves?)")
    out = sel[["scenario", "method", "seed", "split", "step", "phase", "epoch", "value"]].rename(columns={"value": "error"})
    return out.astype({"step": int, "epoch": int}).reset_index(drop=True)


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Rows of end-of-run values, without per-step curve rows (tables average these)."""
    return metrics[metrics.step.isna()]
