"""Statistics: the paired sex-bias test over seeds, Holm-adjusted over methods, with a TOST equivalence test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from .tables import _ordered, analysis_rows


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaNs are left out of the family and stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():  # statsmodels would count a NaN as a member of the family
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


#: The harm the claim "no sex bias" is judged on (see :func:`sex_bias_test`).
SEX_BIAS_HARM = "own-sex drop beyond retrain"
#: :func:`sex_bias_test`'s verdicts (the equivalence one is completed with the margin: "... ±0.02").
BIAS, EQUIVALENT, INCONCLUSIVE = "bias detected", "equivalent within", "inconclusive"
#: The level of the sex-bias tests (t-test after Holm, TOST) and of the MDE's power calculation.
ALPHA = 0.05


def check_margin(margin: float) -> None:
    """Refuse an equivalence margin that is not a finite number > 0 (an interval of width 0 proves nothing)."""
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0 (an accuracy difference, e.g. 0.02), got {margin!r}")


def min_detectable_effect(d: np.ndarray, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The smallest mean of the paired differences ``d`` that a two-sided paired t-test at ``alpha``
    detects with probability ``power``, in the units of ``d``: statsmodels' standardised effect for
    ``len(d)`` pairs times the sample std of ``d``. NaN with fewer than 2 pairs or no spread."""
    n = len(d)
    sd = float(np.std(d, ddof=1)) if n >= 2 else float("nan")
    if not (np.isfinite(sd) and sd > 0):
        return float("nan")
    try:
        effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=power)
    except ValueError:  # no root: the power cannot be reached at this n
        return float("nan")
    return float(np.asarray(effect).item()) * sd


def sex_bias_test(df: pd.DataFrame, groups: tuple[str, str] = ("F", "M"), margin: float = 0.02, alpha: float = ALPHA) -> pd.DataFrame:
    """Paired test over seeds: does forgetting one sex harm that sex (or unlearning quality) more?

    For every method and seed, these harms are computed for the run that forgot ``F`` and the run
    that forgot ``M`` (same seed = same original model and validation set, hence *paired*):

    * ``own-sex test drop`` - test accuracy on the forgotten sex, original minus unlearned;
    * ``other-sex test drop`` - the same on the other sex (collateral damage);
    * ``own-sex drop beyond retrain`` - test accuracy on the forgotten sex, retrain minus unlearned:
      what the method costs that sex *beyond* exact unlearning. Losing a sex's samples can lower
      accuracy on that sex legitimately (retraining shows how much); only the excess is the method's;
    * ``avg gap`` - mean |accuracy - retrain's| over forget / retain / test (unlearning quality).

    The test is a paired t-test (``scipy.stats.ttest_rel``) of harm(F) - harm(M): pairing removes the
    seed-to-seed variance of training. ``holm p`` adjusts each harm's p-values over the methods
    (Holm-Bonferroni), since testing many methods at 0.05 finds something by chance. The Wilcoxon
    signed-rank test cannot reach p < 0.05 with few seeds (its smallest two-sided p with n pairs is
    2 / 2**n), so its p is reported only from 6 pairs on.

    A large t-test p is "no detectable bias", not proof of none, so the table adds an equivalence
    test: ``tost p`` is the paired TOST (``statsmodels.stats.weightstats.ttost_paired``) of
    ``-margin < mean(harm(F) - harm(M)) < margin``; ``margin`` is the largest difference we call
    negligible (0.02 = 2 points of accuracy). It is not Holm-adjusted: "no bias" claims that *every*
    method is equivalent, an intersection-union test, which each method's TOST at ``alpha`` controls.
    ``MDE`` is :func:`min_detectable_effect` (power 0.8 at ``alpha``) for these pairs: a bias smaller
    than it would likely go unseen. ``verdict``: ``"bias detected"`` when ``holm p < alpha``, else
    ``"equivalent within ±margin"`` when ``tost p < alpha``, else ``"inconclusive"`` (too few or too
    noisy seeds to tell; compare the MDE with the margin). A difference can be significant yet smaller
    than the margin; it still reads "bias detected" (the mean difference says how large).

    Raises:
        ValueError: ``margin`` is not a finite number > 0, or ``alpha`` not in (0, 1).
    """
    check_margin(margin)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    rows = analysis_rows(df, "sex")
    a, b = groups
    acc = rows[rows.metric == "accuracy"].pivot_table(index=["method", "seed", "level"], columns="split", values="value")
    orig = acc.xs("original", level="method")
    retrain = acc.xs("retrain", level="method") if "retrain" in acc.index.get_level_values("method") else None
    gap = rows[(rows.split == "average") & (rows.metric == "gap_to_retrain")].set_index(["method", "seed", "level"])["value"]
    out = []
    for method in _ordered(rows.method.unique()):
        if method == "original":
            continue
        harms: dict[str, dict[str, pd.Series]] = {}
        for g in groups:
            other = b if g == a else a
            mine = acc.xs((method, g), level=("method", "level"))
            base = orig.xs(g, level="level")
            h = {
                "own-sex test drop": base[f"test:{g}"] - mine[f"test:{g}"],
                "other-sex test drop": base[f"test:{other}"] - mine[f"test:{other}"],
            }
            if method != "retrain" and retrain is not None:  # both are 0 by definition for retrain itself
                h[SEX_BIAS_HARM] = retrain.xs(g, level="level")[f"test:{g}"] - mine[f"test:{g}"]
                h["avg gap"] = gap.xs((method, g), level=("method", "level"))
            harms[g] = h
        for name in harms[a]:
            x, y = harms[a][name].align(harms[b][name], join="inner")
            d = (x - y).to_numpy()
            n = len(d)
            t_p = float(stats.ttest_rel(x, y).pvalue) if n >= 2 and np.ptp(d) > 0 else float("nan")
            w_p = float(stats.wilcoxon(d).pvalue) if n >= 6 and np.any(d != 0) else float("nan")
            tost_p = float(ttost_paired(x.to_numpy(), y.to_numpy(), -margin, margin)[0]) if n >= 2 and np.ptp(d) > 0 else float("nan")
            out.append(
                {
                    "method": method,
                    "harm": name,
                    f"mean ({a} forgotten)": float(x.mean()),
                    f"mean ({b} forgotten)": float(y.mean()),
                    "mean diff": float(d.mean()),
                    "n seeds": n,
                    "paired t p": t_p,
                    "holm p": np.nan,
                    "wilcoxon p": w_p,
                    "tost p": tost_p,
                    "margin": float(margin),
                    "MDE": min_detectable_effect(d, alpha),
                    "verdict": "",
                }
            )
    table = pd.DataFrame(out)
    for _, idx in table.groupby("harm").groups.items():
        table.loc[idx, "holm p"] = holm(table.loc[idx, "paired t p"].to_numpy())
    if not table.empty:
        table["verdict"] = np.select([table["holm p"] < alpha, table["tost p"] < alpha], [BIAS, f"{EQUIVALENT} ±{margin:g}"], INCONCLUSIVE)
    return table
