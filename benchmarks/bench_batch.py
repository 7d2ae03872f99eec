"""Time the whole batch with 1 worker against 2 (or any counts), in one run, on fresh out dirs.

    UNLEARN_PROGRESS=0 python benchmarks/bench_batch.py [--profile smoke|default|paper|FILE.yaml]
        [--only NAME ...] [--notebooks DIR] [--workers 1 2] [--rerun | --warm | --cache DIR] [--order FILE|plan] [--keep DIR]
        [--report FILE.md]

Each worker count runs the same batch (``python -m unlearn_lib.batch``'s engine, a local Dask cluster of
one-thread worker processes) into its own empty out dir with its own empty ``UNLEARN_CACHE``, so nothing
is reused from an earlier run (trained GANs, simulated cohorts); figures go to a scratch dir, never to
``figures/``. Prints each count's wall time (cluster start included), its
speed-up over the first count, and whether the non-time metrics of every run agree with the first's.
``--warm`` adds two more runs of the last count, both with that count's now-filled model cache: a second
``make study`` into the same out dir (every task finished before: no cluster starts, only the merge
runs), and a run into a fresh out dir (every task runs again, every trained model is loaded). The first
is what a user's second ``make study`` costs; the second is the cold / warm ratio of the model cache alone.
``--rerun`` adds only the first of the two (the cold study beside a second ``make study``, without the
warm rerun's hour).
``--cache DIR`` instead gives every count the one model cache DIR (say the one ``make study`` filled):
the worker-count ratio of a warm study, hours shorter than the cold one at default scale.
Tasks start in the order ``make study`` gives them: longest first by the seconds of the committed
``results/batch.json`` (the engine reads the out dir's last ``batch.json``; each fresh out dir gets a copy
of it), when that file's profile is the one timed; ``--order FILE`` takes another batch.json, ``--order
plan`` the plan's order (what a first-ever batch does).
``smoke`` (the default) takes minutes; ``--profile default`` is the real measurement, and long: on this
2-core machine a cold default study is over an hour with 2 workers, so ``--workers 1 2 --warm`` is an
overnight run; the committed records split it in two (``--report``):
``benchmarks/results/batch.md``: ``--profile default --workers 2 1 --cache ~/.cache/unlearn-study``, the
worker ratio of the warm study; ``benchmarks/results/batch_cold_warm.md``: ``--profile default --workers 2
--warm``, the cold study, a second ``make study`` and the warm model cache's full rerun, each task's seconds
showing where the cache saves time (trained models) and where it cannot (each method's own unlearning,
which every rerun of a task measures again). Both records also check that every run's non-time metrics agree.
Timings depend on the machine and its load: compare the ratio within one run only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from unlearn_lib.batch import code_version, list_profiles, run_batch
from unlearn_lib.batch.engine import previous_seconds
from unlearn_lib.results import load_runs

#: The batch record ``make study`` leaves (the engine orders the next batch by its tasks' seconds).
COMMITTED_BATCH = Path(__file__).resolve().parents[1] / "results" / "batch.json"

#: Metrics that measure time (they differ from run to run by nature, so they are not compared).
TIME_METRIC = re.compile(r"second|time|speed", re.IGNORECASE)


def non_time_metrics(out: Path) -> pd.DataFrame:
    df = load_runs(out)
    df = df[~df.metric.astype(str).str.contains(TIME_METRIC)].drop(columns=["timestamp"])
    keys = [c for c in df.columns if c != "value"]
    df[keys] = df[keys].astype(object).fillna("").astype(str)  # empty settings compare equal (NaN != NaN)
    return df.sort_values(keys).reset_index(drop=True)


def mismatches(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows whose settings or value differ (values within 1e-9 relative count as equal)."""
    if len(a) != len(b):
        return abs(len(a) - len(b)) or 1
    keys = [c for c in a.columns if c != "value"]
    same_keys = (a[keys].to_numpy() == b[keys].to_numpy()).all(axis=1)
    same_values = np.isclose(a.value.to_numpy(float), b.value.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True)
    return int((~(same_keys & same_values)).sum())


