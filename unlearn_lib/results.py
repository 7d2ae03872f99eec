"""Tidy results (schema v2): every run writes ``metrics.csv`` and ``run.json`` into its own directory.

One row per (run, experiment, scenario, dataset, model, method, seed, split, metric) with its value,
so tables and figures are pivots of the saved file and never of numbers typed by hand. What used to
be packed into strings has its own column: ``epoch``, ``step`` and ``phase`` for curves, ``tuning_lr``
and ``tuning_epochs`` for a tuning grid, ``forget_size``, ``forget_fraction`` and ``group`` for analyses (empty where
they do not apply). Runs are kept side by side, never overwritten::

    results/<notebook>/<run_id>/metrics.csv, run.json, summary.md, ...
    results/<notebook>/latest.json      {"runs": [<run_id>, ...]}  (what readers load by default;
                                        a split notebook's also names "merged": its parts' merged summary)

:func:`load_runs` reads any number of runs (of one or several notebooks) into one DataFrame.
"""

from __future__ import annotations

import io
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .utils import atomic_write, atomic_write_json, atomic_write_text

__all__ = [
    "BATCH_LOCK",
    "BATCH_TASK_ENV",
    "COLUMNS",
    "EXTRA_COLUMNS",
    "SCHEMA_VERSION",
    "TASK_LOCK",
    "ResultsRecorder",
    "check_run_id",
    "environment_info",
    "example_frame",
    "latest_merged",
    "latest_runs",
    "load_examples",
    "load_metrics",
    "load_runs",
    "new_run_id",
    "prune_runs",
    "run_dirs",
    "set_latest",
    "unfinished",
]

SCHEMA_VERSION = 2
#: Explicit settings of a row, each empty where it does not apply (never packed into ``scenario``).
EXTRA_COLUMNS = ("epoch", "step", "phase", "tuning_lr", "tuning_epochs", "forget_size", "forget_fraction", "group", "budget")
#: Columns added to schema v2 after its first runs: a file written before them reads them as empty
#: (``budget``: the optimizer-step budget of a row, as a fraction of retrain's steps; empty for a
#: method on its own schedule).
LATER_COLUMNS = ("budget",)
COLUMNS = [
    "run_id",
    "timestamp",
    "experiment",
    "scenario",
    "dataset",
    "model",
    "method",
    "seed",
    "split",
    "metric",
    "value",
    *EXTRA_COLUMNS,
]
LATEST = "latest.json"
#: Per-example outputs of a run (Parquet): the keys of ``COLUMNS`` up to ``split``, then ``id`` (index
#: into the split's source set: the training set for forget / retain / val), ``label``, ``loss``,
#: ``correct``, ``mia_score`` (the loss attack's score: higher is more member-like), optional ``group``
#: and one ``prob_<k>`` column per class.
EXAMPLES = "examples.parquet"
#: Arrays a run keeps for drill-down (e.g. a GAN's samples from fixed latent codes), as ``arrays.npz``.
ARRAYS = "arrays.npz"


def check_run_id(run_id: object) -> str:
    """A run id names a directory: a non-empty name without '/' that is not hidden."""
    if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id.startswith("."):
        raise ValueError(f"run_id must be a non-empty name without '/', got {run_id!r}")
    return run_id


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC time to the second plus 6 random hex digits."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


_PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "monai", "nilearn", "mlxtend", "papermill", "unlearn-study")


def environment_info(device: torch.device | str | None = None) -> dict[str, Any]:
    """Python, platform, package versions and device: enough to know what produced a number."""
    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "torch_threads": torch.get_num_threads(),
    }
    if device is not None:
        dev = torch.device(device)
        info["device"] = str(dev)
        if dev.type == "cuda":
            info["device_name"] = torch.cuda.get_device_name(dev)
    return info


