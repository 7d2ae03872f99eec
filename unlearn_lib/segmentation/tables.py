"""Notebook 03's tables, read back from saved rows (``metrics.csv``) only.

Split out of the former ``unlearn_lib/segmentation.py`` (issue #31, no module over 500 lines): the
per-epoch curves, the values at each horizon, the paper's headline, memorisation, the trade-off against
retrain, cost and the trivial floors never need a model, so they live apart from the experiment.
:func:`inter_subject_dice` describes the cohort itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.datasets import ArrayDataset
from ..floors import FLOORS

#: arXiv 2606.16180, Noisy Label after 50 epochs on MRBrainS18 (mean foreground Dice).
PAPER_HEADLINE = {
    "method": "noisy_label",
    "epochs": 50,
    "forget_before": 0.9226,
    "forget_after": 0.0613,
    "forget_change_pct": -93.0,
    "retain_after": 0.7576,
    "retain_pct_of_baseline": 84.0,
}
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


def headline_comparison(df: pd.DataFrame, epochs: int = 50) -> pd.DataFrame:
    """The paper's Noisy Label headline beside ours (mean over forget requests, and their std):
    forget Dice before and after, its change, retain Dice after and as % of the baseline."""
    m = PAPER_HEADLINE["method"]
    if not ((df.method == m).any()):
        raise ValueError(f"no {m!r} rows in these results")
    per = []
    for g in _groups(df):
        d = _group(df, g)
        f0, r0 = _value_at(d, "original", "forget", "dice", 0)[0], _value_at(d, "original", "retain", "dice", 0)[0]
        f1, r1 = _value_at(d, m, "forget", "dice", epochs)[0], _value_at(d, m, "retain", "dice", epochs)[0]
        per.append(
            {
                "forget Dice before": f0,
                "forget Dice after": f1,
                "forget change %": 100 * (f1 - f0) / f0 if f0 else float("nan"),
                "retain Dice after": r1,
                "retain % of baseline": 100 * r1 / r0 if r0 else float("nan"),
            }
        )
    ours = pd.DataFrame(per)
    paper = {
        "forget Dice before": PAPER_HEADLINE["forget_before"],
        "forget Dice after": PAPER_HEADLINE["forget_after"],
        "forget change %": PAPER_HEADLINE["forget_change_pct"],
        "retain Dice after": PAPER_HEADLINE["retain_after"],
        "retain % of baseline": PAPER_HEADLINE["retain_pct_of_baseline"],
    }
    rows = [paper, ours.mean().to_dict()]
    index = [f"paper (MRBrainS18, {m} @50)", f"ours ({m} @{epochs}, mean of {len(ours)})"]
    if len(ours) > 1:
        rows.append(ours.std(ddof=1).to_dict())
        index.append(f"ours (std over {len(ours)} forgotten subjects)")
    return pd.DataFrame(rows, index=pd.Index(index, name="source"))


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


def memorisation_table(df: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Per forget request: the baseline's and retrain's ``metric`` on the forgotten subject and on held-out
    subjects. ``memorised`` (baseline minus retrain on the forgotten subject) is what the baseline knows
    about that subject beyond what it generalises: the signal that makes forgetting measurable."""
    rows = []
    for g in _groups(df):
        d = _group(df, g)
        of, rf = _value_at(d, "original", "forget", metric, 0)[0], _final(d, "retrain", "forget", metric)
        oh, rh = _value_at(d, "original", "heldout", metric, 0)[0], _final(d, "retrain", "heldout", metric)
        rows.append(
            {
                "forget request": "all" if g is None else g,
                f"baseline forget {metric}": of,
                f"retrain forget {metric}": rf,
                f"baseline held-out {metric}": oh,
                f"retrain held-out {metric}": rh,
                "memorised": of - rf,
            }
        )
    return pd.DataFrame(rows).set_index("forget request")


def _final(d: pd.DataFrame, method: str, split: str, metric: str) -> float:
    sel = d[(d.scenario == "final") & (d.method == method) & (d.split == split) & (d.metric == metric)]
    return float(sel.value.mean()) if not sel.empty else float("nan")


def tradeoff_table(df: pd.DataFrame, epochs: int, min_signal: float = 0.01, splits: Sequence[str] = SPLITS) -> tuple[pd.DataFrame, bool]:
    """Every method (and the untouched original) ranked by its distance to retrain at ``epochs``: the mean
    over ``splits`` of |Dice - retrain's Dice|, averaged over forget requests, with its cost.

    Retrain is the exact answer, so the closest method forgets what retraining forgets and keeps what it
    keeps. The ranking means something only if the baseline knows the forgotten subjects better than
    retrain does; so only the requests whose own ``memorised`` reaches ``min_signal`` are ranked (a
    request without signal would pull every method, and the original, towards "as close as retrain").
    With none, every request is shown and the table is uninformative. Returns (table sorted by
    distance, informative); ``table.attrs["requests"]`` lists the requests averaged over and
    ``table.attrs["excluded"]`` those left out for lack of signal.
    """
    memorised = memorisation_table(df)["memorised"]
    df = df[df.scenario != FLOORS]
    groups = _groups(df)
    with_signal = [g for g in groups if memorised.get("all" if g is None else g, float("nan")) >= min_signal]
    informative = bool(with_signal)
    used = with_signal if informative else groups
    methods = [m for m in dict.fromkeys(df.method) if m != "retrain"]
    rows = []
    for m in methods:
        dist, forget, retain, steps, secs = [], [], [], [], []
        for g in used:
            d = _group(df, g)
            at = {s: _value_at(d, m, s, "dice", 0 if m == "original" else epochs)[0] for s in splits}
            ref = {s: _final(d, "retrain", s, "dice") for s in splits}
            base_r = _value_at(d, "original", "retain", "dice", 0)[0]
            dist.append(float(np.mean([abs(at[s] - ref[s]) for s in splits])))
            forget.append(at["forget"] - ref["forget"])
            retain.append(100 * at["retain"] / base_r if base_r else float("nan"))
            secs.append(_final(d, m, "all", "seconds"))
            steps.append(_final(d, m, "all", "steps"))
        rows.append(
            {
                "method": m,
                "distance to retrain": float(np.mean(dist)),
                "± (requests)": float(np.std(dist, ddof=1)) if len(dist) > 1 else 0.0,
                "forget Dice − retrain's": float(np.mean(forget)),
                "retain % of baseline": float(np.mean(retain)),
                "seconds": float(np.nanmean(secs)) if not np.isnan(secs).all() else float("nan"),
                "optimizer steps": float(np.nanmean(steps)) if not np.isnan(steps).all() else float("nan"),
            }
        )
    table = pd.DataFrame(rows).set_index("method").sort_values("distance to retrain")
    table.attrs["requests"] = ["all" if g is None else g for g in used]
    table.attrs["excluded"] = ["all" if g is None else g for g in groups if g not in used]
    return table, informative


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
    from ..data.cohort import label_dice

    n = len(dataset)
    labels = tuple(range(1, int(dataset.num_classes or int(dataset.y.max()) + 1)))
    mat = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            mat[i, j] = mat[j, i] = label_dice(dataset.y[i], dataset.y[j], labels)
    ids = dataset.meta.get("subject", np.arange(n))
    return pd.DataFrame(mat, index=pd.Index(ids, name="subject"), columns=list(ids))
