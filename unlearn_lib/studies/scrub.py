"""The SCRUB paper's claims (Kurmanji et al., NeurIPS 2023) against notebook 02's saved rows, with verdicts.

Each claim is judged only where the scenario it needs is informative (:mod:`unlearn_lib.experiments.signal`):
on a scenario where the untouched original is already as close to retraining as anything, no method
can be shown to be better, so the verdict there is "not testable", never "holds".
"""

from __future__ import annotations

import pandas as pd

from ..experiments.signal import ranked_methods

__all__ = ["HOLDS", "NOT_TESTABLE", "PARTLY", "REFUTED", "claims_table"]

HOLDS, PARTLY, REFUTED, NOT_TESTABLE = "holds", "partly", "does not hold", "not testable here"


def _mean(rows: pd.DataFrame, scenario: str, method: str, split: str, metric: str) -> float:
    sel = rows[(rows.scenario == scenario) & (rows.method == method) & (rows.split == split) & (rows.metric == metric)]
    return float(sel.value.mean()) if len(sel) else float("nan")


def _informative(signal: pd.DataFrame, scenario: str) -> bool:
    return scenario in signal.index and bool(signal.loc[scenario, "informative"])


def _scrub_on_top(rows: pd.DataFrame, signal: pd.DataFrame) -> tuple[str, str]:
    ranks = {}
    for sc in signal.index:
        order = ranked_methods(rows, sc)
        if _informative(signal, sc) and "scrub" in order:
            ranks[sc] = (order.index("scrub") + 1, len(order))
    if not ranks:
        return NOT_TESTABLE, "no informative scenario ran SCRUB"
    said = "; ".join(f"{sc}: rank {r} of {n}" for sc, (r, n) in ranks.items())
    if all(r == 1 for r, _ in ranks.values()):
        return HOLDS, said
    return (PARTLY if any(r <= 3 for r, _ in ranks.values()) else REFUTED), said


def _bad_teacher(rows: pd.DataFrame, signal: pd.DataFrame) -> tuple[str, str]:
    sc = "class"
    names = set(rows[rows.scenario == sc].method)
    if not _informative(signal, sc) or "bad_teacher" not in names:
        return NOT_TESTABLE, "needs an informative class scenario with bad_teacher"
    speed = rows[(rows.scenario == sc) & (rows.metric == "speed_up") & ~rows.method.isin(["original", "retrain"])]
    median = float(speed.groupby("method").value.mean().median())
    bt_speed = _mean(rows, sc, "bad_teacher", "all", "speed_up")
    shortfall = _mean(rows, sc, "retrain", "forget", "error") - _mean(rows, sc, "bad_teacher", "forget", "error")
    fast, incomplete = bt_speed > median, shortfall > 0.05
    said = f"speed-up {bt_speed:.1f}x (median of methods {median:.1f}x); forget error {shortfall:.3f} below retrain's"
    return (HOLDS if fast and incomplete else PARTLY if fast or incomplete else REFUTED), said


def _scrub_r_mia(rows: pd.DataFrame, signal: pd.DataFrame) -> tuple[str, str]:
    sc = "selective"
    names = set(rows[rows.scenario == sc].method)
    if not _informative(signal, sc) or not {"scrub", "scrub_r"} <= names:
        return NOT_TESTABLE, "needs an informative selective scenario with scrub and scrub_r"
    ref = _mean(rows, sc, "retrain", "forget", "mia")
    d_s, d_r = abs(_mean(rows, sc, "scrub", "forget", "mia") - ref), abs(_mean(rows, sc, "scrub_r", "forget", "mia") - ref)
    said = f"|MIA - retrain's|: SCRUB {d_s:.3f}, SCRUB+R {d_r:.3f}"
    return (HOLDS if d_r < d_s - 0.01 else REFUTED), said


def _barely_forget(rows: pd.DataFrame, signal: pd.DataFrame) -> tuple[str, str]:
    sc = "class"
    names = [m for m in ("finetune", "cf_k") if m in set(rows[rows.scenario == sc].method)]
    if not _informative(signal, sc) or not names:
        return NOT_TESTABLE, "needs an informative class scenario with finetune or cf_k"
    orig, ref = _mean(rows, sc, "original", "forget", "error"), _mean(rows, sc, "retrain", "forget", "error")
    # share of the way from the original's forget error to retrain's that each method covered
    covered = {m: (_mean(rows, sc, m, "forget", "error") - orig) / (ref - orig) if ref != orig else float("nan") for m in names}
    said = "; ".join(f"{m} covers {c:.0%} of the way to retrain's forget error" for m, c in covered.items())
    barely = [c < 0.25 for c in covered.values()]
    return (HOLDS if all(barely) else PARTLY if any(barely) else REFUTED), said


CLAIMS = {
    "SCRUB is consistently on top (smallest average gap to retrain) across scenarios": _scrub_on_top,
    "Bad Teacher is fast but does not really forget": _bad_teacher,
    "SCRUB+R brings selective forgetting's MIA back to retrain's level": _scrub_r_mia,
    "Finetune and CF-k barely forget": _barely_forget,
}


def claims_table(rows: pd.DataFrame, signal: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the verdict and the numbers it rests on (means over seeds, from ``rows``)."""
    out = [(claim, *judge(rows, signal)) for claim, judge in CLAIMS.items()]
    return pd.DataFrame(out, columns=["claim (SCRUB paper)", "verdict", "what the rows show"]).set_index("claim (SCRUB paper)")
