"""``python -m unlearn_lib.batch``: the command line of the batch."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from ..params import check_readable
from ..utils import check_writable_dir
from .engine import run_batch
from .plan import REPO_ROOT, list_parameters
from .profiles import list_profiles

__all__ = ["main"]

DESCRIPTION = "Run every notebook in notebooks/ through papermill with one profile's parameters, as Dask tasks."


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text}")
    return value


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the batch like Ctrl-C: the cluster is closed and the out dir's lock released."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unlearn_lib.batch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python -m unlearn_lib.batch --profile smoke --only 01_quickstart\n"
            "  python -m unlearn_lib.batch --profile my_profile.yaml --out /tmp/run --workers 4\n"
            "  python -m unlearn_lib.batch --set 01_quickstart.methods='[retrain, scrub]' --set threads=1\n"
            "  python -m unlearn_lib.batch --only 01_quickstart --seeds 0 1 2   # one task per seed\n"
            "  python -m unlearn_lib.batch --scheduler tcp://10.0.0.5:8786       # an existing Dask cluster\n"
            "  python -m unlearn_lib.batch --list --only 02_scrub_and_baselines\n"
            "\n"
            "A finished task (same notebook, parameters, seed and code) is never rerun: rerunning a killed batch\n"
            "redoes only its unfinished tasks. See docs/batch.md."
        ),
    )
    parser.add_argument(
        "--profile",
        default="default",
        help=f"a profile name {list_profiles()} or a path to a YAML file of the same schema (default: default)",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (stem, e.g. 01_quickstart)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="[STEM.]KEY=VALUE",
        help="override a parameter after the profile: STEM.key=value for one notebook, key=value or *.key=value for every "
        "notebook that has it; VALUE is YAML (e.g. '[retrain, scrub]', 1, null). Repeatable; a later --set wins",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="K",
        help="notebooks with a 'seeds' list get these seeds in one task; notebooks with a single 'seed' get one task per seed",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes of the local Dask cluster, one thread (one notebook) each (default: one per core)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this existing Dask cluster instead of a local one (its workers must see --out and the notebooks)",
    )
    parser.add_argument("--notebooks", default=None, metavar="DIR", help="notebooks directory (default: notebooks/)")
    parser.add_argument("--out", default=str(REPO_ROOT / "results"), metavar="DIR", help="results directory (default: results/)")
    parser.add_argument(
        "--figures", default=None, metavar="DIR", help="figures directory (default: figures/ for --out results/, else OUT/figures)"
    )
    parser.add_argument(
        "--readme", default=None, metavar="FILE", help="after the run, refresh this README's results section (one headline table per study)"
    )
    parser.add_argument(
        "--docs",
        default=None,
        metavar="DIR",
        help="after the run, regenerate DIR/studies/*.md, DIR/methods.md and DIR/index.md's study list",
    )
    parser.add_argument(
        "--list", action="store_true", help="print every notebook's parameters and their defaults, then exit without running"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="train every model again (the notebooks run with UNLEARN_NO_CACHE=1); finished tasks are still skipped",
    )
    args = parser.parse_args(argv)
    if args.no_cache:  # UNLEARN_* variables reach every task's kernel, on local and remote workers
        os.environ["UNLEARN_NO_CACHE"] = "1"
    try:
        if args.list:
            print(list_parameters(args.notebooks, args.only))
            return 0
        if args.readme:  # checked before any work, not after hours of it
            check_readable(args.readme, "--readme", directory=False)
            if not os.access(args.readme, os.W_OK):
                raise ValueError(f"--readme: {args.readme} is not writable")
        if args.docs:
            check_writable_dir(args.docs, "--docs")
        previous = signal.signal(signal.SIGTERM, _terminate) if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else None
        try:
            summary = run_batch(
                args.profile,
                args.only,
                args.out,
                notebooks_dir=args.notebooks,
                figures_dir=args.figures,
                sets=args.sets,
                seeds=args.seeds,
                workers=args.workers,
                scheduler=args.scheduler,
            )
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    width = max(len(s) for s in summary)
    print("\ntask".ljust(width + 2) + "status   seconds")
    for name, row in summary.items():
        note = "  (finished before)" if row.get("cached") else ""
        print(
            f"{name.ljust(width + 1)} {row['status']:<8} {row['seconds']:7.0f}"
            + (f"  {row['error'].splitlines()[0]}  (log: {row['log']})" if "error" in row else note)
        )
    failed = [s for s, r in summary.items() if r["status"] != "ok"]
    if args.readme or args.docs:
        from ..report import update_readme, write_docs
        from .claims import update_claims

        try:
            if args.docs:  # first, so that the README links to the pages it writes
                write_docs(args.out, args.docs)
            if args.readme:
                update_readme(args.readme, args.out, args.docs)
                update_claims(args.readme, args.out)  # the cross-study claims table, when the README has its markers
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 1 if failed else 0
