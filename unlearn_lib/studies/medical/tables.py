"""Reading the saved metrics back: each analysis's rows, its table, and the tuning picks (validation only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...experiments.budgets import diverged_label, diverged_seeds
from ...experiments.forget_signal import forgetting_signal
from ...report import mean_std_table
from ...verdict import HOLDS, judge
from .analyses import TUNING_GRID, TUNING_PREFIX, TUNING_REFERENCE, _grid_config
from .study import DEFAULT_METHODS, MedicalStudy

#: The columns that tell one tuning config from another.
GRID = ["tuning_lr", "tuning_epochs"]

_MAIN_COLUMNS = {
    ("forget", "accuracy"): "forget acc",
    ("retain", "accuracy"): "retain acc",
    ("test", "accuracy"): "test acc",
    ("forget", "mia"): "MIA",
    ("average", "gap_to_retrain"): "avg gap",
}


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


#: The analyses whose forget requests are compared with retraining (tuning's own rows are validation work).
REQUESTS = ("size", "sex", "difficulty", "mislabelled", "subject")

#: The subject requests pooled into one: each seed forgets its own patient, so a single subject has one
#: seed (never a signal), while "forget a patient", paired over seeds, is the request a clinic receives.
ONE_PATIENT = "subject:one patient per seed"


def signal_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every forget request of the run with its signal: original against retrain on the forget set,
    paired over seeds (:func:`~unlearn_lib.experiments.forget_signal.forgetting_signal`). A request
    without signal cannot rank methods. The subject requests are pooled into :data:`ONE_PATIENT`: each
    seed's original against its retrain without that seed's patient."""
    scenario = df.scenario.astype(str)
    keep = scenario.str.split(":", n=1).str[0].isin(REQUESTS)
    rows = df[keep].assign(scenario=scenario[keep].mask(scenario[keep].str.startswith("subject:"), ONE_PATIENT))
    methods = rows.groupby("scenario", sort=False).method.agg(set)
    scenarios = [sc for sc, ms in methods.items() if {"original", "retrain"} <= ms]
    if not scenarios:
        raise ValueError(f"no forget request with both original and retrain rows (analyses {', '.join(REQUESTS)})")
    return forgetting_signal(rows, scenarios)


#: A method that covers less than this share of the original's forget-accuracy lead over retrain has not
#: moved: its row measures the untouched original (typically a validation-picked rate too small to act).
IDENTITY_SHARE = 0.25
IDENTITY, UNINFORMATIVE, MOVED = "tuned to identity", "uninformative (original ≈ retrain)", "moved"
#: A mislabelled row whose wrong-label accuracy moved less than :data:`IDENTITY_SHARE` of the way to
#: retrain's while its true-label accuracy came closer to retrain's than the original's (paired over seeds).
TRUE_LABELS_ONLY = "moved the true labels only"


def identity_labels(rows: pd.DataFrame) -> pd.Series:
    """Per (level, method) of one analysis's rows: whether the method did anything on the forget set.

    ``uninformative`` where the original's forget accuracy does not lead retrain's (paired 95 % CI over
    seeds, :func:`unlearn_lib.verdict.judge`): nothing to forget, so nothing to rank; ``tuned to identity``
    where the method's mean forget accuracy moved less than :data:`IDENTITY_SHARE` of the way from the
    original's to retrain's; ``moved`` otherwise; ``diverged on k of n seeds`` (before all of these) where its
    model's outputs were not numbers on some seed. The original and retrain are not labelled."""
    acc = rows[(rows.split == "forget") & (rows.metric == "accuracy")]
    per = acc.groupby(["level", "method", "seed"])["value"].mean()
    out: dict[tuple[str, str], str] = {}
    for level in per.index.get_level_values("level").unique():
        at = per.xs(level, level="level")
        methods = set(at.index.get_level_values("method"))
        if not {"original", "retrain"} <= methods:
            continue
        orig, ret = at.xs("original", level="method"), at.xs("retrain", level="method")
        seeds = sorted(set(orig.index) & set(ret.index))
        lead = judge(orig.loc[seeds].to_numpy(), ret.loc[seeds].to_numpy(), "greater")
        for m in sorted(methods - {"original", "retrain"}):
            if lead.label != HOLDS:
                out[(level, m)] = UNINFORMATIVE
                continue
            mine = at.xs(m, level="method")
            common = sorted(set(mine.index) & set(orig.index))
            moved = float(np.mean(orig.loc[common].to_numpy() - mine.loc[common].to_numpy()))
            out[(level, m)] = IDENTITY if abs(moved) < IDENTITY_SHARE * lead.difference.mean else MOVED
    for key, (diverged, seeds) in diverged_seeds(rows, ["level", "method"]).items():  # said first, whatever else holds
        if key in out:
            out[key] = diverged_label(diverged, seeds)
    return pd.Series(out, dtype=object).rename_axis(["level", "method"]).rename("did it act?")


