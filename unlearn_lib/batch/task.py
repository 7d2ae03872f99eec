"""One batch task, where a Dask worker runs it: papermill into the task's run directory, ``task.json`` last.

A run directory ``OUT/<stem>/<run_id>/`` holds::

    metrics.csv, run.json, summary.md  from the notebook
    <stem>.ipynb                        the executed copy (written as .<stem>.running.ipynb, then renamed)
    task.log                            cell progress and the kernel's stdout / stderr
    task.json                           written LAST: status, seconds, parameters, key, modules, outputs

A task's ``task.json`` records the ``unlearn_lib`` modules its kernel imported, each with its code's
digest (:mod:`unlearn_lib.codekeys`), and the checksums of its outputs; :func:`~.plan.finished_task`
reads them back. A task holds ``.task.lock`` while it runs, so a worker orphaned by a killed batch and
the restarted batch never write the same run directory at once.

Split from :mod:`.engine` (the driver that plans, schedules and records the batch) because this is the
part that runs on the worker: everything :func:`execute_task` needs arrives as plain data, and nothing
here touches the batch's own record or the cluster.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..codekeys import library_digests
from ..results import BATCH_TASK_ENV, TASK_LOCK
from ..utils import atomic_write_json
from .plan import TASK_FILE, code_version, file_sha256, finished_task
from .progress import CellProgress, progress_engine

__all__ = [
    "CHECKED_OUTPUTS",
    "DRIVER_PACKAGE",
    "LOG_FILE",
    "NANNY_MALLOC",
    "differing_modules",
    "execute_task",
    "kernel_env",
    "output_checksums",
    "publish_figures",
    "publish_parts_figures",
    "ran_modules",
]

MODULES_FILE = ".modules.txt"
#: Inside a run dir: the figures a task draws, moved into the figures dir only once the task is ok.
STAGED_FIGURES = "figures"
#: Inside a part's run dir: its figures, held until every part of the batch has finished. Parts of one
#: split notebook draw some figures under one name (03's cohort figure shows each part's own subject), so
#: publishing each part as it finishes would leave whichever finished last; :func:`publish_parts_figures`
#: publishes them in split order's reverse instead, so the first part owns a shared name.
HELD_FIGURES = ".figures-held"
#: The outputs whose checksums ``task.json`` records; a finished task must still match them.
CHECKED_OUTPUTS = ("metrics.csv", "run.json", "summary.md")
LOG_FILE = "task.log"


#: Set in every Dask worker by its nanny (``distributed.nanny.pre-spawn-environ``), meant for the
#: worker's own memory; a kernel inherits it unless told otherwise (see :func:`kernel_env`).
NANNY_MALLOC = "MALLOC_TRIM_THRESHOLD_"


def kernel_env(threads: int | None, extra: Mapping[str, str]) -> dict[str, str]:
    """The kernel's environment: the worker's, the batch's forwarded variables, and one OpenMP thread
    unless the notebook's ``threads`` parameter asks for more (several kernels share the cores).

    Kernels draw no progress bars (``UNLEARN_PROGRESS=0``, whatever the batch's own setting): nobody
    watches them (the batch shows its bar over tasks and each task's cell log), and ``tqdm.auto``'s widgets
    would leave their state in the executed notebook, megabytes per run (measured: 18 MB for notebook 02).

    The nanny's ``MALLOC_TRIM_THRESHOLD_`` is dropped (unless the batch forwards one in ``extra``): with it,
    glibc returns freed memory at once and torch's per-step tensors are mapped again every step, which made
    the study's training steps 1.5-2.6x slower in a batch kernel than in a notebook run by hand
    (``benchmarks/bench_kernel_env.py``), and their recorded seconds depend on how they were run.
    """
    env = {k: v for k, v in os.environ.items() if k != NANNY_MALLOC}
    env.update(extra)
    n = threads if isinstance(threads, int) and threads > 0 else 1
    env.update(OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n), UNLEARN_PROGRESS="0")
    env[BATCH_TASK_ENV] = "1"  # the notebook does not publish latest.json: the batch does, once the task is ok
    return env


def ran_modules(path: Path, digests: Mapping[str, str]) -> dict[str, str]:
    """``{module: digest}`` of the ``unlearn_lib`` modules the kernel listed in ``path`` (see
    :data:`~unlearn_lib.codekeys.RECORD_MODULES`); empty for a notebook that ran no library code. A missing
    list is an error: without it the task could never be found finished again, so it is not called ok."""
    try:
        names = [n for n in path.read_text().split() if n]
    except FileNotFoundError:
        raise RuntimeError(f"the kernel did not record the modules it ran ({path.name} missing)") from None
    return {name: digests[name] for name in names if name in digests}


#: The batch's own package: kernels never import it, so a worker may differ there (an engine edited while a
#: batch runs); any other module must be the batch's.
DRIVER_PACKAGE = "unlearn_lib.batch"


def differing_modules(here: Mapping[str, str], planned: Mapping[str, str]) -> list[str]:
    """Library modules of the planned batch whose code differs on this worker, or that it lacks, less the
    batch engine's own package.

    A module the plan did not know (a file added while the batch runs, e.g. a new strategy being
    written) is not a difference: no finished task can have run it, and a task that imports it
    records its digest like any other. Refusing it would fail every task that starts after the file
    appears, e.g. while a new module is written beside a running study."""
    names = set(planned) - {n for n in planned if n == DRIVER_PACKAGE or n.startswith(DRIVER_PACKAGE + ".")}
    return sorted(n for n in names if here.get(n) != planned.get(n))


def output_checksums(run_dir: Path) -> dict[str, str]:
    """sha256 of each of :data:`CHECKED_OUTPUTS` the run wrote: a finished task is checked against them."""
    return {name: file_sha256(run_dir / name) for name in CHECKED_OUTPUTS if (run_dir / name).is_file()}


def publish_parts_figures(run_dirs: Sequence[Path], figures: Path) -> list[Path]:
    """Publish the held figures of a split notebook's parts (``run_dirs`` in split order), last part first,
    so that a name several parts draw ends up as the first part's drawing whichever part finished last;
    each held dir is removed once published.

    Parts finished in an earlier batch hold nothing, and their drawings are already published: a name that
    such a part drew (its ``task.json`` lists ``figures``) and that comes before a rerun part in split
    order stays that part's, so rerunning part 2 alone does not replace part 1's figure of the same name."""
    kept: set[str] = set()  # names drawn by an earlier part that did not run in this batch
    held_dirs: list[Path] = []
    for run_dir in map(Path, run_dirs):
        held = run_dir / HELD_FIGURES
        if held.is_dir():
            for name in kept:
                (held / name).unlink(missing_ok=True)
            held_dirs.append(held)
        else:
            kept.update(_drawn(run_dir))
    moved: list[Path] = []
    for held in reversed(held_dirs):
        moved += publish_figures(held, figures)
        shutil.rmtree(held, ignore_errors=True)
    return moved


def _drawn(run_dir: Path) -> list[str]:
    """The figure names a finished task recorded in its ``task.json`` (none for a record from before the
    field existed, or one that cannot be read)."""
    try:
        names = json.loads((run_dir / TASK_FILE).read_text(encoding="utf-8")).get("figures", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in names if isinstance(n, str) and n and not Path(n).is_absolute() and ".." not in Path(n).parts]


def publish_figures(staged: Path, figures: Path) -> list[Path]:
    """Move a finished task's figures from its run dir into the figures dir, each by an atomic rename (or
    a copy then rename across file systems), so that a killed task never leaves half its figures there."""
    if not staged.is_dir():
        return []
    figures.mkdir(parents=True, exist_ok=True)
    moved = []
    for src in sorted(p for p in staged.rglob("*") if p.is_file()):
        dest = figures / src.relative_to(staged)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        moved.append(dest)
    return moved


def describe_error(err: BaseException) -> str:
    """One line naming the failing cell and its exception (papermill's own message is a whole traceback)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        return f"cell {err.cell_index} (In [{err.exec_count}]): {err.ename}: {err.evalue}"[:2000]
    return f"{type(err).__name__}: {err}"[:2000]


def execute_task(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task where it is called (a Dask worker): papermill into the task's run dir, ``task.json`` last.

    ``spec`` is plain data (paths as strings) so it pickles to any worker: ``name``, ``notebook``,
    ``run_dir``, ``params``, ``key``, ``threads``, ``code``, ``env``, ``cwd``. A notebook's failure is returned as a
    record with ``status: failed``; only a broken worker raises.
    """
    import papermill as pm

    run_dir = Path(spec["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(spec["notebook"]).stem
    with open(run_dir / TASK_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for a worker orphaned by a killed batch to finish this task
        done = finished_task(run_dir)
        if done is not None:
            return {**done, "cached": True}
        record: dict[str, Any] = {
            "name": spec["name"],
            "notebook": spec["notebook"],
            "key": spec["key"],
            "run_id": run_dir.name,
            "parameters": dict(spec["params"]),
            "code_version": spec["code"],
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        for stale in run_dir.iterdir():  # an unfinished attempt's outputs are never results: none may outlive a failed rerun
            if stale.name != TASK_LOCK and stale.is_file():
                stale.unlink()
        staged = run_dir / STAGED_FIGURES
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(run_dir / HELD_FIGURES, ignore_errors=True)
        params = {**spec["params"], "figures_dir": str(staged)} if "figures_dir" in spec["params"] else dict(spec["params"])
        running = run_dir / f".{stem}.running.ipynb"
        modules_file = run_dir / MODULES_FILE
        # The code as the task starts (an edit made while it runs makes it stale): the planner's digests when
        # this worker's files have the planner's stamp, i.e. nothing was edited since.
        known = (spec["stamp"], spec["digests"]) if spec.get("stamp") is not None and spec.get("digests") is not None else None
        digests = library_digests(known=known)
        start = time.perf_counter()
        with open(run_dir / LOG_FILE, "w", encoding="utf-8") as log:
            print(f"[batch] {spec['name']}  key {spec['key']}  on {record['host']} pid {record['pid']}", file=log, flush=True)
            try:
                planned = spec.get("digests")
                differ = differing_modules(digests, planned) if planned is not None else []
                if differ or (planned is None and code_version() != spec["code"]):
                    raise RuntimeError(
                        f"this worker's unlearn_lib ({Path(__file__).parent.parent}) differs from the batch's"
                        + (f" in {', '.join(differ[:5])}" if differ else f" (code {spec['code'][:12]})")
                        + ": install the same code on every worker"
                    )
                with CellProgress(spec["name"], stream=log, live=False) as reporter:
                    pm.execute_notebook(
                        spec["notebook"],
                        str(running),
                        parameters=params,
                        kernel_name="python3",
                        progress_bar=False,
                        engine_name=progress_engine(),
                        progress=reporter,
                        modules_file=str(modules_file),
                        kernel_env=kernel_env(spec.get("threads"), spec.get("env") or {}),
                        kernel_cwd=spec["cwd"],
                        stdout_file=log,
                        stderr_file=log,
                    )
                record["modules"] = ran_modules(modules_file, digests)
                record["outputs"] = output_checksums(run_dir)
                record["status"] = "ok"
            except Exception as err:
                record.update(status="failed", error=describe_error(err))
                print(f"[batch] {spec['name']} failed: {record['error']}\n{traceback.format_exc()}", file=log, flush=True)
            finally:
                if running.exists():
                    os.replace(running, run_dir / f"{stem}.ipynb")
                modules_file.unlink(missing_ok=True)
            record["seconds"] = time.perf_counter() - start
            record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            record["metrics"] = (run_dir / "metrics.csv").is_file()
            if record["status"] == "ok" and staged.is_dir():  # which names it drew: a later part rerun alone must not take them
                record["figures"] = sorted(f.relative_to(staged).as_posix() for f in staged.rglob("*") if f.is_file())
            print(f"[batch] {spec['name']}: {record['status']} in {record['seconds']:.1f}s", file=log, flush=True)
        atomic_write_json(run_dir / TASK_FILE, record)
        if record["status"] == "ok" and "figures_dir" in spec["params"]:
            if spec.get("hold_figures") and staged.is_dir():
                os.replace(staged, run_dir / HELD_FIGURES)  # published once every part has finished
            else:
                publish_figures(staged, Path(spec["params"]["figures_dir"]))
        shutil.rmtree(staged, ignore_errors=True)
        return {**record, "cached": False}
