"""Notebook 03's mechanics tuned at an equal budget, on validation subjects.

Why: the mechanics' reference rate (AdamW, lr 1e-4) was set for the paper's MRBrainS18 model; on
another model it may leave the model almost untouched (Random Encoder and LearnNoise moved the forgotten
subject by 3-5 %) or wreck it, and a ranking of untuned methods ranks their defaults. Each mechanic
picks its learning rate from the same candidates (its configured rate times each factor), every
candidate at the same epochs, from the first training seed's original, per forget request.

The pick reads no label of the forgotten subjects. A candidate is scored by what it does to the
model's *predictions*, measured against the original's, and by the truth of **validation subjects**
(never trained on, never reported as held-out):

* ``forget moved``: 1 − Dice(candidate's labels, original's labels) on the forget subjects: how far
  the candidate moved the forgotten subjects' segmentation (no truth needed);
* ``validation moved``: the same on the validation subjects: how far it moved subjects it should not
  treat differently;
* ``validation kept``: the candidate's validation Dice (against the truth) as a share of the original's.

Score (lower is better): ``validation moved − forget moved`` when ``validation kept`` ≥ ``keep`` (a
method that forgets the subject, not the task), else ``2 + (keep − validation kept)`` (any candidate
that keeps the task beats every one that does not, and among those the least damaging wins). Ties go
to the configured rate. A pick on the grid's edge is flagged (widen the grid), and whether a pick
acted at all is judged on the final results (:func:`.tables.acted_labels`, "tuned to identity").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...data.datasets import ArrayDataset
from ...experiments.tuning import TuningResult, tuning_knob
from ...metrics.segmentation import dice_per_class
from ...results import ResultsRecorder
from ...strategies import make_config, unlearn
from ...utils import progress

__all__ = [
    "SEG_TUNING_FACTORS",
    "TUNING",
    "check_settings",
    "seg_tuning_score",
    "seg_tuning_table",
    "tune_mechanics",
]

#: At least five candidates: five, a factor of about three apart, around the configured rate.
SEG_TUNING_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)
#: The scenario of the candidates' rows in ``metrics.parquet``.
TUNING = "tuning"


def _labels(exp: Any, model: nn.Module, ds: ArrayDataset) -> list[torch.Tensor]:
    """Each subject's predicted label volume, as the evaluation predicts it (``exp.logits``)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = [exp.task.predictions(exp.logits(model, ds.x[i : i + 1].to(exp.dev))).cpu() for i in range(len(ds))]
    model.train(was)
    return out


def _dice(a: list[torch.Tensor], b: Sequence[torch.Tensor], num_classes: int) -> float:
    """Mean over subjects of the mean foreground Dice of label maps ``a`` against ``b`` (classes absent from
    ``b`` left out)."""
    per = [float(torch.nanmean(dice_per_class(x, y.reshape(x.shape), num_classes))) for x, y in zip(a, b, strict=True)]
    return float(np.nanmean(per)) if per else float("nan")


def seg_tuning_score(forget_moved: float, val_moved: float, val_kept: float, keep: float) -> float:
    """The pick's score (lower is better): see the module docstring."""
    if not np.isfinite(val_kept) or val_kept < keep:
        return 2.0 + (keep - (val_kept if np.isfinite(val_kept) else 0.0))
    return float(val_moved - forget_moved)


def check_settings(factors: Any, epochs: Any, keep: Any) -> list[float]:
    """``tune_factors``, ``tune_epochs`` and ``tune_keep`` checked in one place (the notebook's parameters
    and :func:`tune_mechanics` both call it); returns the factors as floats."""
    if (
        isinstance(factors, str)
        or not isinstance(factors, (list, tuple))
        or len(factors) < 2
        or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x < float("inf") for x in factors)
        or len(set(factors)) != len(factors)
    ):
        raise ValueError(
            f"tune_factors must be a list of at least two distinct positive numbers (multiples of each method's configured lr), got {factors!r}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"tune_epochs must be an int >= 1, got {epochs!r}")
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"tune_keep must be a share of the original's validation Dice in (0, 1], got {keep!r}")
    return [float(x) for x in factors]


def _check(methods: Sequence[str], factors: Sequence[float], epochs: int, keep: float, exp: Any) -> list[float]:
    if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
        raise ValueError(f"tune_methods must be a list of method names, got {methods!r}")
    f = check_settings(factors, epochs, keep)
    if exp.original is None:
        raise ValueError("train_baseline() (or adopt_original) must run before tuning")
    if "validation" not in exp.splits:
        raise ValueError("tuning reads validation subjects: give the experiment validation_subjects (never trained on, never reported)")
    for m in methods:
        if tuning_knob(m) != "lr":
            raise ValueError(f"tune_methods: {m!r} has no learning rate to tune")
    return f


def _order(score: float, factor: float) -> tuple[float, float]:
    """The pick: the lowest score, ties to the factor nearest the configured rate (one rule for the run and
    for the table read back from its rows)."""
    return float(score), abs(float(np.log(factor)))


