"""Tidy results: every run writes ``metrics.csv`` and ``run.json``, atomically.

One row per (experiment, scenario, dataset, model, method, seed, split, metric) with its value, so
tables and figures are pivots of the saved file and never of numbers typed by hand.
"""

from __future__ import annotations

import io
import os
import platform
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .utils import atomic_write_json, atomic_write_text

__all__ = ["COLUMNS", "ResultsRecorder", "environment_info", "load_metrics"]

COLUMNS = ["experiment", "scenario", "dataset", "model", "method", "seed", "split", "metric", "value"]
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

    def __init__(self, experiment: str, dataset: str, model: str) -> None:
        for name, value in (("experiment", experiment), ("dataset", dataset), ("model", model)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        self.experiment, self.dataset, self.model = experiment, dataset, model
        self.rows: list[dict[str, Any]] = []
        self.times: dict[str, float] = {}
        self.started = time.time()

    def add(self, *, scenario: str, method: str, seed: int, split: str, metric: str, value: float) -> None:
        self.rows.append(
            {
                "experiment": self.experiment,
                "scenario": scenario,
                "dataset": self.dataset,
                "model": self.model,
                "method": method,
                "seed": int(seed),
                "split": split,
                "metric": metric,
                "value": float(value),
            }
        )

    def add_many(self, *, scenario: str, method: str, seed: int, values: Mapping[tuple[str, str], float]) -> None:
        """Add ``{(split, metric): value}`` for one method."""
        for (split, metric), value in values.items():
            self.add(scenario=scenario, method=method, seed=seed, split=split, metric=metric, value=value)

    def add_time(self, key: str, seconds: float) -> None:
        self.times[key] = float(seconds)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def write(self, output_dir: str | os.PathLike, parameters: Mapping[str, Any], device: torch.device | str | None = None) -> Path:
        """Write ``metrics.csv`` and ``run.json`` under ``output_dir``; each file appears whole or not at all."""
        out = Path(output_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"output_dir {out} exists and is not a directory")
        if not self.rows:
            raise ValueError("no metrics recorded: refusing to write an empty results file")
        buf = io.StringIO()
        self.frame().to_csv(buf, index=False)
        atomic_write_text(out / "metrics.csv", buf.getvalue())
        run = {
            "experiment": self.experiment,
            "dataset": self.dataset,
            "model": self.model,
            "parameters": dict(parameters),
            "wall_seconds": self.times,
            "total_seconds": time.time() - self.started,
            **environment_info(device),
        }
        atomic_write_json(out / "run.json", run)
        return out


def load_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``metrics.csv`` (or the one inside a results directory) and check its columns."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    df = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    return df