def forget_size_table(df: pd.DataFrame) -> pd.DataFrame:
    """Forget-set size: mean ± std over seeds of forget / retain / test accuracy, MIA and gap, per size,
    and whether each method acted at all (:func:`identity_labels`): a row "tuned to identity" measures
    the untouched original and is not a result about the method."""
    rows = analysis_rows(df, "size")
    rows = rows.assign(size=rows.level.astype(float))
    table = mean_std_table(rows, ["size", "method"], _MAIN_COLUMNS)
    labels = identity_labels(rows)
    sizes = {level: float(level) for level in rows.level.unique()}
    acted = {(sizes[level], m): label for (level, m), label in labels.items()}
    table["did it act?"] = [acted.get(ix, "—") for ix in table.index]
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


def difficulty_bias_table(df: pd.DataFrame, tol: float = 0.05) -> pd.DataFrame:
    """Difficulty bias normalised by what retraining itself does, and judged against doing nothing.

    Per method (and the untouched ``original``): forget accuracy minus retrain's on the easy and on the
    hard forget set, and the asymmetry ``hard - easy``. The original's asymmetry is what a method that
    changed nothing would show (easy samples stay at 100% for every model, hard ones do not), so a
    method is called biased only when its asymmetry exceeds the original's in size by more than ``tol``
    (``excess = |method asymmetry| - |original asymmetry|``). Means over seeds.
    """
    d = vs_retrain(analysis_rows(df, "difficulty"), "forget", "accuracy")
    mean = d.groupby(["method", "level"])["diff"].mean().unstack("level")
    if not {"easy", "hard"} <= set(mean.columns) or "original" not in mean.index:
        raise ValueError("the difficulty bias needs easy and hard forget sets with the original's rows")
    table = pd.DataFrame({"easy − retrain": mean["easy"], "hard − retrain": mean["hard"]})
    table["asymmetry (hard − easy)"] = table["hard − retrain"] - table["easy − retrain"]
    own = float(table.loc["original", "asymmetry (hard − easy)"])
    table["excess over original"] = table["asymmetry (hard − easy)"].abs() - abs(own)
    table["verdict"] = np.where(
        table.index == "original",
        "reference (does nothing)",
        np.where(table["excess over original"] > tol, "biased beyond the original", "within the original's asymmetry"),
    )
    return table.reindex([m for m in _ordered(table.index) if m in table.index])


#: The columns of the mislabelled request: the forget set scored against the wrong labels the original
#: learnt *and* against its true labels (``forget_true``, :mod:`unlearn_lib.experiments.mislabelled`).
_MISLABELLED_COLUMNS = {
    ("forget", "accuracy"): "forget acc (wrong labels)",
    ("forget_true", "accuracy"): "forget acc (true labels)",
    ("retain", "accuracy"): "retain acc",
    ("test", "accuracy"): "test acc",
    ("forget", "mia"): "MIA",
    ("average", "gap_to_retrain"): "avg gap",
}