def tune_mechanics(
    exp: Any,
    methods: Sequence[str],
    hparams: Mapping[str, Mapping[str, Any]],
    recorder: ResultsRecorder | None,
    *,
    epochs: int,
    factors: Sequence[float] = SEG_TUNING_FACTORS,
    keep: float = 0.9,
) -> TuningResult:
    """Each of ``methods``' learning rate, picked from ``len(factors)`` candidates at ``epochs`` unlearning
    epochs on ``exp`` (a :class:`~.experiment.SegmentationExperiment` with validation subjects).

    Returns the picks as ``hparams`` (the configured epochs kept: the pick runs the full schedule) and
    one row per candidate; ``recorder`` gets the rows under scenario ``tuning`` (``group``: the request,
    ``tuning_lr``: the candidate's rate, ``tuning_epochs``: its epochs). Methods not in ``methods`` keep
    ``hparams``. Bad input raises ``ValueError`` before any candidate runs."""
    factors = _check(methods, factors, epochs, keep, exp)
    exp.check(list(dict.fromkeys([*hparams, *methods])), dict(hparams))  # every config valid before any candidate
    k = exp.task.num_classes
    forget, val = exp.splits["forget"], exp.splits["validation"]
    ref_forget, ref_val = _labels(exp, exp.original, forget), _labels(exp, exp.original, val)
    ref_val_dice = _dice(ref_val, val.y, k)
    picks: dict[str, dict[str, Any]] = {m: dict(c or {}) for m, c in hparams.items()}
    rows = []
    for method in progress(list(methods), desc=f"tuning {exp.group or ''}".strip(), leave=False):
        base = dict(hparams.get(method) or {})
        start = float(make_config(method, base).lr)
        for i, f in enumerate(factors):
            lr = start * f
            res = unlearn(
                method,
                exp.original,
                retain=exp.unlearn_sets["retain"],
                forget=exp.unlearn_sets["forget"],
                val=val,
                task=exp.task,
                config={**base, "epochs": epochs, "lr": lr},
                model_factory=exp.factory,
                device=exp.dev,
                seed=exp.seed,
                recipe=exp.recipe,
            )
            cand_forget, cand_val = _labels(exp, res.model, forget), _labels(exp, res.model, val)
            moved_f = 1.0 - _dice(cand_forget, ref_forget, k)
            moved_v = 1.0 - _dice(cand_val, ref_val, k)
            kept = _dice(cand_val, val.y, k) / ref_val_dice if ref_val_dice > 0 else float("nan")
            score = seg_tuning_score(moved_f, moved_v, kept, keep)
            row = {
                "method": method,
                "candidate": i,
                "knob": "lr",
                "factor": f,
                "value": lr,
                "score": score,
                "forget moved": moved_f,
                "validation moved": moved_v,
                "validation kept": kept,
                "seconds": float(res.seconds),
                "steps": int(res.steps),
                "picked": False,
            }
            rows.append(row)
            if recorder is not None:
                values = {
                    ("validation", "tuning_score"): score,
                    ("forget", "moved"): moved_f,
                    ("validation", "moved"): moved_v,
                    ("validation", "dice_kept"): kept if np.isfinite(kept) else 0.0,
                    ("all", "tuning_factor"): f,
                    ("all", "tuning_keep"): float(keep),
                    ("all", "seconds"): float(res.seconds),
                    ("all", "steps"): float(res.steps),
                }
                extra = {"group": exp.group} if exp.group is not None else {}
                recorder.add_many(scenario=TUNING, method=method, seed=exp.seed, values=values, tuning_lr=lr, tuning_epochs=epochs, **extra)
        cand = [r for r in rows if r["method"] == method]
        best = min(cand, key=lambda r: _order(r["score"], r["factor"]))
        best["picked"] = True
        picks[method] = {**base, "lr": best["value"]}
    return TuningResult(picks, pd.DataFrame(rows))


def _candidates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per recorded candidate (request, method, seed, rate) with its score parts, cost and pick."""
    rows = df[df.scenario == TUNING]
    if rows.empty:
        return pd.DataFrame()
    group = rows.group if "group" in rows else pd.Series("all", index=rows.index)
    wide = rows.assign(group=group.fillna("all"), key=rows.split + ":" + rows.metric).pivot_table(
        index=["group", "method", "seed", "tuning_lr"], columns="key", values="value", aggfunc="first", sort=False
    )
    wide = wide.reset_index()
    wide["picked"] = False
    for _, ix in wide.groupby(["group", "method", "seed"], sort=False).groups.items():
        c = wide.loc[ix]
        best = min(ix, key=lambda i: _order(c.at[i, "validation:tuning_score"], c.at[i, "all:tuning_factor"]))
        wide.loc[best, "picked"] = True
    return wide


def seg_tuning_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per forget request and tuned mechanic (from saved rows): the picked rate and factor, whether it sits on
    the grid's edge, the pick's score parts, and the search's cost in seconds and optimizer steps."""
    cand = _candidates(df)
    if cand.empty:
        return pd.DataFrame()
    out = []
    for (group, method, seed), c in cand.groupby(["group", "method", "seed"], sort=False):
        pick = c[c.picked].iloc[0]
        lo, hi = c["all:tuning_factor"].min(), c["all:tuning_factor"].max()
        out.append(
            {
                "request": group,
                "method": method,
                "tuning seed": int(seed),
                "picked lr": f"{pick.tuning_lr:.3g}",
                "factor": f"{pick['all:tuning_factor']:.3g}",
                "on edge": bool(pick["all:tuning_factor"] in (lo, hi)),
                "forget moved": float(pick["forget:moved"]),
                "validation moved": float(pick["validation:moved"]),
                "validation kept": float(pick["validation:dice_kept"]),
                "keeps the task": bool(pick["validation:dice_kept"] >= pick["all:tuning_keep"]),
                "candidates": len(c),
                "search s": round(float(c["all:seconds"].sum()), 1),
                "search steps": int(c["all:steps"].sum()),
            }
        )
    return pd.DataFrame(out).set_index(["request", "method"])
