"""Notebook 03's two lenses on the paper's mechanics, each judged over training seeds by the one rule.

Why two: the paper (arXiv 2606.16180) calls a mechanic good when the forgotten subject's Dice falls
far while retain Dice stays (its headline: Noisy Label after 50 epochs, forget -93 %, retain 84 % of the
baseline). Retrain-matching calls it good when the model ends where retraining without the subject
would. On a subject the baseline generalises to, the first lens rewards destroying a segmentation that
retrain keeps; the two then disagree, and :func:`paper_lens_table` says so row by row. Every verdict is
:func:`unlearn_lib.verdict.judge`'s, paired over the training seeds of :func:`.tables.seed_values`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ...verdict import HOLDS, NOT_REPRODUCED, Verdict, all_of, judge, paired_difference
from .tables import ci_text, distance_to_retrain, finite, ranked_requests, retain_kept, seed_values

__all__ = ["MECHANICS", "PAPER_HEADLINE", "claims_table", "paper_lens_table"]

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
#: The paper's four mechanics (five strategies); its claims are about these only.
MECHANICS = ("noisy_label", "max_loss", "retain_label", "random_encoder", "learn_noise_fixed_decoder")


def _change(v: pd.DataFrame, split: str) -> pd.Series:
    """Per seed: the relative change (%) of ``split``'s Dice from the original's."""
    return finite(100 * (v[split] - v[f"original {split}"]) / v[f"original {split}"])


def _paired(a: pd.Series, b: pd.Series | float) -> tuple[Any, Any]:
    """``a`` and ``b`` on the seeds both have (``b`` may be one number for every seed)."""
    if isinstance(b, pd.Series):
        seeds = sorted(set(a.index) & set(b.index))
        return a[seeds].to_numpy(), b[seeds].to_numpy()
    return a.to_numpy(), b


def _claims(method: str, v: pd.DataFrame, noisy: pd.DataFrame | None) -> tuple[str, list[tuple[str, Verdict]]]:
    """The paper's claim for ``method`` and its parts, each judged paired over seeds."""
    forget, retain = _change(v, "forget"), retain_kept(v)
    parts = [("forget Dice falls", judge(*_paired(forget, 0.0), "less"))]
    if method == PAPER_HEADLINE["method"]:
        bar = PAPER_HEADLINE["retain_pct_of_baseline"]
        parts.append((f"retain ≥ {bar:g} % of baseline", judge(*_paired(retain, bar), "greater")))
        return f"forget falls, retain kept at ≥ {bar:g} % (its headline)", parts
    if noisy is not None and len(noisy):
        other = retain_kept(noisy)
        parts.append(("retain below Noisy Label's", judge(*_paired(retain, other), "less")))
    return "forget falls, retain degrades more than under Noisy Label", parts


