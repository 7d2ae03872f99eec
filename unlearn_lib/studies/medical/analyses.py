"""The analyses: each ``run_*`` function builds its forget splits and records rows under ``"<analysis>:<level>"``.

Every ``run_*`` function checks its parameters first with the ``_check_*`` helper beside it (the same
helpers :class:`~unlearn_lib.studies.medical.plan.MedicalPlan` calls before any training).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...data.medical import attribute_forget_split, indices_forget_split
from ...data.mislabel import MislabelledSplit, make_mislabelled_split
from ...data.splits import ForgetSplit, make_forget_split, stratified_partition
from ...experiments.mislabelled import record_true_label_accuracy
from ...experiments.tuning import TuningResult, tune_methods
from ...results import ResultsRecorder
from ...strategies import get_strategy, make_config
from ...utils import progress
from .study import MedicalStudy

#: The scenario prefix of every tuning search's rows (``tuning:mislabelled:<fraction>`` and the two below).
TUNING_PREFIX = "tuning:"
#: The scenario of every tuning config's rows (each config in its tuning_lr / tuning_epochs columns).
TUNING_GRID = f"{TUNING_PREFIX}grid"
#: The scenario of the retrain that times each seed and size of the tuning grid.
TUNING_REFERENCE = f"{TUNING_PREFIX}reference"


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


def run_forget_sizes(
    study: MedicalStudy,
    fractions: Sequence[float],
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    hparams_by_size: Mapping[float, Mapping[str, Mapping[str, Any]]] | None = None,
) -> None:
    """Forget-set size: random forget sets of each ``fraction`` of the training pool (all but validation), every method, every seed.

    ``hparams_by_size``: per fraction, the methods' hyper-parameters tuned at that size (from
    :func:`~unlearn_lib.studies.medical.tables.tuned_hparams_by_size`), so the size curve shows each
    method at its own best, not settings tuned at one size reused at another.
    """
    fractions = _check_fractions(fractions, "forget fractions")
    by_size = {round(float(f), 9): hp for f, hp in (hparams_by_size or {}).items()}
    missing = [f for f in fractions if by_size and round(f, 9) not in by_size]
    if missing:
        raise ValueError(f"hparams_by_size has no picks for forget fractions {missing} (it has {sorted(by_size)})")
    for seed in _check_seeds(seeds):
        for f in progress(fractions, desc=f"forget sizes, seed {seed}"):
            split = make_forget_split(study.labels, "random", fraction=f, seed=seed, val_fraction=study.val_fraction)
            study.run(split, seed, f"size:{f:g}", recorder, hparams=by_size.get(round(f, 9)))


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


def _check_mislabel(fraction: float) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 0.5:
        raise ValueError(f"mislabel_fraction must be a number in (0, 0.5], the share of training labels flipped, got {fraction!r}")
    return float(fraction)


def mislabelled_request(study: MedicalStudy, fraction: float, seed: int) -> tuple[MedicalStudy, MislabelledSplit]:
    """The mislabelled request of ``seed``: the study on flipped labels (its own original) and the split
    whose forget set is exactly the flipped samples (the same draw every time, so later analyses, such as
    the budgets, run on the very request this analysis ran)."""
    mis = make_mislabelled_split(
        study.labels, _check_mislabel(fraction), num_classes=study.num_classes, seed=seed, val_fraction=study.val_fraction
    )
    return study.relabelled(mis), mis


def run_mislabelled(
    study: MedicalStudy,
    fraction: float,
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    *,
    tuning_methods: Sequence[str] = (),
    tuning_seeds: Sequence[int] = (),
    lr_factors: Sequence[float] = (),
) -> TuningResult | None:
    """Mislabelled patches: ``fraction`` of the training labels flipped to another class before the
    original is trained (an annotation error found after the fact); the forget set is the flipped samples.

    Each seed trains its own original on the flipped labels, so the original memorises them and a
    retrain without them does not: a forgetting signal by construction. Besides the usual rows
    (``forget`` scored against the wrong labels), the forget set is scored against its *true* labels
    (split ``forget_true``): removing corrupted data should move that toward retrain's too (REM, arXiv 2505.17730).
    Rows: scenario ``mislabelled:<fraction>``.

    With ``tuning_methods``, those methods are tuned on this request itself first: each one's learning
    rate (its current setting times each of ``lr_factors``, at its own epochs) is picked on
    ``tuning_seeds``' mislabelled splits by the mislabelled validation objective
    (:func:`~unlearn_lib.experiments.tuning.validation_score`: the wrong labels at the unseen rate).
    Why: picks made on random forget sets aim forget accuracy at validation accuracy, which on flipped
    labels means keeping them, so several of them did nothing here. The candidates are recorded under
    ``tuning:mislabelled:<fraction>``, and every seed then runs the picks.

    Returns:
        The tuning's picks and candidates, or None without ``tuning_methods``.
    """
    fraction = _check_mislabel(fraction)
    scenario = f"mislabelled:{fraction:g}"
    seeds = _check_seeds(seeds)
    tuned = [m for m in tuning_methods if m != "retrain"]
    picks: TuningResult | None = None
    built: dict[int, tuple[MedicalStudy, MislabelledSplit]] = {}

    def request(seed: int) -> tuple[MedicalStudy, MislabelledSplit]:
        # A tuning seed that also runs the picks relabels its patches and loads its original once.
        if seed not in built:
            built[seed] = mislabelled_request(study, fraction, seed)
        return built[seed]

    if tuned:
        if not list(lr_factors):
            raise ValueError("lr_factors must name the candidates (factors of each method's rate) when tuning_methods is given")
        exps = []
        for s in _check_seeds(tuning_seeds):
            relabelled, mis = request(s)
            exps.append(relabelled.experiment(mis.split, s))
        centres = {m: study._hparams_for(m) for m in tuned}
        picks = tune_methods(exps, tuned, recorder, scenario, hparams=centres, factors=lr_factors)
    for seed in seeds:
        relabelled, mis = request(seed)
        per_method = relabelled.run(mis.split, seed, scenario, recorder, hparams=picks.picks if picks else None)
        exp = relabelled.experiment(mis.split, seed)
        record_true_label_accuracy(exp, mis.true_labels, recorder, scenario, [m for m in per_method if m != "original"])
    return picks


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
    fraction: float | Sequence[float] = 0.1,
) -> None:
    """Tuning: each method's lr x epochs grid on a random forget set of each size, every config timed.

    The lr grid is ``factor * (the method's configured lr)``; the same grid (the same budget) is
    searched at every forget fraction in ``fraction`` (one number: one size). ``retrain`` runs once
    per seed and size as the time reference (scenario ``tuning:reference``); it needs no search (it is
    the original recipe). Every config's rows are scenario ``tuning:grid`` with its ``tuning_lr``,
    ``tuning_epochs`` and ``forget_fraction`` columns. The chosen config is picked later from the saved
    metrics by :func:`select_by_validation`, per method, seed and size.
    """
    fractions = _check_fractions([fraction] if isinstance(fraction, (int, float)) else fraction, "tuning fractions")
    methods = _check_tuning(study, methods, lr_factors, epochs, seeds, fractions[0])
    for seed in seeds:
        for f in fractions:
            split = make_forget_split(study.labels, "random", fraction=f, seed=seed, val_fraction=study.val_fraction)
            study.run(split, seed, TUNING_REFERENCE, recorder, methods=["retrain"], forget_fraction=f)
            for method in methods:
                base = study._hparams_for(method)
                base_lr = make_config(method, base).lr
                for factor in progress(lr_factors, desc=f"tuning {method} at {f:g}"):
                    for ep in epochs:
                        cfg = _grid_config(method, base, base_lr * factor, ep)
                        grid = {"tuning_lr": cfg["lr"], "tuning_epochs": ep, "forget_fraction": f}
                        study.run(split, seed, TUNING_GRID, recorder, methods=[method], hparams={method: cfg}, **grid)


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
