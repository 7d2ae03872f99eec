"""Run a batch's tasks as Dask tasks, each a papermill execution into its own run directory.

Layout under the out dir (``OUT``)::

    OUT/.batch.lock                  held (flock) by the one batch writing OUT
    OUT/batch.json                   the batch's request and every task's state, rewritten after each task
    OUT/<stem>/latest.json           {"runs": [...]}: every task of this notebook in the last batch
    OUT/<stem>/<run_id>/             one task's run directory (:mod:`.task`: its files, task.json last)

A run of the task's content key (:func:`~.plan.task_key`) whose ``task.json`` says ``ok``, whose
``metrics.csv`` exists and whose recorded modules are unchanged is finished: a restarted batch skips it
and redoes only the rest; an edit to code the task never ran leaves it finished.

This module is the driver: it checks the request, holds the out dir's lock, hands tasks to Dask workers
(longest first) and writes ``batch.json`` and each notebook's ``latest.json``. What runs on a worker,
:func:`~.task.execute_task`, is in :mod:`.task`; the plan and the task keys are in :mod:`.plan`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import sys
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..codekeys import stamped_digests
from ..params import check_readable
from ..results import BATCH_LOCK, set_latest
from ..utils import atomic_write_json, check_writable_dir
from .merge import merge_parts
from .plan import REPO_ROOT, Run, code_version, find_notebooks, finished_task, plan_runs, why_unfinished
from .profiles import load_profile, parse_set
from .progress import TaskBar
from .task import LOG_FILE, execute_task, publish_parts_figures

__all__ = [
    "BatchLocked",
    "default_figures",
    "default_workers",
    "execute_task",
    "finished_task",
    "out_dir_lock",
    "previous_seconds",
    "run_batch",
    "task_order",
]

LOCK_FILE = BATCH_LOCK
#: Environment variables of the batch's own process that every task's kernel gets, wherever it runs
#: (a flag such as UNLEARN_NO_CACHE or UNLEARN_PROGRESS must reach workers of an external cluster too).
FORWARDED_PREFIX = "UNLEARN_"
DASHBOARD = "127.0.0.1:8787"


class BatchLocked(ValueError):
    """Another batch holds the out dir's lock."""


def default_figures(out: Path) -> Path:
    """The repository's ``figures/`` for its own ``results/``; ``OUT/figures`` for any other out dir, so that
    a trial run elsewhere never overwrites the committed figures."""
    return REPO_ROOT / "figures" if Path(out).resolve() == (REPO_ROOT / "results").resolve() else Path(out) / "figures"


#: Set to allow more local workers than :func:`max_workers` (a large machine, or on purpose).
MAX_WORKERS_ENV = "UNLEARN_MAX_WORKERS"


def max_workers() -> int:
    """The most local workers a batch starts: 4 per core, or ``$UNLEARN_MAX_WORKERS``. Why: ``--workers 1000``
    on 2 cores started process after process instead of saying it was a typo."""
    try:
        return max(1, int(os.environ[MAX_WORKERS_ENV]))
    except (KeyError, ValueError):
        return 4 * default_workers()


def _creatable(path: Path, name: str) -> Path:
    """``path`` exists as a directory after this, or the batch stops naming it: permission bits do not tell
    everything (a read-only mount, /proc, a full disk), so the directory is made before any work."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{name}: {path} cannot be created ({err.strerror or err})") from None
    return path


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """``--scheduler`` is ``tcp://HOST:PORT`` (or ``HOST:PORT``) and something listens there, checked before
    any work (Dask's own client waits 30 s and then raises a bare ``OSError``)."""
    text = str(address)
    hostport = text.split("://", 1)[1] if "://" in text else text
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--scheduler must be tcp://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise ValueError(
            f"--scheduler {address}: no Dask scheduler answers there ({err.strerror or err}); start one with `dask scheduler`"
        ) from None


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def out_dir_lock(out: Path) -> Iterator[Path]:
    """Hold ``OUT/.batch.lock`` (non-blocking ``flock``) for the whole batch: a second batch on the same
    out dir is refused at once, naming the holder, instead of interleaving writes with the first."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    with open(path, "a+") as fh:  # closing it releases the flock, also when the process dies
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise BatchLocked(f"another batch is writing {out} ({path} is held by {holder}); wait for it, or use another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        fh.flush()
        yield path


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None, dashboard: str | None = DASHBOARD) -> Iterator[Any]:
    """A client of ``scheduler`` (an existing cluster), else of a local cluster of ``workers`` processes
    with one thread each (one notebook kernel per worker at a time)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers or default_workers(),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=dashboard,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def dashboard_line(client: Any) -> str:
    services = client.scheduler_info().get("services", {})
    if "dashboard" not in services:
        return "[batch] Dask dashboard: unavailable (it needs bokeh: pip install bokeh)"
    return f"[batch] Dask dashboard: {client.dashboard_link}"


