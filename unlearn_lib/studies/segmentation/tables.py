"""Notebook 03's tables, read back from saved rows (``metrics.csv``) only.

The
per-epoch curves, the values at each horizon, the paper's headline, memorisation, the trade-off against
retrain, cost and the trivial floors never need a model, so they live apart from the experiment.
:func:`inter_subject_dice` describes the cohort itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...data.datasets import ArrayDataset
from ...floors import FLOORS

SPLITS = ("retain", "forget", "heldout")


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
    df = df[df.scenario != FLOORS]
    order = df[df.scenario == "final"].method if (df.scenario == "final").any() else df.method  # run order
    methods = [m for m in dict.fromkeys([*order, *df.method]) if m != "original"]
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


def _groups(df: pd.DataFrame) -> list[Any]:
    """The forget requests in ``df`` (its ``group`` values; one unnamed group when none is set)."""
    if "group" not in df or df.group.isna().all():
        return [None]
    return list(dict.fromkeys(df.group.dropna()))


def _group(df: pd.DataFrame, g: Any) -> pd.DataFrame:
    return df if g is None else df[df.group == g]


def _mean_std(values: Sequence[float], digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "–"
    return f"{v.mean():.{digits}f}" + (f" ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else "")


def horizon_spread(
    df: pd.DataFrame, horizons: Sequence[int] = (20, 50), metric: str = "dice", splits: Sequence[str] = SPLITS
) -> pd.DataFrame:
    """``metric`` per split at each horizon as ``mean ± std`` over the forget requests (one row per method)."""
    frames = [horizon_table(_group(df, g), horizons, metric, splits) for g in _groups(df)]
    cols = [f"{s} {metric} @{h}" for h in horizons for s in splits]
    out = pd.DataFrame(
        {c: [_mean_std([f.loc[m, c] for f in frames if m in f.index]) for m in frames[0].index] for c in cols}, index=frames[0].index
    )
    out.index.name = "method"
    return out


def per_seed(df: pd.DataFrame, method: str, split: str, metric: str = "dice", epoch: int | None = None) -> pd.Series:
    """``metric`` of ``method`` on ``split`` per training seed (index ``seed``): at unlearning ``epoch`` from
    the per-epoch rows, or the run's final value for a method that records no epochs (retrain) or when
    ``epoch`` is None. Empty where the method has no such rows (a horizon past its last epoch); a seed
    whose value is not a number (Dice of a class absent from both truth and prediction) is left out."""
    rows = df[(df.method == method) & (df.split == split) & (df.metric == metric)]
    curve = rows[rows.scenario == "curve"]
    if epoch is not None and not curve.empty:
        return curve[curve.epoch == epoch].groupby("seed").value.mean().dropna()
    return rows[rows.scenario == "final"].groupby("seed").value.mean().dropna()


def seed_values(df: pd.DataFrame, groups: Sequence[Any], method: str, epoch: int, splits: Sequence[str] = SPLITS) -> pd.DataFrame:
    """Per training seed, averaged over the forget requests ``groups``: ``method``'s Dice on each split at
    ``epoch`` (the original's at epoch 0), the original's (``original <split>``) and retrain's (``retrain
    <split>``), and the method's seconds and optimizer steps. Seeds missing any Dice are dropped: the
    claims pair a method with the original and retrain seed for seed."""
    frames = []
    for g in groups:
        d = _group(df, g)
        cols: dict[str, pd.Series] = {}
        for s in splits:
            cols[s] = per_seed(d, method, s, "dice", 0 if method == "original" else epoch)
            cols[f"original {s}"] = per_seed(d, "original", s, "dice", 0)
            cols[f"retrain {s}"] = per_seed(d, "retrain", s, "dice")
        for k in ("seconds", "steps"):
            cols[k] = per_seed(d, method, "all", k)
        frames.append(pd.DataFrame(cols).dropna(subset=[c for c in cols if c not in ("seconds", "steps")]))
    out = pd.concat(frames).groupby(level=0).mean() if frames else pd.DataFrame()
    out.index.name = "seed"
    return out


def ci_text(v: Any) -> str:
    """A paired difference's 95 % interval as text ("–" below two seeds)."""
    return f"[{v.lo:+.3f}, {v.hi:+.3f}]" if v.n >= 2 else "–"


def distance_to_retrain(v: pd.DataFrame, splits: Sequence[str] = SPLITS) -> pd.Series:
    """Per seed (rows of :func:`seed_values`): the mean over ``splits`` of |Dice - retrain's Dice|."""
    return pd.concat([(v[s] - v[f"retrain {s}"]).abs() for s in splits], axis=1).mean(axis=1)