class ResultsRecorder:
    """Collects tidy metric rows and wall times for one notebook run, then writes them atomically."""

    def __init__(self, experiment: str, dataset: str, model: str, run_id: str | None = None) -> None:
        for name, value in (("experiment", experiment), ("dataset", dataset), ("model", model)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if run_id is not None:
            check_run_id(run_id)
        self.experiment, self.dataset, self.model = experiment, dataset, model
        self.run_id = run_id or new_run_id()
        self.timestamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.rows: list[dict[str, Any]] = []
        self.examples: list[pd.DataFrame] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.times: dict[str, float] = {}
        self.started = time.time()

    def add(self, *, scenario: str, method: str, seed: int, split: str, metric: str, value: float, **extra: Any) -> None:
        """One row; ``extra`` holds explicit settings from :data:`EXTRA_COLUMNS` (``epoch=3``)."""
        unknown = sorted(set(extra) - set(EXTRA_COLUMNS))
        if unknown:
            raise ValueError(f"unknown result column(s) {unknown}; valid: {list(EXTRA_COLUMNS)}")
        self.rows.append(
            {
                "run_id": self.run_id,
                "timestamp": self.timestamp,
                "experiment": self.experiment,
                "scenario": scenario,
                "dataset": self.dataset,
                "model": self.model,
                "method": method,
                "seed": int(seed),
                "split": split,
                "metric": metric,
                "value": float(value),
                **extra,
            }
        )

    def add_many(self, *, scenario: str, method: str, seed: int, values: Mapping[tuple[str, str], float], **extra: Any) -> None:
        """Add ``{(split, metric): value}`` for one method (``extra`` as in :meth:`add`)."""
        for (split, metric), value in values.items():
            self.add(scenario=scenario, method=method, seed=seed, split=split, metric=metric, value=value, **extra)

    def add_examples(self, frame: pd.DataFrame, *, scenario: str, method: str, seed: int, split: str, **extra: Any) -> None:
        """Per-example outputs of one model on one split (:func:`example_frame`), saved as ``examples.parquet``."""
        unknown = sorted(set(extra) - set(EXTRA_COLUMNS))
        if unknown:
            raise ValueError(f"unknown result column(s) {unknown}; valid: {list(EXTRA_COLUMNS)}")
        keys = {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "scenario": scenario,
            "method": method,
            "seed": int(seed),
            "split": split,
        }
        self.examples.append(frame.assign(**keys, **extra)[[*keys, *extra, *frame.columns]])

    def add_array(self, name: str, array: np.ndarray) -> None:
        """Keep one array (saved in ``arrays.npz`` under ``name``, e.g. ``"samples/class/gan_cascaded"``)."""
        if not isinstance(name, str) or not name or name in self.arrays:
            raise ValueError(f"array name must be a new non-empty string, got {name!r}")
        self.arrays[name] = np.asarray(array)

    def add_time(self, key: str, seconds: float) -> None:
        self.times[key] = float(seconds)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def write(self, output_dir: str | os.PathLike, parameters: Mapping[str, Any], device: torch.device | str | None = None) -> Path:
        """Write ``metrics.csv`` and ``run.json`` into ``output_dir/<run_id>/`` and point
        ``output_dir/latest.json`` at this run; each file appears whole or not at all. Returns the run dir."""
        out = Path(output_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"output_dir {out} exists and is not a directory")
        if not self.rows:
            raise ValueError("no metrics recorded: refusing to write an empty results file")
        run_dir = out / self.run_id
        buf = io.StringIO()
        self.frame().to_csv(buf, index=False)
        atomic_write_text(run_dir / "metrics.csv", buf.getvalue())
        if self.examples:
            frame = pd.concat(self.examples, ignore_index=True)
            atomic_write(run_dir / EXAMPLES, lambda tmp: frame.to_parquet(tmp, index=False))
        if self.arrays:
            atomic_write(run_dir / ARRAYS, lambda tmp: np.savez_compressed(tmp, **self.arrays))
        run = {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "experiment": self.experiment,
            "dataset": self.dataset,
            "model": self.model,
            "parameters": dict(parameters),
            "wall_seconds": self.times,
            "total_seconds": time.time() - self.started,
            **environment_info(device),
        }
        atomic_write_json(run_dir / "run.json", run)
        if os.environ.get(BATCH_TASK_ENV) != "1":  # a batch task is published by the batch, once it is ok
            set_latest(out, [self.run_id])
        return run_dir


#: Set to ``1`` in the kernel of a batch task: its run is published (``latest.json``) by the batch once
#: the task's ``task.json`` says ok, never by the notebook midway.
BATCH_TASK_ENV = "UNLEARN_BATCH_TASK"
#: A batch's lock in its out dir (``flock``); :func:`prune_runs` takes it too.
BATCH_LOCK = ".batch.lock"
#: Held by a batch task while it runs; with no ok ``task.json`` beside it the run is unfinished.
TASK_LOCK = ".task.lock"


def unfinished(run_dir: str | os.PathLike) -> bool:
    """A batch task's run without an ok ``task.json`` (killed, failed, or still running): never loaded
    through ``latest.json``, merged, shown or kept over a complete run. A run written by hand (no
    ``.task.lock``) is judged by its ``metrics.csv`` alone."""
    run_dir = Path(run_dir)
    if not (run_dir / TASK_LOCK).exists():
        return False
    try:
        return json.loads((run_dir / "task.json").read_text()).get("status") != "ok"
    except (OSError, ValueError, AttributeError):
        return True


def set_latest(output_dir: str | os.PathLike, run_ids: Iterable[str], merged: str | None = None) -> Path:
    """Point ``output_dir/latest.json`` at these runs (the batch lists every seed's and every part's run
    of one batch) and, for a split notebook, at the merged summary of its parts (a dir under ``output_dir``)."""
    runs = list(run_ids)
    out = Path(output_dir)
    missing = [r for r in runs if not (out / r / "metrics.csv").is_file()]
    if missing:
        raise ValueError(f"cannot point {out / LATEST} at runs without metrics: {missing}")
    open_ = [r for r in runs if unfinished(out / r)]
    if open_:
        raise ValueError(f"cannot point {out / LATEST} at unfinished batch runs (no ok task.json): {open_}")
    if merged is not None and not (out / merged / "summary.md").is_file():
        raise ValueError(f"cannot point {out / LATEST} at a merged result without a summary: {out / merged}")
    return atomic_write_json(out / LATEST, {"runs": runs} if merged is None else {"runs": runs, "merged": merged})


def latest_merged(output_dir: str | os.PathLike) -> Path | None:
    """The merged result (``summary.md`` over every part) that ``output_dir/latest.json`` points at, if any."""
    path = Path(output_dir) / LATEST
    merged = json.loads(path.read_text()).get("merged") if path.is_file() else None
    return Path(output_dir) / merged if isinstance(merged, str) and merged else None


def latest_runs(output_dir: str | os.PathLike) -> list[str]:
    """The run ids ``output_dir/latest.json`` points at."""
    path = Path(output_dir) / LATEST
    if not path.is_file():
        raise FileNotFoundError(f"no {LATEST} in {output_dir}: no run has finished there yet")
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not JSON ({err}): rerun the batch, or delete it") from None
    runs = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(runs, list) or not runs or not all(isinstance(r, str) and r and "/" not in r for r in runs):
        raise ValueError(f'{path} lists no runs (expected {{"runs": ["<run_id>", ...]}})')
    return runs


def run_dirs(path: str | os.PathLike, which: str = "latest") -> list[Path]:
    """The run directories a path stands for: a run dir itself (it holds ``metrics.csv``), or a
    notebook's results dir (its latest runs, or ``which="all"`` for every run kept there)."""
    path = Path(path)
    if (path / "metrics.csv").is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no results at {path}")
    if which == "all":
        dirs = sorted(p.parent for p in path.glob("*/metrics.csv") if not unfinished(p.parent))
        if not dirs:
            raise FileNotFoundError(f"no finished runs (*/metrics.csv) under {path}")
        return dirs
    if which != "latest":
        raise ValueError(f"which must be 'latest' or 'all', got {which!r}")
    dirs = [path / r for r in latest_runs(path)]
    open_ = [d.name for d in dirs if unfinished(d)]
    if open_:
        raise ValueError(f"{path / LATEST} names unfinished batch runs {open_} (no ok task.json): rerun the batch")
    return dirs


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=True)
    for c in LATER_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing} (results schema v{SCHEMA_VERSION}; re-run its notebook)")
    return df