def mislabelled_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mislabelled patches: mean ± std over seeds, whether each method acted (:func:`identity_labels`), and
    the verdict on what the request is for: does the method bring the flipped samples' *true-label*
    accuracy closer to retrain's than the untouched original is? (Paired over seeds: the original's
    distance to retrain minus the method's, judged by :func:`unlearn_lib.verdict.judge`.) A method that
    barely moved the wrong labels but for which that verdict holds did act: :data:`TRUE_LABELS_ONLY`."""
    rows = analysis_rows(df, "mislabelled")
    table = mean_std_table(rows, ["level", "method"], _MISLABELLED_COLUMNS)
    labels = identity_labels(rows)
    table["did it act?"] = [labels.get(ix, "—") for ix in table.index]
    true = rows[(rows.split == "forget_true") & (rows.metric == "accuracy")].pivot_table(
        index=["level", "seed"], columns="method", values="value"
    )
    verdicts = {}
    for level, at in true.groupby(level="level"):
        if not {"original", "retrain"} <= set(at.columns):
            continue
        far = (at["original"] - at["retrain"]).abs()
        for m in [c for c in at.columns if c not in ("original", "retrain")]:
            if labels.get((level, m)) == UNINFORMATIVE:  # nothing to forget: nothing to judge
                verdicts[(level, m)] = "not judged: the request is uninformative"
                continue
            pair = pd.concat([far, (at[m] - at["retrain"]).abs()], axis=1).dropna()
            v = judge(pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy(), "greater")
            verdicts[(level, m)] = f"{v.label} ({v.difference})"
            if v.label == HOLDS and labels.get((level, m)) == IDENTITY:
                # The wrong labels barely moved, yet the true ones came measurably closer to retrain: the row
                # is not the untouched original, so it is not called the identity.
                table.loc[(level, m), "did it act?"] = TRUE_LABELS_ONLY
    table["true labels closer to retrain than the original's"] = [verdicts.get(ix, "—") for ix in table.index]
    order = _ordered(rows.method.unique())
    index = sorted(table.index, key=lambda t: (float(t[0]), order.index(t[1])))
    return table.reindex(pd.MultiIndex.from_tuples(index, names=["flipped fraction", "method"]))


def mislabelled_tuning_table(df: pd.DataFrame) -> pd.DataFrame:
    """The mislabelled request's own picks (:func:`~.analyses.run_mislabelled` with tuning methods): per
    flipped fraction and method, the picked rate and factor, whether it sits on the grid's edge, its
    validation score and wrong-label forget accuracy (mean over the tuning seeds), from the saved rows of
    ``tuning:mislabelled:<fraction>``. The pick rule is :func:`~unlearn_lib.experiments.tuning.tune_methods`'s:
    the lowest mean score, ties to the configured rate."""
    rows = df[df.scenario.astype(str).str.startswith(f"{TUNING_PREFIX}mislabelled:")]
    if rows.empty:
        raise ValueError("no tuning rows of a mislabelled request: run the mislabelled analysis with tuning methods")
    wide = rows.pivot_table(index=["scenario", "method", "seed", "group"], columns="metric", values="value").reset_index()
    lr = rows.groupby(["scenario", "method", "seed", "group"]).tuning_lr.first().reset_index()
    wide = wide.merge(lr, on=["scenario", "method", "seed", "group"])
    cand = wide.groupby(["scenario", "method", "tuning_factor"], as_index=False).agg(
        lr=("tuning_lr", "first"), score=("tuning_score", "mean"), forget=("forget", "mean"), seeds=("seed", "nunique")
    )
    out = []
    for (scenario, method), c in cand.groupby(["scenario", "method"], sort=False):
        pick = c.assign(dist=np.abs(np.log(c.tuning_factor))).sort_values(["score", "dist"]).iloc[0]
        out.append(
            {
                "flipped fraction": float(scenario.rsplit(":", 1)[1]),
                "method": method,
                "picked lr": f"{pick.lr:.3g}",
                "factor": f"{pick.tuning_factor:.3g}",
                "on edge": bool(pick.tuning_factor in (c.tuning_factor.min(), c.tuning_factor.max())),
                "val score": round(float(pick.score), 3),
                "forget acc (wrong labels)": round(float(pick.forget), 3),
                "candidates": len(c),
                "seeds": int(pick.seeds),
            }
        )
    table = pd.DataFrame(out)
    order = _ordered(table.method.unique())
    table["_o"] = table.method.map(order.index)
    return table.sort_values(["flipped fraction", "_o"]).drop(columns="_o").set_index(["flipped fraction", "method"])


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
    rows = _with_size(analysis_rows(df, "tuning"))
    orig_val = rows[(rows.method == "original") & (rows.split == "val") & (rows.metric == "accuracy")].groupby("seed")["value"].first()
    grid = rows[(rows.scenario == TUNING_GRID) & (rows.method != "original") & (rows.metric == "accuracy")]
    if grid.empty:
        raise ValueError("no tuning configs in these metrics: run run_tuning first")
    grid = grid.pivot_table(index=["method", "seed", SIZE, *GRID], columns="split", values="value").reset_index()
    grid["score"] = (grid.forget - grid.val).abs() + np.maximum(0.0, grid.seed.map(orig_val) - grid.val)
    keys = ["method", "seed", SIZE]
    best = grid.loc[grid.groupby(keys)["score"].idxmin()]
    # Edges: a pick on the grid's lowest or highest lr (or epochs) hints that the best setting lies outside
    # it, unless an interior config scores just as well (configs that all leave the forget set untouched
    # tie, and the first of them is the lowest lr): then the edge says nothing, so it is not counted.
    lo, hi = grid.groupby("method")[GRID].min(), grid.groupby("method")[GRID].max()
    for col in GRID:
        a, b = grid.method.map(lo[col]), grid.method.map(hi[col])
        grid[f"{col}_edge"] = (a < b) & ((grid[col] == a) | (grid[col] == b))  # a one-value axis has no edge
    top = grid[grid.score <= grid.groupby(keys)["score"].transform("min") + 1e-12]
    tied = top.groupby(keys).agg(tied=("score", "size"), lr_on_edge=("tuning_lr_edge", "all"), epochs_on_edge=("tuning_epochs_edge", "all"))
    best = best.join(tied, on=keys)
    cols = [*keys, *GRID, "score", "forget", "val", "tied", "lr_on_edge", "epochs_on_edge"]
    return best[cols].reset_index(drop=True)


#: The forget-set size a tuning config was searched at (rows from before per-size tuning: NaN, one size).
SIZE = "forget_fraction"


def _with_size(rows: pd.DataFrame) -> pd.DataFrame:
    """Tuning rows with a numeric ``forget_fraction`` (-1 where it was not recorded: a single tuning size)."""
    size = pd.to_numeric(rows[SIZE], errors="coerce") if SIZE in rows else pd.Series(np.nan, index=rows.index)
    return rows.assign(**{SIZE: size.fillna(-1.0).round(9)})


def tuned_hparams(df: pd.DataFrame, study: MedicalStudy, fraction: float | None = None) -> dict[str, dict[str, Any]]:
    """Each tuned method's validation-picked lr and epochs, as ``hparams`` for :meth:`MedicalStudy.update_hparams`.

    With several tuning seeds, the configuration picked most often wins (ties: the lower mean score).
    ``fraction``: the forget-set size whose picks to use when the grid was searched at several sizes
    (None: the only size searched).

    Raises:
        ValueError: several sizes were searched and ``fraction`` is None or not one of them.
    """
    best = select_by_validation(df)
    sizes = sorted(best[SIZE].unique())
    if fraction is None:
        if len(sizes) > 1:
            raise ValueError(f"the grid was searched at forget fractions {sizes}: say which one's picks to use (fraction=...)")
    else:
        best = best[best[SIZE] == round(float(fraction), 9)]
        if best.empty:
            raise ValueError(f"no tuning picks at forget fraction {fraction} (searched: {sizes})")
    out = {}
    for method, g in best.groupby("method", sort=False):
        votes = g.groupby(GRID).agg(n=("score", "size"), score=("score", "mean")).sort_values(["n", "score"], ascending=[False, True])
        lr, epochs = votes.index[0]
        grid = _grid_config(method, study._hparams_for(method), float(lr), int(epochs))
        out[method] = {k: grid[k] for k in ("lr", "epochs", "msteps") if k in grid}
    return out


def tuned_hparams_by_size(df: pd.DataFrame, study: MedicalStudy) -> dict[float, dict[str, dict[str, Any]]]:
    """``{forget fraction: tuned_hparams at that fraction}`` for every size the grid was searched at."""
    sizes = sorted(select_by_validation(df)[SIZE].unique())
    return {float(f): tuned_hparams(df, study, f) for f in sizes if f >= 0}


def tuning_edges(df: pd.DataFrame) -> pd.DataFrame:
    """How often each method's pick sits on the edge of its grid (lowest or highest lr or epochs), over
    seeds and sizes: a pick on the edge says the best setting may lie outside the grid. A pick counts
    only when no interior config ties with it; ``tied picks`` counts picks that tie with other configs
    (typically every config that leaves the forget set untouched)."""
    best = select_by_validation(df)
    g = best.groupby("method")
    table = pd.DataFrame(
        {
            "picks": g.size(),
            "lr on edge": g.lr_on_edge.sum().astype(int),
            "epochs on edge": g.epochs_on_edge.sum().astype(int),
            "either on edge": g.apply(lambda b: int((b.lr_on_edge | b.epochs_on_edge).sum())),
            "tied picks": g.tied.agg(lambda t: int((t > 1).sum())),
        }
    )
    table["share on edge"] = (table["either on edge"] / table["picks"]).round(2)
    return table.reindex([m for m in _ordered(table.index) if m in table.index])


def tuning_table(df: pd.DataFrame) -> pd.DataFrame:
    """Tuning: search cost as a multiple of retraining, and how good the validation-picked config is.

    Search time is the sum of every config's wall time at one size and seed; the ratio divides it by
    the retraining time measured on that very split in the same run, then ratios are averaged over
    seeds and sizes (``configs`` is the grid searched at each size: the same budget everywhere). Test
    accuracy and the gap to retrain of the picked config are reported here only; they played no part
    in picking it. ``picks on edge``: picks at the grid's lowest or highest lr or epochs, of all picks.
    """
    rows = _with_size(analysis_rows(df, "tuning"))
    secs = rows[(rows.split == "all") & (rows.metric == "seconds") & (rows.method != "original")]
    ref = secs[secs.scenario == TUNING_REFERENCE].groupby(["seed", SIZE])["value"].mean()
    grid = secs[secs.scenario == TUNING_GRID]
    search = grid.groupby(["method", "seed", SIZE])["value"].agg(["sum", "count"]).reset_index()
    search["retrain"] = [ref.loc[(r.seed, r.forget_fraction)] for r in search.itertuples()]
    search["ratio"] = search["sum"] / search["retrain"]
    best = select_by_validation(df)
    accuracy = rows[rows.metric == "accuracy"]
    acc = accuracy[accuracy.scenario == TUNING_GRID].pivot_table(index=["method", "seed", SIZE, *GRID], columns="split", values="value")
    ref_rows = accuracy[(accuracy.scenario == TUNING_REFERENCE) & (accuracy.method == "retrain")]
    retrain_acc = ref_rows.pivot_table(index=["seed", SIZE], columns="split", values="value")
    picked = []
    for r in best.itertuples():
        a = acc.loc[(r.method, r.seed, r.forget_fraction, r.tuning_lr, r.tuning_epochs)]
        ra = retrain_acc.loc[(r.seed, r.forget_fraction)]
        gap = np.mean([abs(a[s] - ra[s]) for s in ("forget", "retain", "test")])
        edge = bool(r.lr_on_edge or r.epochs_on_edge)
        picked.append(
            {
                "method": r.method,
                "seed": r.seed,
                SIZE: r.forget_fraction,
                "lr": r.tuning_lr,
                "epochs": r.tuning_epochs,
                "test": a["test"],
                "gap": gap,
                "edge": edge,
            }
        )
    picked = pd.DataFrame(picked).merge(search, on=["method", "seed", SIZE])
    g = picked.groupby("method")
    table = pd.DataFrame(
        {
            "sizes": g[SIZE].nunique(),
            "configs": g["count"].first().astype(int),
            "search s": g["sum"].mean(),
            "retrain s": g["retrain"].mean(),
            "search / retrain": g.ratio.mean(),
            "picked lr": g.lr.agg(lambda v: ", ".join(f"{x:.3g}" for x in v)),
            "picked epochs": g.epochs.agg(lambda v: ", ".join(str(int(x)) for x in v)),
            "picks on edge": g.edge.agg(lambda e: f"{int(e.sum())}/{len(e)}"),
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
