"""Equal optimizer-step budgets in study 2: every tuned method runs the same number of steps on one request.

Why: the main analyses give every method the same tuning *candidates* and its configured epochs, but not
the same *cost*: SCRUB's max and min passes take more optimizer steps than Random Label's epochs, so a
ranking there partly ranks how long each method ran. Here each method of ``tuning_methods`` runs at
fractions of retrain's optimizer steps (:mod:`unlearn_lib.experiments.budgets`, as notebook 02 does),
with its learning rate tuned again at every budget on validation data only, every method from the same
candidates (the plan's ``budget_lr_factors``, by default the main grid's). The request is one that
carries a forgetting signal by design (by default the mislabelled patches: the original memorised their
wrong labels, retraining never learns them), because on a request without signal every budget is
indistinguishable from doing nothing.

Rows: ``budget:<request>`` (every seed's retrain and budgeted methods, with a ``budget`` column) and
``tuning:budget:<request>`` (the candidates, on ``tuning_seeds``). The untouched original and retrain of
the request itself come from its own analysis (``size`` or ``difficulty``), which must run first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...data.splits import make_forget_split
from ...experiments.budgets import best_within, budget_steps, frontier, frontier_figure
from ...experiments.forget_signal import forgetting_signal
from ...experiments.tuning import tune_methods
from ...results import ResultsRecorder
from ..classifiers import ClassifierExperiment
from .analyses import _check_seeds, difficulty_forget_split, mislabelled_request
from .study import MedicalStudy

#: The headline budget: the method closest to retrain within this share of retrain's steps (as in 02).
HEADLINE_FRACTION = 0.10
#: The prefix of every budget scenario (``budget:<request>``).
PREFIX = "budget:"
#: The label of every budget row on a request without a forgetting signal: nothing to rank.
NOT_RANKED = "not ranked: the request is uninformative (original ≈ retrain on the forget set)"


def request_experiment(
    study: MedicalStudy, request: str, seed: int, *, difficulty_n_forget: int, difficulty_quantile: float
) -> ClassifierExperiment:
    """The experiment of ``request`` at ``seed``: the very split (and, for a mislabelled request, the very
    original on flipped labels) its own analysis ran, drawn the same way."""
    analysis, level = request.split(":", 1)
    if analysis == "mislabelled":
        relabelled, mis = mislabelled_request(study, float(level), seed)
        return relabelled.experiment(mis.split, seed)
    if analysis == "size":
        split = make_forget_split(study.labels, "random", fraction=float(level), seed=seed, val_fraction=study.val_fraction)
    else:
        losses = study.training_losses(seed)
        split = difficulty_forget_split(
            study.labels, losses, level, difficulty_n_forget, quantile=difficulty_quantile, seed=seed, val_fraction=study.val_fraction
        )
    return study.experiment(split, seed)


def check_budgets(fractions: Sequence[float], methods: Sequence[str]) -> list[float]:
    """Budget fractions in (0, 1], distinct, and at least one method to hold to them."""
    fractions = list(fractions)
    if not fractions or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1 for f in fractions):
        raise ValueError(f"budget_fractions must be a non-empty list of shares of retrain's steps in (0, 1], got {fractions!r}")
    if len(set(fractions)) != len(fractions):
        raise ValueError(f"budget_fractions must be distinct, got {fractions!r}")
    if not [m for m in methods if m != "retrain"]:
        raise ValueError("the budget analysis needs at least one tuned method other than retrain (tuning_methods)")
    return [float(f) for f in fractions]


def run_budgets(
    study: MedicalStudy,
    request: str,
    fractions: Sequence[float],
    methods: Sequence[str],
    seeds: Sequence[int],
    recorder: ResultsRecorder,
    *,
    tuning_seeds: Sequence[int],
    lr_factors: Sequence[float],
    difficulty_n_forget: int,
    difficulty_quantile: float,
) -> dict[float, int]:
    """Every method of ``methods`` at each budget (a fraction of retrain's optimizer steps) on ``request``.

    Retrain's steps are the median over ``seeds`` of the cached retrain of the request (the original's
    recipe). At each budget every method's learning rate is picked from its configured rate times each of
    ``lr_factors`` on ``tuning_seeds``' splits (validation only, :func:`~unlearn_lib.experiments.tuning.tune_methods`);
    the picks then run on every seed, beside retrain, under scenario ``budget:<request>``.

    Returns:
        ``{fraction: optimizer steps}`` of the budgets that ran.
    """
    fractions = check_budgets(fractions, methods)
    methods = [m for m in methods if m != "retrain"]
    seeds = _check_seeds(seeds)
    kw = {"difficulty_n_forget": difficulty_n_forget, "difficulty_quantile": difficulty_quantile}
    exps = {s: request_experiment(study, request, s, **kw) for s in dict.fromkeys([*seeds, *_check_seeds(tuning_seeds)])}
    scenario = f"{PREFIX}{request}"
    steps = []
    for s in seeds:
        ref = exps[s].unlearn_method("retrain", None, recorder, scenario)
        if ref.steps is None:
            raise ValueError(
                f"retrain of {request} at seed {s} has no recorded optimizer steps (a cache entry from an older version): clear it"
            )
        steps.append(int(ref.steps))
    budgets = budget_steps(int(np.median(steps)), fractions)
    centres = {m: study._hparams_for(m) for m in methods}
    for fraction, max_steps in budgets.items():
        picks = tune_methods(
            [exps[s] for s in tuning_seeds],
            methods,
            recorder,
            scenario,
            hparams=centres,
            factors=lr_factors,
            max_steps=max_steps,
            budget=fraction,
        )
        for s in seeds:
            exps[s].run(
                ["retrain", *methods], recorder, scenario, hparams=picks.picks, include_original=False, max_steps=max_steps, budget=fraction
            )
    return budgets


def _requests(df: pd.DataFrame) -> list[str]:
    scenarios = df.scenario.astype(str)
    found = list(dict.fromkeys(s[len(PREFIX) :] for s in scenarios[scenarios.str.startswith(PREFIX)]))
    if not found:
        raise ValueError("no budget rows in these metrics: run the budget analysis first")
    return found


def budget_runs(df: pd.DataFrame, request: str) -> pd.DataFrame:
    """One row per budgeted run of ``request`` (index budget, method, seed): the optimizer ``steps`` it took, its
    ``max_steps`` and ``under_budget`` (1: its algorithm stopped sooner), so a reader can check equal cost."""
    rows = df[(df.scenario == f"{PREFIX}{request}") & df.metric.isin(["steps", "max_steps", "under_budget"])]
    runs = rows.pivot_table(index=["budget", "method", "seed"], columns="metric", values="value")
    return runs.dropna(subset=["max_steps"])  # retrain repeats the recipe: it has no budget


def _informative(df: pd.DataFrame, request: str) -> bool:
    """Whether ``request`` itself carries a forgetting signal over the seeds (its own analysis's rows)."""
    return bool(forgetting_signal(df, [request]).loc[request, "informative"])


def budget_frontier(df: pd.DataFrame) -> pd.DataFrame:
    """Per budgeted request: each method's gap to retrain per budget (mean, 95 % CI over seeds), its steps and
    seconds, and whether it beats doing nothing (the untouched original's own gap, paired over seeds). On a
    request without a forgetting signal every row is labelled :data:`NOT_RANKED`: the costs stand, the ranking does not."""
    tables = []
    for r in _requests(df):
        t = frontier(df, f"{PREFIX}{r}", original=r).assign(request=r, informative=_informative(df, r))
        if not t.informative.iloc[0]:
            t["label"] = t.label.where(t.method == "original", NOT_RANKED)
        tables.append(t)
    out = pd.concat(tables, ignore_index=True)
    return out[["request", "informative", *[c for c in out.columns if c not in ("request", "informative")]]]


def budget_headline(df: pd.DataFrame, fraction: float = HEADLINE_FRACTION) -> pd.DataFrame:
    """Per budgeted request: the method closest to retrain within ``fraction`` of retrain's steps among runs
    that beat doing nothing, and whether its lead over the runner-up survives the seeds ("clear") or not
    ("tied"); "no method beats doing nothing" when none acts, and :data:`NOT_RANKED` on a request without signal."""
    rows = {
        r: best_within(df, f"{PREFIX}{r}", fraction, original=r) if _informative(df, r) else {"method": "—", "verdict": NOT_RANKED}
        for r in _requests(df)
    }
    return pd.DataFrame(rows).T.rename_axis("request")


def plot_budget_frontier(df: pd.DataFrame) -> Figure:
    """The first budgeted request's frontier: gap to retrain against optimizer steps, one line per method (its
    title says so when the request has no signal, so the figure is never read as a ranking)."""
    table = budget_frontier(df)
    rows = table[table.request == table.request.iloc[0]]
    title = f"{rows.request.iloc[0]}: gap to retrain at equal step budgets"
    if not rows.informative.iloc[0]:
        title += " (uninformative: not ranked)"
    return frontier_figure(rows.drop(columns=["request", "informative"]), title=title)