def paper_lens_table(df: pd.DataFrame, horizons: Sequence[int], min_signal: float = 0.01, memo: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every paper mechanic at every horizon, through the paper's lens and retrain's, over training seeds.

    The paper's lens: the forgotten subjects' Dice change and retain Dice kept (mean and 95 % CI over
    seeds) beside the paper's -93 % / 84 % (Noisy Label at 50 epochs), and a verdict on the paper's
    claim for that mechanic (Noisy Label: forget falls and retain stays at >= 84 % of the baseline; the
    others: forget falls and retain degrades more than under Noisy Label). ``forgets the subject, not
    the task`` judges whether forget Dice falls further than held-out Dice (a drop every subject shares
    is damage, not forgetting). The retrain lens: whether the mechanic ends closer to retrain than the
    untouched original (paired distance over the three splits). ``lenses`` says where they disagree,
    and why. Rows average the requests :func:`.tables.ranked_requests` ranks (those with signal, else
    all, as ``attrs["requests"]`` says); ``memo``: the memorisation table already computed, if any."""
    used, _, informative = ranked_requests(df, min_signal, memo)
    nothing = distance_to_retrain(seed_values(df, used, "original", 0))
    present = [m for m in MECHANICS if (df.method == m).any()]
    rows = []
    for h in horizons:
        noisy = seed_values(df, used, PAPER_HEADLINE["method"], h) if PAPER_HEADLINE["method"] in present else None
        for m in present:
            v = seed_values(df, used, m, h)
            if v.empty:
                continue
            claim, parts = _claims(m, v, noisy)
            paper = all_of(verdict for _, verdict in parts)
            forget, held = _change(v, "forget"), _change(v, "heldout")
            retain = retain_kept(v)
            specific = judge(*_paired(forget, held), "less")
            retrain_lens = judge(*_paired(distance_to_retrain(v), nothing), "less")
            over = judge(*_paired(v["forget"], v["retrain forget"]), "less")  # below retrain on the forgotten subjects
            headline = m == PAPER_HEADLINE["method"] and h == PAPER_HEADLINE["epochs"]
            rows.append(
                {
                    "method": m,
                    "epochs": h,
                    "forget Δ %": float(forget.mean()) if len(forget) else float("nan"),
                    "forget Δ % CI": ci_text(paired_difference(forget.to_numpy())),
                    "retain % of baseline": float(retain.mean()) if len(retain) else float("nan"),
                    "retain % CI": ci_text(paired_difference(retain.to_numpy())),
                    "held-out Δ %": float(held.mean()) if len(held) else float("nan"),
                    "paper forget Δ %": PAPER_HEADLINE["forget_change_pct"] if headline else float("nan"),
                    "paper retain %": PAPER_HEADLINE["retain_pct_of_baseline"] if headline else float("nan"),
                    "paper's claim": claim,
                    "verdict": paper,
                    "reason": "; ".join(f"{name}: {verdict.label} {verdict.difference}" for name, verdict in parts),
                    "forgets the subject, not the task": specific.label,
                    "retrain lens (closer than doing nothing)": retrain_lens.label,
                    "lenses": _lenses(paper, retrain_lens.label, over.label),
                    "training seeds": len(v),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["requests"] = ["all" if g is None else g for g in used]
    out.attrs["informative"] = informative
    return out.set_index(["method", "epochs"]) if rows else out


def _lenses(paper: str, retrain: str, over: str) -> str:
    """Whether the two lenses agree on a row, and why not."""
    if (paper == HOLDS) == (retrain == HOLDS):
        return "agree"
    if paper == HOLDS:
        why = "the drop goes below retrain's Dice: over-forgetting" if over == HOLDS else "the drop is not where retrain ends"
        return f"disagree: the paper's success, not closer to retrain than doing nothing ({why})"
    if paper == NOT_REPRODUCED:
        return "disagree: closer to retrain, without the paper's drop or retain level"
    return "disagree: closer to retrain, the paper's claim inconclusive"


def claims_table(lens: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """The paper's claim for each mechanic at ``epochs`` (its horizon: 50), in the form the README's
    claims table collects: the claim, the paper's number, ours with its 95 % CI over training seeds, and
    the verdict of :func:`paper_lens_table` (nothing judged again)."""
    if lens.empty:
        return pd.DataFrame(columns=["claim", "paper", "ours", "verdict"])
    at = lens.xs(epochs, level="epochs") if epochs in lens.index.get_level_values("epochs") else lens.iloc[0:0]
    rows = []
    for method, r in at.iterrows():
        headline = method == PAPER_HEADLINE["method"]
        paper = (
            f"forget {PAPER_HEADLINE['forget_change_pct']:+g} %, retain {PAPER_HEADLINE['retain_pct_of_baseline']:g} % of baseline"
            if headline
            else "no number (the abstract: forget almost completely, retain set wrecked)"
        )
        ours = (
            f"forget {r['forget Δ %']:+.1f} % {r['forget Δ % CI']}, retain {r['retain % of baseline']:.1f} % {r['retain % CI']} "
            f"({int(r['training seeds'])} seeds); retrain lens: {r['retrain lens (closer than doing nothing)']}"
        )
        claim = r["paper's claim"]
        rows.append({"claim": f"{method} @{epochs}: {claim}", "paper": paper, "ours": ours, "verdict": r["verdict"]})
    return pd.DataFrame(rows)
