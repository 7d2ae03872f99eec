"""Statistics: the paired sex-bias test over seeds, Holm-adjusted over methods."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

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


def sex_bias_test(df: pd.DataFrame, groups: tuple[str, str] = ("F", "M")) -> pd.DataFrame:
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
    2 / 2**n), so its p is reported only from 6 pairs on. With 3-5 seeds the test has little power:
    a large p is "no detectable bias", not proof of none; read the mean difference beside it.
    """
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
                }
            )
    table = pd.DataFrame(out)
    for _, idx in table.groupby("harm").groups.items():
        table.loc[idx, "holm p"] = holm(table.loc[idx, "paired t p"].to_numpy())
    return table
