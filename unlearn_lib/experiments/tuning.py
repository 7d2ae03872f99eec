"""Equal, validation-tuned budgets: every method picks its main knob from the same number of candidates.

A comparison of unlearning methods is only fair when each had the same chance to be tuned. Here every
method gets the same number of configurations (its main knob — the learning rate for every
optimizer-based method, the noise or selection scale for Fisher and SSD — times each factor), each run
on the same split(s) (a notebook chooses which: 02 takes two seeds' splits that carry a signal), and the pick is made on training and validation data only, never on
test data or on the retrained model:

* **class forgetting**: a model that never saw the class cannot predict it, so validation examples of
  the forgotten class should read accuracy 0, and the other classes' validation accuracy should not
  fall below the original's: score = acc(val, forgotten class) + max(0, original acc(val, others) - acc(val, others)).
* **selective / random forgetting**: a retrained model treats the forget set like unseen data, so its
  forget accuracy sits near the validation accuracy, which unlearning should not lower: score =
  |acc(forget) - acc(val)| + max(0, original acc(val) - acc(val)).
* **mislabelled forgetting** (a split of kind ``mislabelled``): the forget set's labels are wrong, so a
  model that never saw them predicts each one only as often as it confuses an unseen example into one
  particular other class, about (1 - acc(val)) / (k - 1) for k classes; the random objective above would
  instead reward *keeping* the wrong labels (pushing their accuracy up to acc(val)), and picked the
  identity for every method in notebook 02: score = |acc(forget) - (1 - acc(val)) / (k - 1)| +
  max(0, original acc(val) - acc(val)). Only the wrong labels the request names are used, not the true ones.
* **memorisation-graded forgetting** (a split of kind ``memorisation`` whose metadata carry
  ``unseen_accuracy``): a memorised example is right only because it was trained on, so a model that
  never saw it gets it right far less often than a validation example, and the random objective above
  (forget accuracy up at acc(val)) is met by barely moving. Its target is instead the estimator's own
  P(correct | not trained on), averaged over the forget set (:func:`~.memorisation.memorisation_split`
  records it from the half-set models that scored memorisation: no retrained model, no test data):
  score = |acc(forget) - unseen_accuracy| + max(0, original acc(val) - acc(val)). Half-set models saw
  half the data, so the target sits somewhat below what a full retrain reaches on the same examples.

Lower is better. The search's seconds and optimizer steps are recorded, and a pick on the grid's edge
is flagged (the grid should then be widened).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import evaluate_splits
from ..results import ResultsRecorder
from ..strategies import get_strategy, make_config
from ..utils import progress, resolve_device

__all__ = ["TUNING_FACTORS", "TuningResult", "tune_methods", "tuning_knob", "tuning_table", "validation_score"]

#: The default candidates: the method's own setting and a factor of three either side.
TUNING_FACTORS = (1 / 3, 1.0, 3.0)


def tuning_knob(method: str) -> str | None:
    """The one hyper-parameter the study tunes for ``method``: its config's ``TUNED`` field, else ``lr``
    where it has one; None for a method with nothing to tune (``retrain`` is the original's recipe)."""
    cls = get_strategy(method).Config
    names = {f.name for f in dataclasses.fields(cls)}
    knob = getattr(cls, "TUNED", None) or ("lr" if "lr" in names else None)
    if knob is not None and knob not in names:
        raise ValueError(f"{cls.__name__}.TUNED names {knob!r}, which is not one of its fields {sorted(names)}")
    return knob


def validation_score(
    outs: Mapping[str, Any],
    original: Mapping[str, Any],
    forget_class: int | None,
    *,
    mislabelled_classes: int | None = None,
    unseen_accuracy: float | None = None,
) -> dict[str, float]:
    """The pick's score (lower is better) and its parts, from per-example outputs on ``forget`` and ``val``.

    ``outs`` / ``original``: :class:`~unlearn_lib.metrics.ModelOutputs` of the candidate and of the
    original model per split. ``mislabelled_classes``: the number of classes when the forget set is
    mislabelled (its accuracy is then read against the wrong labels, whose unseen rate is set by the
    validation error), else None. ``unseen_accuracy``: the forget set's accuracy expected of a model that
    never saw it, where the request knows it (a memorisation-graded split), else None. No test example
    and no retrained model enters it.
    """

    def acc(o: Any, mask: np.ndarray | None = None) -> float:
        c = np.asarray(o.correct, dtype=np.float64)
        c = c if mask is None else c[mask]
        return float(c.mean()) if len(c) else float("nan")

    if forget_class is not None:
        in_class = np.asarray(outs["val"].targets) == forget_class
        if not in_class.any() or in_class.all():
            raise ValueError(f"the validation split needs examples of class {forget_class} and of other classes to tune class forgetting")
        forgotten, others = acc(outs["val"], in_class), acc(outs["val"], ~in_class)
        orig_others = acc(original["val"], ~in_class)
        return {"score": forgotten + max(0.0, orig_others - others), "val_forgotten_class": forgotten, "val_other_classes": others}
    if mislabelled_classes is not None and unseen_accuracy is not None:
        raise ValueError("give mislabelled_classes or unseen_accuracy, not both: a forget set has one unseen rate")
    forget, val = acc(outs["forget"]), acc(outs["val"])
    if mislabelled_classes is not None:
        if mislabelled_classes < 2:
            raise ValueError(f"a mislabelled forget set needs at least 2 classes, got {mislabelled_classes}")
        target = (1.0 - val) / (mislabelled_classes - 1)
    elif unseen_accuracy is not None:
        if not 0.0 <= unseen_accuracy <= 1.0:
            raise ValueError(f"unseen_accuracy must be an accuracy in [0, 1], got {unseen_accuracy!r}")
        target = float(unseen_accuracy)
    else:
        target = val
    return {"score": abs(forget - target) + max(0.0, acc(original["val"]) - val), "forget": forget, "val": val}


@dataclass
class TuningResult:
    """Each method's picked hyper-parameters (as ``hparams`` overrides) and one row per candidate."""

    picks: dict[str, dict[str, Any]]
    candidates: pd.DataFrame


def tune_methods(
    exp: Any,
    methods: Sequence[str],
    recorder: ResultsRecorder | None,
    scenario: str,
    *,
    hparams: Mapping[str, Mapping[str, Any]] | None = None,
    factors: Sequence[float] = TUNING_FACTORS,
    max_steps: int | None = None,
    budget: float | None = None,
) -> TuningResult:
    """Run ``len(factors)`` candidates of every tunable method on ``exp``'s split; pick each on validation.

    ``exp`` is a :class:`~unlearn_lib.experiments.ClassifierExperiment`, or several (one per seed's
    split: a pick then minimises the mean score over them, so one seed's quirk does not choose).
    Candidate i sets the method's knob (:func:`tuning_knob`) to its configured value (``hparams`` over
    the paper default) times ``factors[i]``. ``max_steps`` tunes at an optimizer-step budget, the one
    the pick will run at (``budget``: that budget as a fraction of retrain's steps, recorded in the
    rows' ``budget`` column so the rows of several budgets stay apart). Rows go to ``recorder`` under scenario ``tuning:<scenario>`` (``group`` names
    the candidate, ``tuning_lr`` holds the lr where the knob is one); methods with no knob keep ``hparams``.

    Raises:
        ValueError: no factors, a factor that is not positive and finite, repeated factors, an empty or
            repeated list of experiments, or a bad method or hyper-parameter (checked before anything runs).
    """
    factors = [float(f) for f in factors]
    if not factors or any(not np.isfinite(f) or f <= 0 for f in factors) or len(set(factors)) != len(factors):
        raise ValueError(f"tuning factors must be distinct positive numbers, got {factors}")
    exps = list(exp) if isinstance(exp, (list, tuple)) else [exp]
    if not exps or len({id(e) for e in exps}) != len(exps):
        raise ValueError(f"exp must be an experiment or a non-empty list of distinct experiments, got {len(exps)} with repeats")
    hparams = exps[0].check(list(methods), dict(hparams or {}))
    if max_steps is not None and not all(getattr(e, "budgeted", False) for e in exps):
        raise ValueError("max_steps: these experiments run methods on their own schedules only")
    splits = []
    for e in exps:
        ds = e.datasets()
        device = resolve_device(e.device)
        held = {"forget": ds["forget"], "val": ds["val"]}
        # The class objective only where the whole class goes: a selective split names its class too, but
        # keeps the class's other examples, so there the example objective applies.
        forget_class = e.split.forget_class if e.split.kind == "class" else None
        target = {"mislabelled_classes": int(e.task.num_classes)} if e.split.kind == "mislabelled" else {}
        if e.split.kind == "memorisation" and "unseen_accuracy" in e.split.meta:
            target = {"unseen_accuracy": float(e.split.meta["unseen_accuracy"])}
        splits.append((e, ds, held, evaluate_splits(e.original, held, e.task, device), forget_class, target, device))
    cap = {} if max_steps is None else {"max_steps": max_steps}
    picks: dict[str, dict[str, Any]] = {}
    rows = []
    for method in progress(list(methods), desc=f"{scenario}: tuning", leave=True):
        base = dict(hparams.get(method) or {})
        knob = tuning_knob(method)
        if knob is None:
            picks[method] = base
            continue
        start = getattr(make_config(method, base), knob)
        for i, f in enumerate(factors):
            value = start * f
            cfg = {**base, knob: value}
            per_split = []
            for e, ds, held, original, forget_class, target, device in splits:
                res = e._unlearn(ds, method, cfg, **cap)
                parts = validation_score(evaluate_splits(res.model, held, e.task, device), original, forget_class, **target)
                steps = getattr(res, "steps", None)
                per_split.append((parts, res.seconds, steps))
                if recorder is not None:
                    values = {("val", "tuning_score"): parts["score"], ("all", "seconds"): res.seconds, ("all", "tuning_factor"): f}
                    values.update({("val", k): v for k, v in parts.items() if k != "score"})
                    if steps is not None:
                        values[("all", "steps")] = float(steps)
                    extra: dict[str, Any] = {"tuning_lr": value} if knob == "lr" else {}
                    if max_steps is not None:
                        values[("all", "max_steps")] = float(max_steps)
                    if budget is not None:
                        extra["budget"] = float(budget)
                    recorder.add_many(
                        scenario=f"tuning:{scenario}", method=method, seed=e.seed, values=values, group=f"{knob}={value:.3g}", **extra
                    )
            steps_all = [st for _, _, st in per_split]
            rows.append(
                {
                    "method": method,
                    "candidate": i,
                    "knob": knob,
                    "factor": f,
                    "value": value,
                    **{k: float(np.mean([p[k] for p, _, _ in per_split])) for k in per_split[0][0]},
                    "seconds": float(sum(sec for _, sec, _ in per_split)),
                    "steps": None if any(st is None for st in steps_all) else int(sum(steps_all)),
                    "seeds": len(per_split),
                    "picked": False,
                }
            )
        cand = [r for r in rows if r["method"] == method]
        best = min(cand, key=lambda r: (r["score"], abs(np.log(r["factor"]))))  # ties: the configured setting
        best["picked"] = True
        picks[method] = {**base, knob: best["value"]}
    return TuningResult(picks, pd.DataFrame(rows))


def tuning_table(candidates: pd.DataFrame, reference_seconds: float | None = None) -> pd.DataFrame:
    """Per method: the picked knob and factor, whether it sits on the grid's edge, and the search's cost
    (seconds, optimizer steps, and as a multiple of one retraining when ``reference_seconds`` is given)."""
    if candidates.empty:
        raise ValueError("no tuning candidates: every method lacked a knob to tune")
    out = []
    lo, hi = candidates.factor.min(), candidates.factor.max()
    for method, c in candidates.groupby("method", sort=False):
        pick = c[c.picked].iloc[0]
        row = {
            "method": method,
            "knob": pick.knob,
            "picked": f"{pick.value:.3g}",
            "factor": f"{pick.factor:.3g}",
            "on edge": bool(pick.factor in (lo, hi)),
            "val score": round(float(pick.score), 3),
            "candidates": len(c),
            "search s": round(float(c.seconds.sum()), 1),
            "search steps": int(c.steps.sum()) if c.steps.notna().all() else None,
        }
        if reference_seconds:
            row["search / retrain"] = round(float(c.seconds.sum()) / reference_seconds, 2)
        out.append(row)
    return pd.DataFrame(out).set_index("method")