def order_file(order: str | None, profile: str) -> Path | None:
    """The batch.json whose tasks' seconds order every timed run (None: the plan's order).

    Why: ``make study`` writes into ``results/``, whose committed batch.json makes the engine start the
    longest tasks first; a bench in plan order would time a schedule the study never runs."""
    if order == "plan":
        return None
    path = Path(order) if order else COMMITTED_BATCH
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        if order:
            raise SystemExit(f"--order {order}: no such file (give a batch.json, or 'plan')") from None
        return None
    except json.JSONDecodeError as e:
        raise SystemExit(f"--order {path}: not a batch.json ({e})") from None
    if not isinstance(record, dict) or not isinstance(record.get("notebooks"), dict):
        raise SystemExit(f"--order {path}: not a batch.json (expected an object with a 'notebooks' table)")
    if order is None and record.get("profile") != profile:
        return None  # the committed record times another profile: its seconds say nothing about this one
    return path


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (a report names no one's home dir)."""
    try:
        return str(path.resolve().relative_to(COMMITTED_BATCH.parents[1]))
    except ValueError:
        return str(path)


def times(x: float) -> str:
    """A ratio as ``1.81x``; a resumed batch's thousands-fold ratio needs no decimals."""
    return f"{x:.2f}x" if x < 100 else f"{x:,.0f}x"


def write_report(path: Path, rows: list[dict], *, profile: str, order: Path | None, cache: str | None, code: str) -> None:
    """A markdown record of one run: the wall times and their ratios, and each task's seconds per run.

    Why the tasks' seconds: their sum against the 1-worker run's says how much slower a task ran beside
    another (the machine's shared memory bus), which bounds what more workers can give; the wall time
    against that sum over the worker count says how well the schedule packed the tasks."""
    base = next((r for r in rows if r["workers"] == 1), rows[0])  # speed-ups are over one worker when it ran
    # as the engine reads them; a resumed run ran no task (its batch.json repeats the earlier run's seconds)
    per_task = {r["run"]: previous_seconds(Path(r["out"])) for r in rows if not r["failed"] and not r.get("resumed")}
    one = next((per_task[r["run"]] for r in rows if r["workers"] == 1 and r["run"] in per_task), None)
    lines = [
        f"# bench_batch: profile {profile}",
        "",
        f"{datetime.date.today().isoformat()} on {platform.node() or 'this machine'} ({os.cpu_count()} cores), code "
        f"version {code[:12]}; task order: {f'longest first by the seconds in {shown(order)}' if order else 'the plan order'}; model "
        f"cache: {'one filled cache for every run (' + cache + ')' if cache else 'each count its own, empty at start'}.",
        "",
        "| run | workers | wall s | speed-up over "
        + base["run"]
        + " | task s summed | task s vs 1 worker | packing | non-time metrics vs "
        + rows[0]["run"]
        + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("resumed"):
            lines.append(
                f"| {r['run']} | {r['workers']} | {r['seconds']:.1f} | {times(base['seconds'] / r['seconds'])} | "
                f"0 (all {r['tasks']} finished before) | | | {r.get('metrics', '')} |"
            )
            continue
        tasks = per_task.get(r["run"])
        total = sum(tasks.values()) if tasks else float("nan")
        vs_one = f"{total / sum(one.values()):.2f}" if tasks and one else ""  # no 1-worker run, no ratio
        packing = total / r["workers"] / r["seconds"] if tasks else float("nan")  # 1.0: no worker ever idle
        lines.append(
            f"| {r['run']} | {r['workers']} | {r['seconds']:.1f} | {times(base['seconds'] / r['seconds'])} | {total:.0f} | "
            f"{vs_one} | {packing:.2f} | {r.get('metrics', '')} |"
        )
    names = sorted({n for t in per_task.values() for n in t}, key=lambda n: -max(t.get(n, 0) for t in per_task.values()))
    lines += ["", "## Each task's seconds", "", "| task | " + " | ".join(per_task) + " |", "|---" * (len(per_task) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(f"{t.get(n, float('nan')):.0f}" for t in per_task.values()) + " |" for n in names]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="smoke", help=f"a profile {list_profiles()} or a YAML path (default: smoke)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these notebooks")
    p.add_argument("--notebooks", default=None, metavar="DIR", help="notebooks directory (default: notebooks/)")
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2], metavar="N", help="worker counts to time (default: 1 2)")
    p.add_argument("--keep", default=None, metavar="DIR", help="keep the out dirs under DIR (default: a temporary dir)")
    p.add_argument(
        "--warm",
        action="store_true",
        help="then, with the last count's now-filled model cache, a second make study into its out dir (every task "
        "finished before) and a run into a fresh out dir (every task runs again, trained models are loaded)",
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="then only the second make study into the last count's out dir (every task finished before), not --warm's full rerun",
    )
    p.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="every count uses this model cache (one filled by make study, say): the worker-count ratio with every "
        "trained model loaded, the study's warm case; without it each count trains everything in its own empty cache",
    )
    p.add_argument(
        "--order",
        default=None,
        metavar="FILE|plan",
        help="a batch.json whose tasks' seconds order every run, longest first, as make study does with the committed "
        "results/batch.json (default: that file when it records the same profile); 'plan': the plan's order",
    )
    p.add_argument("--report", default=None, metavar="FILE.md", help="also write the run's record as markdown here")
    args = p.parse_args(argv)
    if any(n < 1 for n in args.workers):
        p.error("--workers: every count must be >= 1")
    if args.cache and (args.warm or args.rerun):
        p.error("--warm/--rerun and --cache: with --cache every run is already warm (give one of them)")
    if args.warm and args.rerun:
        p.error("--warm already includes --rerun's second make study (give one of them)")
    if args.cache and not Path(args.cache).is_dir():
        p.error(f"--cache {args.cache}: not a directory (give a filled model cache, e.g. ~/.cache/unlearn-study)")
    order = order_file(args.order, args.profile)
    print(f"task order: {f'longest first by the seconds in {order}' if order else 'the plan order'}", flush=True)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_batch."))
    rows = []
    runs = [
        (n, f"workers{n}", f"workers{n}", str(Path(args.cache).resolve()) if args.cache else str(root / f"cache{n}")) for n in args.workers
    ]
    if args.warm or args.rerun:
        last = args.workers[-1]
        runs.append((last, f"workers{last}-rerun", f"workers{last}", str(root / f"cache{last}")))  # resume: same out dir
    if args.warm:
        runs.append((last, f"workers{last}-warm", f"workers{last}-warm", str(root / f"cache{last}")))
    for n, name, dirname, cache in runs:
        out = root / dirname
        resumed = dirname != name
        if not resumed and out.exists() and any(out.iterdir()):
            p.error(f"{out} is not empty: the benchmark needs fresh out dirs (nothing reused)")
        if order and not resumed:
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(order, out / "batch.json")  # only the seconds are read; no task counts as finished
        start = time.perf_counter()
        summary = run_batch(
            args.profile,
            args.only,
            out,
            notebooks_dir=args.notebooks,
            figures_dir=root / f"figures-{name}",
            workers=n,
            progress=False,
            env={"UNLEARN_CACHE": cache},  # cold: nothing an earlier count trained; warm: the last count's; or --cache
        )
        seconds = time.perf_counter() - start
        failed = sorted(k for k, r in summary.items() if r["status"] != "ok")
        cached = sum(bool(r.get("cached")) for r in summary.values())
        rows.append(
            {
                "run": name,
                "workers": n,
                "seconds": seconds,
                "tasks": len(summary),
                "cached": cached,
                "failed": failed,
                "out": out,
                "resumed": resumed,
            }
        )
        print(
            f"{name}: {seconds:.1f}s for {len(summary)} task(s), {cached} finished before{f'; FAILED: {failed}' if failed else ''}",
            flush=True,
        )
    base = rows[0]
    reference = non_time_metrics(base["out"]) if not base["failed"] else None
    print(f"\nprofile {args.profile}: batch wall time by worker count (same run, fresh out dirs under {root})")
    print(f"{'run':>16}  {'seconds':>8}  {'ratio':>6}  {'speed-up':>8}  non-time metrics vs {base['run']}")
    for r in rows:
        if reference is None or r["failed"]:
            agree = "n/a (failed tasks)"
        elif r["resumed"]:
            agree = "same out dir" if r["cached"] == r["tasks"] else f"same out dir; {r['tasks'] - r['cached']} task(s) reran"
        else:
            bad = mismatches(reference, non_time_metrics(r["out"]))
            agree = "identical" if bad == 0 else f"{bad} row(s) differ"
        r["metrics"] = agree
        ratio = r["seconds"] / base["seconds"]
        print(f"{r['run']:>16}  {r['seconds']:8.1f}  {ratio:6.2f}  {1 / ratio:7.2f}x  {agree}")
    if args.warm or args.rerun:
        cold, rerun = rows[len(args.workers) - 1], rows[len(args.workers)]  # the last count's cold run, then its resume
        print(f"second make study, {rerun['workers']} worker(s): {times(cold['seconds'] / rerun['seconds'])} faster than cold")
    if args.warm:
        warm = rows[-1]
        print(f"warm model cache, every task rerun, {warm['workers']} worker(s): {cold['seconds'] / warm['seconds']:.2f}x faster than cold")
    if args.report:
        write_report(Path(args.report), rows, profile=args.profile, order=order, cache=args.cache, code=code_version())
        print(f"report: {args.report}")
    print(json.dumps([{k: (str(v) if isinstance(v, Path) else v) for k, v in r.items()} for r in rows]))
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