def finite(s: pd.Series) -> pd.Series:
    """The seeds where ``s`` is a number (a ratio over an original Dice of 0 is not)."""
    return s.replace([np.inf, -np.inf], np.nan).dropna()


def retain_kept(v: pd.DataFrame) -> pd.Series:
    """Per seed (rows of :func:`seed_values`): retain Dice as a share (%) of the original's; seeds where
    that share is not a finite number (an original with no retain Dice) are left out."""
    return finite(100 * v["retain"] / v["original retain"])


def memorisation_table(df: pd.DataFrame, metric: str = "dice", min_signal: float = 0.01) -> pd.DataFrame:
    """Per forget request: the baseline's and retrain's ``metric`` on the forgotten subjects and on held-out
    subjects (means over training seeds). ``memorised`` (baseline minus retrain on the forgotten subjects,
    paired seed for seed, with its 95 % CI) is what the baseline knows about them beyond what it
    generalises: the signal that makes forgetting measurable. ``signal`` is the one verdict rule's word on
    "the baseline knows them better than retrain" (one seed is never a result), and a request is
    ``informative`` only when that holds and ``memorised`` reaches ``min_signal``."""
    from ...verdict import HOLDS, judge

    rows = []
    for g in _groups(df):
        d = _group(df, g)
        of, rf = per_seed(d, "original", "forget", metric, 0), per_seed(d, "retrain", "forget", metric)
        oh, rh = per_seed(d, "original", "heldout", metric, 0), per_seed(d, "retrain", "heldout", metric)
        seeds = sorted(set(of.index) & set(rf.index))
        verdict = judge(of[seeds].to_numpy(), rf[seeds].to_numpy(), "greater")
        memorised = verdict.difference.mean
        rows.append(
            {
                "forget request": "all" if g is None else g,
                f"baseline forget {metric}": float(of[seeds].mean()) if seeds else float("nan"),
                f"retrain forget {metric}": float(rf[seeds].mean()) if seeds else float("nan"),
                f"baseline held-out {metric}": float(oh.mean()) if len(oh) else float("nan"),
                f"retrain held-out {metric}": float(rh.mean()) if len(rh) else float("nan"),
                "memorised": memorised,
                "95 % CI": ci_text(verdict.difference),
                "training seeds": len(seeds),
                "signal": verdict.label,
                "informative": bool(verdict.label == HOLDS and memorised >= min_signal),
            }
        )
    return pd.DataFrame(rows).set_index("forget request")


#: A method whose forget Dice moved less than this share of the way from the original's to retrain's did
#: not act: its row measures the untouched original (the rule of 02 and 04).
IDENTITY_SHARE = 0.25


def ranked_requests(df: pd.DataFrame, min_signal: float = 0.01, memo: pd.DataFrame | None = None) -> tuple[list[Any], list[Any], bool]:
    """(requests a ranking averages over, requests left out for lack of signal, informative): the
    informative requests of :func:`memorisation_table` (``memo``, computed here when not given), or every
    request, unranked, when none is."""
    df = df[df.scenario != FLOORS]
    groups = _groups(df)
    informative = (memorisation_table(df, min_signal=min_signal) if memo is None else memo)["informative"]
    with_signal = [g for g in groups if bool(informative.get("all" if g is None else g, False))]
    used = with_signal or groups
    return used, [g for g in groups if g not in used], bool(with_signal)


def tradeoff_table(
    df: pd.DataFrame, epochs: int, min_signal: float = 0.01, splits: Sequence[str] = SPLITS, memo: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, bool]:
    """Every method (and the untouched original) by its distance to retrain at ``epochs``: the mean over
    ``splits`` of |Dice - retrain's Dice|, per training seed averaged over forget requests, with its cost.

    Retrain is the exact answer, so the closest method forgets what retraining forgets and keeps what it
    keeps. ``vs doing nothing`` is the one verdict rule on "closer to retrain than the untouched
    original", paired over seeds: a method that does not beat doing nothing has not unlearned anything
    measurable. The ranking means something only over requests the baseline knows better than retrain
    does (:func:`memorisation_table`'s ``informative``); a request without signal would pull every
    method, and the original, towards "as close as retrain". With none, every request is shown, in run
    order (not ranked), and the table is uninformative. Returns (table, informative);
    ``table.attrs["requests"]`` lists the requests averaged over and ``table.attrs["excluded"]`` those
    left out for lack of signal. ``memo``: the :func:`memorisation_table` already computed, if any.
    """
    from ...verdict import judge, paired_difference

    used, excluded, informative = ranked_requests(df, min_signal, memo)
    df = df[df.scenario != FLOORS]
    methods = [m for m in dict.fromkeys(df.method) if m != "retrain"]
    nothing = distance_to_retrain(seed_values(df, used, "original", 0, splits), splits)
    acted = acted_labels(df, epochs, used if informative else [], [m for m in methods if m != "original"])
    rows = []
    for m in methods:
        v = seed_values(df, used, m, epochs, splits)
        dist = distance_to_retrain(v, splits)
        seeds = sorted(set(dist.index) & set(nothing.index))
        verdict = judge(dist[seeds].to_numpy(), nothing[seeds].to_numpy(), "less")
        rows.append(
            {
                "method": m,
                "distance to retrain": float(dist.mean()) if len(dist) else float("nan"),
                "95 % CI": ci_text(paired_difference(dist.to_numpy())) if len(dist) else "–",
                "vs doing nothing": "–" if m == "original" else verdict.label,
                "did it act?": acted.get(m, "–" if m == "original" or informative else "uninformative"),
                "forget Dice − retrain's": float((v["forget"] - v["retrain forget"]).mean()) if len(v) else float("nan"),
                "retain % of baseline": float(retain_kept(v).mean()) if len(v) else float("nan"),
                "seconds": float(v["seconds"].mean()) if len(v) else float("nan"),
                "optimizer steps": float(v["steps"].mean()) if len(v) else float("nan"),
                "training seeds": len(v),
            }
        )
    table = pd.DataFrame(rows).set_index("method")
    if informative:
        table = table.sort_values("distance to retrain")
    table.attrs["requests"] = ["all" if g is None else g for g in used]
    table.attrs["excluded"] = ["all" if g is None else g for g in excluded]
    return table, informative