def _row(record: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """A task's line in ``batch.json`` and in ``run_batch``'s summary."""
    row = {
        "status": record.get("status", "failed"),
        "seconds": float(record.get("seconds", 0.0)),
        "output_dir": str(run.run_dir),
        "run_id": run.run_id,
        "key": run.key,
        "log": str(run.run_dir / LOG_FILE),
        "cached": bool(record.get("cached", False)),
    }
    if record.get("error"):
        row["error"] = record["error"]
    return row


def run_batch(
    profile_name: str | Path = "default",
    only: Sequence[str] | None = None,
    out: str | Path = "results",
    notebooks_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    sets: Sequence[str] = (),
    seeds: Sequence[int] | None = None,
    progress: bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    env: Mapping[str, str] | None = None,
    dashboard: str | None = DASHBOARD,
) -> dict[str, dict[str, Any]]:
    """Run every task on Dask; returns ``{task: {status, seconds, output_dir, run_id, key, log, cached, error?}}``.

    A task is a notebook stem, or ``stem/seed<k>`` when ``--seeds`` splits a single-seed notebook.
    Finished tasks (same content key) are skipped, the rest run on a local cluster of ``workers``
    processes (default: one per core) or on the cluster at ``scheduler``. ``OUT/batch.json`` is rewritten
    after every task and each notebook's ``latest.json`` lists all of its tasks at the end. ``env`` adds
    environment variables for every kernel (besides the ``UNLEARN_*`` ones of this process);
    ``progress`` None follows ``UNLEARN_PROGRESS`` (``0`` hides the tqdm bar).
    """
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"--workers must be an int >= 1, got {workers!r}")
    if workers is not None and workers > max_workers():
        raise ValueError(
            f"--workers {workers} is more than {max_workers()} (4 per core here): each worker is a process running a notebook "
            f"kernel; to start that many on purpose, set {MAX_WORKERS_ENV}={workers}"
        )
    if workers is not None and scheduler:
        raise ValueError("--workers sizes the local cluster; with --scheduler the cluster's own workers run the tasks")
    if scheduler:
        check_scheduler(scheduler)
    profile = load_profile(profile_name)
    overrides = [parse_set(s) for s in sets]
    if notebooks_dir is not None:
        check_readable(notebooks_dir, "--notebooks", directory=True)
    notebooks, stems = find_notebooks(notebooks_dir, only)
    nb_dir = notebooks[0].parent.resolve()
    out = check_writable_dir(out, "--out")
    figures = check_writable_dir(figures_dir, "--figures") if figures_dir else default_figures(out)
    code = code_version()
    runs = plan_runs(profile, notebooks, stems, out, figures, overrides, seeds, code=code)  # every check before any work
    _creatable(out, "--out")
    _creatable(figures, "--figures")
    if progress is None:
        progress = os.environ.get("UNLEARN_PROGRESS", "1") != "0"
    task_env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIX)} | dict(env or {})
    with out_dir_lock(out):
        summary = {run.name: {**_row({"status": "pending"}, run)} for run in runs}
        record: dict[str, Any] = {
            "profile": profile["name"],
            "profile_path": str(profile["path"]),
            "sets": list(sets),
            "seeds": list(seeds or []),
            "code_version": code,
            "scheduler": scheduler or f"local ({workers or default_workers()} workers)",
            "finished": False,
            "notebooks": summary,
        }
        todo: list[Run] = []
        for run in runs:
            done = finished_task(run.run_dir)
            if done is None:
                todo.append(run)
            else:
                summary[run.name] = _row({**done, "cached": True}, run)
        seconds = previous_seconds(out)  # read before this batch's record replaces it
        # Nothing to run and the same runs as the last batch: its batch.json stays as it is (a second
        # make study leaves the tracked results untouched).
        unchanged = not todo and same_runs(out / "batch.json", summary)
        if not unchanged:
            write_record(out, record)
        bar = TaskBar(len(runs), enabled=progress)
        cached = len(runs) - len(todo)
        counts = {"done": cached, "running": 0, "failed": 0, "cached": cached}
        bar.write(f"[batch] profile {profile['name']}: {len(runs)} task(s), {cached} finished before, {len(todo)} to run")
        for run in todo:
            reason = why_unfinished(run.output_dir, run.key)
            if reason:
                bar.write(f"[batch] {run.name} runs again: {reason}")
        bar.update(**counts)
        try:
            if todo:
                _run_on_dask(todo, summary, record, out, bar, counts, workers, scheduler, dashboard, code, task_env, nb_dir, seconds)
        finally:
            bar.close()
        for nb_out in dict.fromkeys(run.output_dir for run in runs):  # merge: latest.json lists every task's run
            mine = [r for r in runs if r.output_dir == nb_out]
            ok = [r for r in mine if summary[r.name]["status"] == "ok" and (r.run_dir / "metrics.csv").is_file()]
            if ok:
                set_latest(nb_out, [r.run_id for r in ok])
            split = mine[0].split
            if split is not None:  # in split order, whichever part finished last: the first part owns a shared figure name
                publish_parts_figures([r.run_dir for r in ok], figures)
            if split is not None and len(ok) == len(mine):  # every part finished: one merged summary over them
                values = [v for r in mine for v in r.params[split]]
                merged = merge_parts(mine[0].notebook.stem, nb_out, [(r.key, r.run_dir) for r in mine], split, values, figures)
                bar.write(f"[batch] {mine[0].notebook.stem}: {len(mine)} parts merged  -> {merged}")
                record.setdefault("merged", {})[mine[0].notebook.stem] = str(merged)
            elif split is not None:
                bar.write(f"[batch] {mine[0].notebook.stem}: {len(mine) - len(ok)} of {len(mine)} parts failed; not merged")
        record["finished"] = True
        if not unchanged:
            write_record(out, record)
    return summary