def _dirs_under(paths: str | os.PathLike | Iterable[str | os.PathLike], which: str) -> list[Path]:
    """The run dirs ``paths`` stand for: run dirs, notebook dirs, or a ``results/`` root of notebook dirs."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    dirs: list[Path] = []
    for p in map(Path, paths):
        if (p / "metrics.csv").is_file() or (p / LATEST).is_file() or (which == "all" and any(p.glob("*/metrics.csv"))):
            dirs += run_dirs(p, which)
        elif p.is_dir() and any(p.glob(f"*/{LATEST}")):
            for nb in sorted(q.parent for q in p.glob(f"*/{LATEST}")):
                dirs += run_dirs(nb, which)
        else:
            raise FileNotFoundError(f"no results at {p}")
    return dirs


def load_runs(paths: str | os.PathLike | Iterable[str | os.PathLike], which: str = "latest") -> pd.DataFrame:
    """Every row of every run under ``paths`` (run dirs, notebook dirs, or a ``results/`` root holding
    notebook dirs) in one DataFrame; ``run_id`` tells them apart."""
    return pd.concat([_read(d / "metrics.csv") for d in _dirs_under(paths, which)], ignore_index=True)


def example_frame(outputs: Any, ids: np.ndarray, **meta: np.ndarray) -> pd.DataFrame:
    """Per-example rows of one model on one split from its :class:`~unlearn_lib.metrics.ModelOutputs`:
    id, label, loss, correct, mia_score, any ``meta`` columns (e.g. group) and class probabilities."""
    ids = np.asarray(ids)
    if len(ids) != len(outputs.loss):
        raise ValueError(f"ids has {len(ids)} entries for {len(outputs.loss)} examples")
    frame = pd.DataFrame(
        {
            "id": ids.astype(np.int64),
            "label": np.asarray(outputs.targets).astype(np.int64),
            "loss": np.asarray(outputs.loss, dtype=np.float64),
            "correct": np.asarray(outputs.correct).astype(bool),
            "mia_score": -np.asarray(outputs.loss, dtype=np.float64),
            **{k: np.asarray(v) for k, v in meta.items()},
        }
    )
    if outputs.logits is not None:
        logits = np.asarray(outputs.logits, dtype=np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        frame = pd.concat([frame, pd.DataFrame(probs.astype(np.float32), columns=[f"prob_{k}" for k in range(probs.shape[1])])], axis=1)
    return frame


def load_examples(paths: str | os.PathLike | Iterable[str | os.PathLike], which: str = "latest") -> pd.DataFrame:
    """Every per-example row of the runs under ``paths`` (as :func:`load_runs` finds them) in one DataFrame."""
    files = [d / EXAMPLES for d in _dirs_under(paths, which) if (d / EXAMPLES).is_file()]
    if not files:
        raise FileNotFoundError(f"no {EXAMPLES} under {paths}: the runs kept no per-example outputs")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def load_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Read one result: a ``metrics.csv``, a run dir, or a notebook's results dir (its latest runs)."""
    path = Path(path)
    if path.is_file():
        return _read(path)
    if not path.exists():
        raise FileNotFoundError(f"no metrics file at {path}")
    return load_runs(path)


