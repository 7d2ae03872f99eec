"""The one header every notebook starts with, and the one way it records and summarises a run.

A notebook's second cell is ``run = start("01_quickstart", seed=..., device=..., threads=...,
output_dir=..., figures_dir=..., parameters=dict(...))``: it pins torch's CPU threads, seeds
everything, resolves the device, names the run, and keeps the parameters that ``run.save`` writes to
``run.json``. Everything the run writes lands in ``run.dir`` (``<output_dir>/<run_id>/``), figures in
``figures_dir``, and ``run.write_summary`` writes the one ``summary.md`` format every study uses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch

from .cache import ArtifactCache
from .data.registry import DATASETS, DataBundle, load_dataset
from .params import NotebookParams, check_parameters
from .plotting import save_figure
from .report import write_summary
from .results import ResultsRecorder, check_run_id, load_metrics, new_run_id
from .utils import check_writable_dir, resolve_device, seed_everything

__all__ = ["NotebookRun", "start"]


@dataclass
class NotebookRun:
    """One execution of one notebook: its seed, device, output places and recorded parameters."""

    name: str
    seed: int
    device: torch.device
    threads: int
    output_dir: Path
    figures_dir: Path
    parameters: dict[str, Any]
    run_id: str = field(default_factory=new_run_id)
    #: The checked parameters; :meth:`load_dataset` runs their data checks on every dataset it loads.
    checked: NotebookParams | None = None

    @property
    def dir(self) -> Path:
        """This run's own directory: ``<output_dir>/<run_id>/`` (runs are kept side by side)."""
        return self.output_dir / self.run_id

    def load_dataset(self, name: str, kwargs: Mapping[str, Any] | None = None, seed: int | None = None) -> DataBundle:
        """Load a registered dataset (``unlearn_lib.data.list_datasets()``); ``seed`` (default: the
        run's) is passed to loaders that take one, unless ``kwargs`` sets it."""
        kwargs = dict(kwargs or {})
        if "seed" in DATASETS.get(name).parameters() and "seed" not in kwargs:
            kwargs["seed"] = self.seed if seed is None else seed
        bundle = load_dataset(name, **kwargs)
        if self.checked is not None:  # what only the data can tell (class ranges, sizes), before any training
            try:
                self.checked.check_data(bundle)
            except ValueError as err:
                raise ValueError(f"{self.name}: {err}") from None
        return bundle

    def recorder(self, dataset: str, model: str) -> ResultsRecorder:
        """A results recorder whose rows carry this run's id."""
        return ResultsRecorder(self.name, dataset, model, run_id=self.run_id)

    def save(self, recorder: ResultsRecorder) -> pd.DataFrame:
        """Write the recorder's rows and ``run.json`` (with every parameter), point ``latest.json`` here,
        and return the saved rows re-read from disk: tables and figures come from the file, not memory."""
        if recorder.run_id != self.run_id:
            raise ValueError(f"recorder belongs to run {recorder.run_id!r}, not {self.run_id!r}: make it with run.recorder(...)")
        recorder.write(self.output_dir, self.parameters, self.device)
        return self.metrics()

    def metrics(self) -> pd.DataFrame:
        """The saved ``metrics.csv`` of this run."""
        return load_metrics(self.dir)

    def figure(self, fig: plt.Figure, name: str) -> Path:
        """Save ``fig`` as ``<figures_dir>/<name>.png`` (atomically)."""
        return save_figure(fig, self.figures_dir / f"{name}.png")

    def write_summary(self, title: str, parts: Mapping[str, pd.DataFrame | str], note: str = "") -> str:
        """Write ``summary.md`` into the run dir (a heading, one captioned table or paragraph per part,
        and a provenance note naming the run) and return its text."""
        provenance = f"run {self.run_id}, seed {self.seed}, device {self.device}; from results/{self.name}/{self.run_id}/metrics.csv"
        path = write_summary(self.dir, title, parts, note=f"{note} ({provenance})" if note else provenance)
        return path.read_text()


def start(
    name: str,
    *,
    seed: int,
    device: str,
    threads: int,
    output_dir: str | os.PathLike,
    figures_dir: str | os.PathLike,
    parameters: Mapping[str, Any],
    run_id: str | None = None,
) -> NotebookRun:
    """Check every parameter, then pin threads, seed, resolve the device and name the run.

    The checks are the batch's own (:func:`unlearn_lib.params.check_parameters`): exact types, ranges,
    method names and hyper-parameters, paths; nothing is seeded, trained or written before they pass.

    Args:
        name: the notebook's stem (results rows carry it as ``experiment``).
        threads: torch CPU threads; 0 keeps torch's default. One thread per process is fastest for
            small models on a shared CPU (OpenMP spin-waiting makes oversubscription very slow) and
            makes numbers independent of the machine's core count.
        parameters: every other parameter of the notebook, recorded in ``run.json``.
        run_id: the run's name (its directory under ``output_dir``); ``None`` makes a fresh one. The
            batch sets it from the run's content, so a finished run is found again and never redone.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be the notebook's stem, got {name!r}")
    if not isinstance(parameters, Mapping):
        raise ValueError(f"parameters must be a dict of the notebook's other parameters, got {type(parameters).__name__}")
    clash = sorted({"seed", "device", "threads", "output_dir", "figures_dir", "run_id"} & set(parameters))
    if clash:
        raise ValueError(f"parameters repeats the header's own {clash}: pass them once, as start()'s keywords")
    checked = check_parameters(name, {"seed": seed, "device": device, "threads": threads, **dict(parameters)})
    for place, value in (("output_dir", output_dir), ("figures_dir", figures_dir)):
        check_writable_dir(value, place)
    ArtifactCache()  # the model cache's dir must be writable (unless UNLEARN_NO_CACHE=1): checked before any training
    run_id = new_run_id() if run_id is None else check_run_id(run_id)
    seed_everything(seed)
    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    recorded = {"seed": seed, "device": device, "threads": threads, **dict(parameters)}
    run = NotebookRun(name, seed, dev, threads, Path(output_dir), Path(figures_dir), recorded, run_id, checked)
    print(f"{name} · run {run.run_id} · seed {seed} · device {dev} · torch threads {torch.get_num_threads()}")
    return run
