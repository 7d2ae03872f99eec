"""The study's claims beside what the metrics show, and the run's ``summary.md``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pandas as pd

from ...verdict import HOLDS, INCONCLUSIVE, NOT_REPRODUCED, Verdict, judge, judge_equivalence
from .budgets import HEADLINE_FRACTION, budget_frontier, budget_headline
from .curves import stop_table
from .stats import ALPHA, BIAS, EQUIVALENT, SEX_BIAS_HARM, check_margin, sex_bias_test
from .tables import (
    IDENTITY,
    UNINFORMATIVE,
    _ordered,
    analysis_rows,
    difficulty_bias_table,
    difficulty_table,
    forget_size_table,
    identity_labels,
    mislabelled_table,
    mislabelled_tuning_table,
    sex_table,
    signal_table,
    subject_table,
    tuning_edges,
    tuning_table,
    vs_retrain,
)


def summary_tables(df: pd.DataFrame, margin: float = 0.02) -> dict[str, pd.DataFrame]:
    """Every analysis's table that the metrics allow (missing analyses are left out); ``margin`` is the
    sex-bias equivalence margin (see :func:`~.stats.sex_bias_test`)."""
    check_margin(margin)  # the loop below skips tables that raise ValueError: a bad margin must not vanish
    makers = {
        "Forgetting signal per request (original − retrain on the forget set, paired over seeds)": signal_table,
        "The original at its epoch count (fixed, or picked by early stopping on validation)": stop_table,
        "Tuning cost (lr x epochs, picked on validation at each forget size)": tuning_table,
        "Tuning picks on the grid's edge": tuning_edges,
        "Forget-set size": forget_size_table,
        "Sex (per forgotten sex)": sex_table,
        f"Sex bias test (paired t over seeds, TOST at ±{margin:g})": partial(sex_bias_test, margin=margin),
        "Difficulty": difficulty_table,
        "Difficulty bias beyond the original's own asymmetry": difficulty_bias_table,
        "Mislabelled patches (forget = the flipped samples; true labels: what retraining recovers)": mislabelled_table,
        "Mislabelled patches: each method's own pick (lr tuned on the request, wrong labels at the unseen rate)": mislabelled_tuning_table,
        f"Equal step budgets: the method closest to retrain within {HEADLINE_FRACTION:.0%} of retrain's optimizer steps, among runs that"
        " beat doing nothing (verdict over seeds)": budget_headline,
        "Cost frontier at equal step budgets: gap to retrain per budget (fraction of retrain's steps; 0: the untouched original),"
        " mean and 95 % CI over seeds, each row against doing nothing": budget_frontier,
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
    """Per method and size: equivalent to retrain within ``tol`` on forget and retain accuracy (TOST over
    seeds, :func:`unlearn_lib.verdict.judge_equivalence`). A size where the original does not lead retrain
    on the forget set is uninformative, and a method that did not act there (tuned to identity) is named,
    not counted: its rows measure the original."""
    rows = analysis_rows(df, "size")
    labels = identity_labels(rows)
    f, r = vs_retrain(rows, "forget", "accuracy"), vs_retrain(rows, "retain", "accuracy")
    methods = _methods(f.method.unique())
    held: dict[str, list[str]] = {m: [] for m in methods}
    failed: dict[str, list[str]] = {m: [] for m in methods}
    idle: dict[str, list[str]] = {m: [] for m in methods}
    tested: dict[str, int] = dict.fromkeys(methods, 0)
    for (level, m), label in labels.items():
        if m not in held or label == UNINFORMATIVE:
            continue
        if label == IDENTITY:
            idle[m].append(level)
            continue
        tested[m] += 1
        verdicts = [
            judge_equivalence(d[(d.level == level) & (d.method == m)].sort_values("seed")["diff"].to_numpy(), 0.0, margin=tol).label
            for d in (f, r)
        ]
        if all(v == HOLDS for v in verdicts):
            held[m].append(level)
        elif NOT_REPRODUCED in verdicts:
            failed[m].append(level)
    measured = "; ".join(
        f"{m}: equivalent at {len(held[m])} of {tested[m]} informative size(s)"
        + (f", tuned to identity at {', '.join(idle[m])}" if idle[m] else "")
        for m in methods
    )
    # One verdict per method, by the project's rule: holds where it was equivalent at every informative size it
    # acted at; not reproduced where some size's CI excludes 0 without equivalence; not testable where it never acted.
    groups = {
        f"holds (within ±{tol} of retrain on forget and retain, TOST, at every informative size where it acted) for": [
            m for m in methods if tested[m] and len(held[m]) == tested[m]
        ],
        "not reproduced for": [m for m in methods if failed[m]],
        "inconclusive for": [m for m in methods if tested[m] and len(held[m]) < tested[m] and not failed[m]],
        "not testable (no informative size where it acted) for": [m for m in methods if not tested[m]],
    }
    return measured, "; ".join(f"{word} {', '.join(ms)}" for word, ms in groups.items() if ms)


def _claim_sex(df: pd.DataFrame, tol: float, margin: float = 0.02) -> tuple[str, str]:
    """The sex claim: "no bias" only where TOST shows equivalence within ``margin`` for every method; "bias" where the
    Holm-adjusted t-test finds one; otherwise inconclusive, with the effect these seeds could detect."""
    bias = sex_bias_test(df, margin=margin)
    own = bias[bias.harm == SEX_BIAS_HARM].set_index("method")
    n = int(own["n seeds"].min())
    width = f"±{own['margin'].iloc[0]:g}"
    measured = "; ".join(
        f"{m}: {r['mean diff']:+.3f} (holm p={r['holm p']:.2g}, tost p={r['tost p']:.2g}, MDE {r['MDE']:.3f})" for m, r in own.iterrows()
    )
    hits = [m for m, r in own.iterrows() if r["verdict"] == BIAS]
    equal = [m for m, r in own.iterrows() if r["verdict"].startswith(EQUIVALENT)]
    unclear = own[~own.index.isin(hits + equal)]
    open_ = f"inconclusive for {', '.join(unclear.index)} (MDE = " + ", ".join(f"{r['MDE']:.3f}" for _, r in unclear.iterrows())
    open_ += f" at {n} seeds vs margin {width})"
    if hits:
        verdict = f"bias detected for {', '.join(hits)} (paired t over {n} seeds, Holm-adjusted p < {ALPHA:g})"
        verdict += f"; {open_}" if len(unclear) else ""
    elif len(equal) == len(own) and equal:
        verdict = f"no bias: every method equivalent within {width} (TOST over {n} seeds, p < {ALPHA:g})"
    else:
        verdict = open_ + (f"; equivalent within {width}: {', '.join(equal)}" if equal else "")
    return f"{SEX_BIAS_HARM} on test, F forgotten minus M forgotten: " + measured, verdict


def _by_rule(verdicts: dict[str, Verdict]) -> str:
    """Methods grouped by their verdict under the project's one rule (:mod:`unlearn_lib.verdict`)."""
    groups = {label: [m for m, v in verdicts.items() if v.label == label] for label in (HOLDS, NOT_REPRODUCED, INCONCLUSIVE)}
    return "; ".join(f"{label} for {', '.join(ms)}" for label, ms in groups.items() if ms)


