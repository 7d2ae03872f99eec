"""Run a batch's tasks as Dask tasks, each a papermill execution into its own run directory.

Layout under the out dir (``OUT``)::

    OUT/.batch.lock                  held (flock) by the one batch writing OUT
    OUT/batch.json                   the batch's request and every task's state, rewritten after each task
    OUT/<stem>/latest.json           {"runs": [...]}: every task of this notebook in the last batch
    OUT/<stem>/<run_id>/             one task: metrics.csv, run.json, summary.md (from the notebook),
                        <stem>.ipynb  the executed copy (written as .<stem>.running.ipynb, then renamed),
                        task.log      cell progress and the kernel's stdout / stderr,
                        task.json     written LAST: status, seconds, parameters, key

A task's ``task.json`` records the ``unlearn_lib`` modules its kernel imported, each with its code's
digest (:mod:`.codekeys`). A run of the task's content key (:func:`~.plan.task_key`) whose ``task.json``
says ``ok``, whose ``metrics.csv`` exists and whose modules are unchanged is finished: a restarted batch
skips it and redoes only the rest; an edit to code the task never ran leaves it finished. A task also holds ``.task.lock`` while it runs, so a worker orphaned by a killed batch and
the restarted batch never write the same run directory at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import socket
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..codekeys import library_digests
from ..params import check_readable
from ..results import BATCH_LOCK, BATCH_TASK_ENV, TASK_LOCK, set_latest
from ..utils import atomic_write_json, check_writable_dir
from .merge import merge_parts
from .plan import REPO_ROOT, TASK_FILE, Run, code_version, file_sha256, find_notebooks, finished_task, plan_runs, why_unfinished
from .profiles import load_profile, parse_set
from .progress import CellProgress, TaskBar, progress_engine

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
MODULES_FILE = ".modules.txt"
#: Inside a run dir: the figures a task draws, moved into the figures dir only once the task is ok.
STAGED_FIGURES = "figures"
#: The outputs whose checksums ``task.json`` records; a finished task must still match them.
CHECKED_OUTPUTS = ("metrics.csv", "run.json", "summary.md")
LOG_FILE = "task.log"
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
        params = {**spec["params"], "figures_dir": str(staged)} if "figures_dir" in spec["params"] else dict(spec["params"])
        running = run_dir / f".{stem}.running.ipynb"
        modules_file = run_dir / MODULES_FILE
        digests = library_digests()  # the code as the task starts: an edit made while it runs makes it stale
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
            print(f"[batch] {spec['name']}: {record['status']} in {record['seconds']:.1f}s", file=log, flush=True)
        atomic_write_json(run_dir / TASK_FILE, record)
        if record["status"] == "ok" and "figures_dir" in spec["params"]:
            publish_figures(staged, Path(spec["params"]["figures_dir"]))
        shutil.rmtree(staged, ignore_errors=True)
        return {**record, "cached": False}


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
            atomic_write_json(out / "batch.json", record)
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
            if split is not None and len(ok) == len(mine):  # every part finished: one merged summary over them
                values = [v for r in mine for v in r.params[split]]
                merged = merge_parts(mine[0].notebook.stem, nb_out, [(r.key, r.run_dir) for r in mine], split, values, figures)
                bar.write(f"[batch] {mine[0].notebook.stem}: {len(mine)} parts merged  -> {merged}")
                record.setdefault("merged", {})[mine[0].notebook.stem] = str(merged)
            elif split is not None:
                bar.write(f"[batch] {mine[0].notebook.stem}: {len(mine) - len(ok)} of {len(mine)} parts failed; not merged")
        record["finished"] = True
        if not unchanged:
            atomic_write_json(out / "batch.json", record)
    return summary


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
                atomic_write_json(out / "batch.json", record)
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
    return {
        "name": run.name,
        "notebook": str(run.notebook.resolve()),
        "run_dir": str(run.run_dir.resolve()),
        "params": run.params,
        "key": run.key,
        "threads": run.threads,
        "code": code,
        "digests": library_digests(),
        "env": dict(env),
        "cwd": str(cwd),
    }
