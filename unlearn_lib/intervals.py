"""Tables of means with their 95 % confidence intervals over seeds.

A study's table cell is a mean over seeds, and a reader needs to know how far it can move: ``± std``
describes the seeds, the CI half-width says where the mean lies. The interval is the verdict rule's
(:func:`unlearn_lib.verdict.paired_difference` against zero: a Student-t interval), so a table and the
claims judged from it never disagree about the spread. One seed gives no interval and says so.
"""

from __future__ import annotations

import pandas as pd

from .verdict import paired_difference

__all__ = ["mean_ci_table"]


def mean_ci_table(df: pd.DataFrame, index: str, columns: dict[tuple[str, str], str], digits: int = 3) -> pd.DataFrame:
    """Pivot tidy rows (one value per seed) into ``mean ± CI half-width``; ``columns`` maps (split, metric) to a header.

    Rows keep the order they were recorded in (original and retrain first); a cell a row lacks reads "–".

    Raises:
        ValueError: none of ``columns`` is in ``df``, or a cell holds more than one value for a seed.
    """
    out: dict[str, pd.Series] = {}
    for (split, metric), header in columns.items():
        sel = df[(df.split == split) & (df.metric == metric)]
        if sel.empty:
            continue
        twice = sel.duplicated([index, "seed"])
        if twice.any():
            first = sel[twice].iloc[0]
            raise ValueError(f"{split}/{metric} has more than one value for {index}={first[index]!r}, seed {first['seed']}")
        cells = {}
        for key, g in sel.groupby(index, sort=False):
            d = paired_difference(g.value.to_numpy())
            half = (d.hi - d.lo) / 2
            cells[key] = f"{d.mean:.{digits}f} ± {half:.{digits}f}" if d.n > 1 else f"{d.mean:.{digits}f} (1 seed)"
        out[header] = pd.Series(cells)
    if not out:
        raise ValueError("none of the requested (split, metric) pairs is in the results")
    table = pd.DataFrame(out).fillna("–")
    table = table.reindex([k for k in dict.fromkeys(df[index]) if k in table.index])
    table.index.name = index
    return table