def prune_runs(results_dir: str | os.PathLike, log: Any = print) -> list[Path]:
    """Delete every run directory that no notebook's ``latest.json`` lists; returns what was removed.

    Safe beside a batch: it takes the batch's lock (``results_dir/.batch.lock``) and refuses while a batch
    holds it. A notebook dir whose ``latest.json`` is unreadable, or names a run that is missing or
    unfinished, is left whole (nothing there can be told apart safely). Each removal and each kept dir is
    reported through ``log``."""
    import fcntl
    import shutil

    root = Path(results_dir)
    if not root.is_dir():
        raise ValueError(f"--prune: {root} is not a results directory")
    removed: list[Path] = []
    with open(root / BATCH_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise ValueError(f"--prune: a batch is writing {root} ({holder}); prune after it finishes") from None
        for latest in sorted(root.glob(f"**/{LATEST}")):
            nb = latest.parent
            try:
                keep = set(latest_runs(nb))
            except ValueError as err:
                log(f"kept all of {nb}: {err}")
                continue
            bad = sorted(r for r in keep if not (nb / r / "metrics.csv").is_file() or unfinished(nb / r))
            if bad:
                log(f"kept all of {nb}: {LATEST} names runs that are missing or unfinished: {bad}")
                continue
            for run in sorted(p for p in nb.iterdir() if p.is_dir() and p.name != "merged" and (p / "metrics.csv").is_file()):
                if run.name not in keep:
                    shutil.rmtree(run)
                    removed.append(run)
                    log(f"removed {run}")
            merged = latest_merged(nb)
            for old in sorted(p.parent for p in nb.glob("merged/*/summary.md")):
                if merged is None or old.resolve() != merged.resolve():
                    shutil.rmtree(old)
                    removed.append(old)
                    log(f"removed {old}")
            log(f"kept {nb}: {', '.join(sorted(keep))}" + (f" and {merged.relative_to(nb)}" if merged is not None else ""))
    return removed


if __name__ == "__main__":  # python -m unlearn_lib.results --prune DIR
    import argparse

    parser = argparse.ArgumentParser(prog="python -m unlearn_lib.results", description="Keep only the runs latest.json lists.")
    parser.add_argument("--prune", required=True, metavar="DIR", help="results directory (e.g. results)")
    try:
        prune_runs(parser.parse_args().prune)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