def _portable(path: object, base: Path) -> object:
    """``path`` relative to ``base`` when it lies inside it (posix separators), else unchanged."""
    try:
        return Path(str(path)).resolve().relative_to(base).as_posix()
    except (ValueError, OSError):
        return path


def write_record(out: Path, record: Mapping[str, Any]) -> Path:
    """Write ``OUT/batch.json`` with portable paths: run dirs, logs and merged results relative to ``out``,
    a profile shipped in the repo relative to the repo. Why: ``results/batch.json`` is committed, and
    absolute paths named the machine that ran it, so a clone elsewhere read paths that do not exist there."""
    base = out.resolve()
    disk = json.loads(json.dumps(record, default=str))
    for row in disk.get("notebooks", {}).values():
        for key in ("output_dir", "log"):
            if key in row:
                row[key] = _portable(row[key], base)
    if "merged" in disk:
        disk["merged"] = {stem: _portable(p, base) for stem, p in disk["merged"].items()}
    if "profile_path" in disk:
        disk["profile_path"] = _portable(disk["profile_path"], REPO_ROOT.resolve())
    return atomic_write_json(out / "batch.json", disk)


def same_runs(path: Path, summary: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the finished batch recorded at ``path`` had exactly these tasks, each ok in the same run."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    rows = old.get("notebooks") if isinstance(old, dict) and old.get("finished") else None
    if not isinstance(rows, dict) or set(rows) != set(summary):
        return False
    return all(
        isinstance(rows[n], dict) and rows[n].get("status") == "ok" and rows[n].get("run_id") == r["run_id"] for n, r in summary.items()
    )


def previous_seconds(out: Path) -> dict[str, float]:
    """Each task's measured seconds in the out dir's last ``batch.json`` (by task name), for ordering."""
    try:
        rows = json.loads((out / "batch.json").read_text()).get("notebooks", {})
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return {}
    return {name: float(r["seconds"]) for name, r in rows.items() if isinstance(r, dict) and float(r.get("seconds") or 0) > 0}


def task_order(todo: Sequence[Run], seconds: Mapping[str, float]) -> list[Run]:
    """Longest first (by last batch's seconds); tasks never timed come first, in plan order.

    Why: with one task per worker at a time, the longest task starting last would leave every other
    worker idle at the end; longest-first bounds the batch's wall time by about the longest task plus
    an even share of the rest."""
    return sorted(todo, key=lambda run: -seconds.get(run.name, math.inf))


def _run_on_dask(
    todo: Sequence[Run],
    summary: dict[str, dict[str, Any]],
    record: dict[str, Any],
    out: Path,
    bar: TaskBar,
    counts: dict[str, int],
    workers: int | None,
    scheduler: str | None,
    dashboard: str | None,
    code: str,
    env: Mapping[str, str],
    cwd: Path,
    seconds: Mapping[str, float],
) -> None:
    """Hand tasks to workers one per worker thread, longest first, then follow them: the bar, one line
    and a ``batch.json`` per finished task.

    Why not submit everything at once: Dask then queues several tasks on one worker up front (it cannot
    know a notebook takes an hour), and a long one may wait there while another worker sits idle. Here
    a task is only submitted to a worker with a free thread, pinned there (``allow_other_workers`` lets
    Dask move it should that worker die)."""
    from distributed import wait

    with dask_client(workers, scheduler, dashboard) as client:
        bar.write(dashboard_line(client))
        queue = deque(task_order(todo, seconds))
        running: dict[Any, tuple[Run, str]] = {}
        while queue or running:
            threads = client.nthreads()
            if not threads and not running:
                bar.write("[batch] waiting for a Dask worker to join the cluster")
                client.wait_for_workers(1)
                continue
            busy = Counter(worker for _, worker in running.values())
            for worker, n in sorted(threads.items()):
                while queue and busy[worker] < n:
                    run = queue.popleft()
                    future = client.submit(
                        execute_task,
                        _spec(run, code, env, cwd),
                        key=f"{run.name.replace('/', '-')}-{run.run_id}",
                        pure=False,
                        workers=[worker],
                        allow_other_workers=True,
                    )
                    running[future] = (run, worker)
                    busy[worker] += 1
                    bar.write(f"[batch] {run.name}: started on {worker}")
            counts["running"] = len(running)
            bar.update(**counts)
            try:
                done, _ = wait(list(running), timeout=1, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                run, _ = running.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # the worker itself broke (killed, out of memory, cannot import)
                    result = {"status": "failed", "error": f"task did not run: {type(err).__name__}: {err}"[:2000]}
                row = summary[run.name] = _row(result, run)
                counts["done" if row["status"] == "ok" else "failed"] += 1
                counts["cached"] += int(row["cached"])
                write_record(out, record)
                tail = f" (finished by another worker before: {run.run_dir})" if row["cached"] else f"  -> {run.run_dir}"
                line = f"[batch] {run.name}: {row['status']} in {row['seconds']:.0f}s{tail}"
                if row["status"] != "ok":
                    line += f"\n[batch]   {row.get('error', '?')}\n[batch]   log: {row['log']}"
                bar.write(line)
        counts["running"] = 0
        bar.update(**counts)
    sys.stdout.flush()


def _spec(run: Run, code: str, env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """A task as plain data (paths as strings), so that it pickles to any worker."""
    stamp, digests = stamped_digests()  # a worker whose files have this stamp takes the digests instead of parsing
    return {
        "name": run.name,
        "notebook": str(run.notebook.resolve()),
        "run_dir": str(run.run_dir.resolve()),
        "params": run.params,
        "key": run.key,
        "threads": run.threads,
        "code": code,
        "digests": digests,
        "stamp": stamp,
        "env": dict(env),
        "cwd": str(cwd),
        "hold_figures": run.split is not None,  # a part: its figures wait for the others (publish_parts_figures)
    }