def acted_labels(df: pd.DataFrame, epochs: int, groups: Sequence[Any], methods: Sequence[str]) -> dict[str, str]:
    """Per method: ``tuned to identity`` where its forget Dice at ``epochs`` (mean over ``groups`` and seeds)
    moved less than :data:`IDENTITY_SHARE` of the way from the original's to retrain's, else ``moved``.
    ``groups`` are the requests with signal; without them nothing is labelled (there is no way to go).
    A method whose rate was tuned (rows of scenario ``tuning``) and did not act is ``tuned to identity``;
    one on its configured rate ``did not act``."""
    from .tuning import TUNING  # the rows' scenario, named where they are written

    tuned = set(df[df.scenario == TUNING].method)
    out: dict[str, str] = {}
    if not groups:
        return out
    for m in methods:
        v = seed_values(df, groups, m, epochs, ("forget",))
        if v.empty:
            continue
        lead = float((v["original forget"] - v["retrain forget"]).mean())
        moved = float((v["original forget"] - v["forget"]).mean())
        idle = lead > 0 and abs(moved) < IDENTITY_SHARE * lead
        out[m] = ("tuned to identity" if m in tuned else "did not act") if idle else "moved"
    return out


def cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds and optimizer steps per method (the baseline's training for ``original``), mean ± std over requests."""
    fin = df[(df.scenario == "final") & (df.split == "all")]
    rows = {}
    for m in dict.fromkeys(fin.method):
        rows[m] = {k: _mean_std(fin[(fin.method == m) & (fin.metric == k)].value.tolist(), 1) for k in ("seconds", "steps")}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    return out


def floors_table(df: pd.DataFrame, split: str = "heldout") -> pd.DataFrame:
    """Dice (mean and per tissue) on ``split`` of the recorded floors and of the baseline model, and the
    model's margin over each floor (from saved rows only)."""
    held = df[(df.scenario == FLOORS) & (df.split == split)]
    if held.empty:
        raise ValueError(f"no {FLOORS!r} rows on split {split!r} in these results")
    metrics = [m for m in dict.fromkeys(held.metric)]
    rows = {f: {m: float(held[(held.method == f) & (held.metric == m)].value.mean()) for m in metrics} for f in dict.fromkeys(held.method)}
    first = _group(df[df.scenario != FLOORS], _groups(df[df.scenario != FLOORS])[0])
    model = {m: _value_at(first, "original", split, m, 0)[0] for m in metrics}
    floors = list(rows)
    rows["baseline model"] = model
    for f in floors:
        rows[f"model − {f}"] = {m: model[m] - rows[f][m] for m in metrics}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = f"{split} subjects"
    return out


def inter_subject_dice(dataset: ArrayDataset) -> pd.DataFrame:
    """Mean foreground Dice between the label maps of every pair of subjects (1 on the diagonal)."""
    from ...data.cohort import label_dice

    n = len(dataset)
    labels = tuple(range(1, int(dataset.num_classes or int(dataset.y.max()) + 1)))
    mat = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            mat[i, j] = mat[j, i] = label_dice(dataset.y[i], dataset.y[j], labels)
    ids = dataset.meta.get("subject", np.arange(n))
    return pd.DataFrame(mat, index=pd.Index(ids, name="subject"), columns=list(ids))
