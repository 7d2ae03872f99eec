"""Do the committed numbers hold on this machine? ``make reproduce [NB=01_quickstart]``.

Reruns the study (or the notebooks named) from scratch: a fresh out dir and an empty model cache, so every
model is trained again here. Then every non-time metric is compared row for row with the committed
``results/`` and each row is counted *identical*, *within tolerance* or *beyond tolerance* (or missing /
extra), per study, in a markdown report.

Tolerances are per metric kind (the ``metric`` column: accuracy, mia, gap_to_retrain, dice, ...) and come
from the committed results themselves: twice the median, over every group of rows that differ only in
their seed, of the standard deviation across seeds. A difference inside that is of the size a change of
seed makes, which is what another CPU's float rounding amounts to once training has run for a while. A
kind with no group of two seeds anywhere in the committed results has no tolerance: its rows are either
identical or beyond.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..results import load_runs

__all__ = ["IGNORED", "TIME_METRIC", "comparable", "compare", "report", "tolerances"]

#: Metrics that measure time (seconds, speed-ups): never expected to reproduce.
TIME_METRIC = re.compile(r"second|time|speed", re.IGNORECASE)
#: Columns that name a run rather than a result.
IGNORED = ("run_id", "timestamp")
#: A tolerance is this many typical seed standard deviations.
SPREADS = 2.0


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    """Non-time rows without the run's name, settings as strings (empty settings compare equal)."""
    df = df[~df.metric.astype(str).str.contains(TIME_METRIC)].drop(columns=[c for c in IGNORED if c in df.columns])
    keys = [c for c in df.columns if c != "value"]
    df = df.copy()
    df[keys] = df[keys].astype(object).fillna("").astype(str)
    return df.groupby(keys, sort=True, as_index=False)["value"].mean()


def tolerances(committed: pd.DataFrame) -> dict[str, float]:
    """Per metric kind: :data:`SPREADS` x the median across-seed std of the committed rows (see the module)."""
    df = comparable(committed)
    keys = [c for c in df.columns if c not in ("value", "seed")]
    spread = df.groupby(keys)["value"].agg(["std", "count"]).reset_index()
    spread = spread[(spread["count"] >= 2) & spread["std"].notna()]
    return {str(m): SPREADS * float(g["std"].median()) for m, g in spread.groupby("metric")}


def compare(committed: pd.DataFrame, fresh: pd.DataFrame, tol: Mapping[str, float]) -> pd.DataFrame:
    """One row per result: committed and fresh value, |difference|, the kind's tolerance and a status."""
    a, b = comparable(committed), comparable(fresh)
    keys = [c for c in a.columns if c != "value"]
    m = a.merge(b, on=keys, how="outer", suffixes=("_committed", "_here"), indicator=True)
    m["diff"] = (m.value_committed - m.value_here).abs()
    m["tolerance"] = m.metric.map(lambda k: tol.get(k, np.nan))
    same = (m.value_committed == m.value_here) | (m.value_committed.isna() & m.value_here.isna() & (m._merge == "both"))
    status = np.select(
        [m._merge == "left_only", m._merge == "right_only", same, m["diff"] <= m.tolerance],
        ["missing here", "extra here", "identical", "within tolerance"],
        default="beyond tolerance",
    )
    return m.assign(status=status).drop(columns="_merge")


STATUSES = ("identical", "within tolerance", "beyond tolerance", "missing here", "extra here")


def report(rows: Mapping[str, pd.DataFrame], tol: Mapping[str, float], context: str) -> str:
    """The markdown report: counts per study, the tolerances, and the largest differences beyond them."""
    lines = ["# Reproduction against the committed results", "", context, "", "| study | rows | " + " | ".join(STATUSES) + " |"]
    lines.append("|---|---|" + "---|" * len(STATUSES))
    for stem, df in rows.items():
        counts = df.status.value_counts()
        lines.append(f"| {stem} | {len(df)} | " + " | ".join(str(int(counts.get(s, 0))) for s in STATUSES) + " |")
    lines += ["", f"Tolerance per metric kind ({SPREADS:g} x the median across-seed std of the committed results):", ""]
    used = sorted({str(k) for df in rows.values() for k in df.metric.unique()})
    lines += ["| metric | tolerance |", "|---|---|"]
    lines += [f"| {k} | {tol[k]:.4f} |" if k in tol else f"| {k} | none (no seed spread measured: identical or beyond) |" for k in used]
    for stem, df in rows.items():
        beyond = df[df.status == "beyond tolerance"].sort_values("diff", ascending=False).head(10)
        if beyond.empty:
            continue
        cols = [c for c in ("scenario", "method", "seed", "split", "metric") if c in beyond.columns]
        lines += ["", f"## {stem}: largest differences beyond tolerance", "", "| " + " | ".join(cols) + " | committed | here | tolerance |"]
        lines.append("|" + "---|" * (len(cols) + 3))
        for _, r in beyond.iterrows():
            lines.append(
                "| " + " | ".join(str(r[c]) for c in cols) + f" | {r.value_committed:.4f} | {r.value_here:.4f} | {r.tolerance:.4f} |"
            )
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    """The CPU's model name (results differ by CPU: the report says which)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: Sequence[str] | None = None) -> int:
    from .engine import run_batch
    from .plan import REPO_ROOT, find_notebooks

    p = argparse.ArgumentParser(prog="python -m unlearn_lib.batch.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="default")
    p.add_argument("--only", nargs="*", default=None, metavar="NAME", help="notebooks to rerun (default: all)")
    p.add_argument("--results", type=Path, default=REPO_ROOT / "results", help="the committed results to compare with")
    p.add_argument("--scratch", type=Path, default=REPO_ROOT / ".reproduce", help="where the fresh run goes (a new dir per run)")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    try:
        notebooks, _ = find_notebooks(None, args.only)
        stems = [nb.stem for nb in notebooks]
        missing = [s for s in stems if not (args.results / s / "latest.json").is_file()]
        if missing:
            raise ValueError(f"--results {args.results} has no committed results for {missing}")
        committed_all = load_runs(args.results)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    scratch = args.scratch / stamp
    out, cache = scratch / "out", scratch / "cache"
    cache.mkdir(parents=True)
    print(f"[reproduce] rerunning {stems} from scratch into {out} (empty model cache {cache})", flush=True)
    summary = run_batch(
        args.profile, only=stems, out=out, figures_dir=scratch / "figures", workers=args.workers, env={"UNLEARN_CACHE": str(cache)}
    )
    failed = [name for name, row in summary.items() if row["status"] != "ok"]
    if failed:
        print(f"error: tasks failed: {failed}; see their logs under {out}", file=sys.stderr)
        return 1
    tol = tolerances(committed_all)
    rows = {stem: compare(load_runs(args.results / stem), load_runs(out / stem), tol) for stem in stems}
    context = (
        f"Rerun {stamp} of {', '.join(stems)} (profile {args.profile}) on {cpu_name()}, empty model cache; compared with {args.results}."
    )
    text = report(rows, tol, context)
    (scratch / "report.md").write_text(text)
    print(text)
    print(f"[reproduce] report: {scratch / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