def _claim_generalisation(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    """Per method and seed, test accuracy lost from the smallest to the largest forget set, against
    retrain's own loss on the same seed: the claim holds for a method whose paired excess has a 95 % CI
    above zero."""
    rows = analysis_rows(df, "size")
    acc = rows[(rows.split == "test") & (rows.metric == "accuracy")].assign(f=lambda r: r.level.astype(float))
    lo, hi = acc.f.min(), acc.f.max()
    if lo == hi:
        raise ValueError("one forget size only: nothing to compare")
    per = acc.groupby(["method", "seed", "f"])["value"].mean().unstack("f")
    drop = (per[lo] - per[hi]).rename("drop")
    if "retrain" not in drop.index.get_level_values("method"):
        raise ValueError("the generalisation claim needs retrain's rows at both sizes")
    ref = drop.xs("retrain", level="method")
    methods = _methods(drop.index.get_level_values("method").unique())
    verdicts = {}
    for m in methods:
        mine = drop.xs(m, level="method")
        seeds = sorted(set(mine.index) & set(ref.index))
        verdicts[m] = judge(mine.loc[seeds].to_numpy(), ref.loc[seeds].to_numpy(), "greater")
    measured = f"test acc drop from {lo:g} to {hi:g} of training forgotten, beyond retrain's own ({float(ref.mean()):+.3f}): " + "; ".join(
        f"{m} {v.difference}" for m, v in verdicts.items()
    )
    return measured, _by_rule(verdicts)


def _claim_difficulty(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    """Per method and seed, |hard − easy| of forget accuracy minus retrain's, beyond the untouched original's
    own |asymmetry| on the same seed: the claim holds for a method whose paired excess has a 95 % CI above
    zero (the summary's difficulty table still shows the means and ``tol``)."""
    d = vs_retrain(analysis_rows(df, "difficulty"), "forget", "accuracy")
    per = d.groupby(["method", "seed", "level"])["diff"].mean().unstack("level")
    if not {"easy", "hard"} <= set(per.columns) or "original" not in per.index.get_level_values("method"):
        raise ValueError("the difficulty bias needs easy and hard forget sets with the original's rows")
    asym = (per["hard"] - per["easy"]).abs()
    own = asym.xs("original", level="method")
    methods = _methods(asym.index.get_level_values("method").unique())
    verdicts = {}
    for m in methods:
        mine = asym.xs(m, level="method")
        seeds = sorted(set(mine.index) & set(own.index))
        verdicts[m] = judge(mine.loc[seeds].to_numpy(), own.loc[seeds].to_numpy(), "greater")
    measured = f"|hard − easy| of forget acc − retrain, beyond the original's own ({float(own.mean()):.3f}): " + "; ".join(
        f"{m} {v.difference}" for m, v in verdicts.items()
    )
    return measured, _by_rule(verdicts)


def _claim_tuning(df: pd.DataFrame, tol: float) -> tuple[str, str]:
    t = tuning_table(df)
    measured = "; ".join(
        f"{m}: {int(r['configs'])} configs x {int(r['sizes'])} size(s) = {r['search / retrain']:.2f}x retrain per size,"
        f" {r['picks on edge']} picks on the grid's edge"
        for m, r in t.iterrows()
    )
    lo, hi = t["search / retrain"].min(), t["search / retrain"].max()
    edge = sum(int(str(v).split("/")[0]) for v in t["picks on edge"])
    picks = sum(int(str(v).split("/")[1]) for v in t["picks on edge"])
    verdict = f"an overhead of {lo:.2f}-{hi:.2f}x one retraining at each size on top of the chosen run"
    if edge:
        verdict += f"; {edge} of {picks} picks on the grid's edge, so a wider grid could cost more"
    return measured, verdict


SEX_CLAIM = "no bias against male or female samples"
#: Study 2's claims (arXiv 2407.07539, abstract) and the function that measures each here.
CLAIMS = {
    "unlearning performs well on the retain and forget sets": _claim_effective,
    SEX_CLAIM: _claim_sex,
    "generalisation suffers, more for larger forget sets": _claim_generalisation,
    "methods may be biased against easy or hard samples": _claim_difficulty,
    "hyper-parameter tuning adds computational overhead": _claim_tuning,
}


def claims_table(df: pd.DataFrame, tol: float = 0.05, margin: float = 0.02) -> pd.DataFrame:
    """Each claim of the study beside what these metrics show, with a verdict at tolerance ``tol``.

    Every number is computed from ``df``; claims whose analysis did not run are left out. ``tol`` is
    our threshold (an accuracy difference of 5 points by default), not the paper's; ``margin`` is the
    sex claim's equivalence margin (2 points by default): "no bias" needs equivalence within it.
    """
    check_margin(margin)  # the loop below skips claims that raise ValueError: a bad margin must not vanish
    rows = []
    measures = {**CLAIMS, SEX_CLAIM: partial(_claim_sex, margin=margin)}
    for claim, measure in measures.items():
        try:
            measured, verdict = measure(df, tol)
        except (ValueError, KeyError):
            continue
        rows.append({"study's claim": claim, "measured here": measured, "verdict": verdict})
    return pd.DataFrame(rows)


def summary_parts(df: pd.DataFrame, margin: float = 0.02) -> dict[str, pd.DataFrame]:
    """The parts of ``summary.md``: the claims table first (the study's headline), then one table per analysis.
    ``margin``: the sex-bias equivalence margin."""
    claims = claims_table(df, margin=margin)
    head = {"The study's claims against this run": claims} if not claims.empty else {}
    return {**head, **summary_tables(df, margin)}
