"""What the explorer reads from a results dir: the studies it holds, their runs, metrics and arrays.

Split from the explorer's tables and figures (:mod:`.screen`, :mod:`.contrast`, ...) because every view
reads through these functions, and because they are the only ones here that touch the file system:
each turns an unreadable or missing file into :class:`Missing`, whose message a view shows instead of
a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ...results import ARRAYS, LATEST, load_examples, load_runs, run_dirs

__all__ = [
    "Missing",
    "discover_studies",
    "load_study",
    "load_study_examples",
    "representation_arrays",
    "run_label",
    "study_kind",
]


class Missing(LookupError):
    """What the user asked for is not in these results; the message says what is missing and why."""


# -- discovery -----------------------------------------------------------------------------------------------


def discover_studies(results_dir: str | Path) -> dict[str, Path]:
    """Every study (a notebook's results dir with a ``latest.json``) under ``results_dir``, by name.

    Works on the committed ``results/`` and on any ``--out`` dir of a batch run (same layout).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise Missing(f"no results directory at {root}: run `make study` (or point results_dir at a batch's --out dir)")
    found = {p.parent.name: p.parent for p in sorted(root.glob(f"*/{LATEST}"))}
    if not found:
        raise Missing(f"no study results under {root}: no */{LATEST} (run `make study` or a notebook first)")
    return found


def study_kind(study_dir: str | Path) -> str:
    """``classifier``, ``segmentation`` or ``gan``, from the files the study's latest runs kept."""
    dirs = run_dirs(study_dir)
    if any((d / "slices.npz").is_file() for d in dirs):
        return "segmentation"
    for d in dirs:  # a GAN run's arrays are its sample grids; a classifier's are features and CKA
        if (d / ARRAYS).is_file():
            with np.load(d / ARRAYS) as arrays:
                if any(k.startswith("samples/") for k in arrays.files):
                    return "gan"
    return "classifier"


def run_label(run_dir: Path) -> str:
    """A run's name in a dropdown: study / run id (timestamp, profile when the batch recorded one)."""
    info: dict = {}
    task: dict = {}
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        pass
    try:
        task = json.loads((run_dir / "task.json").read_text())
    except (OSError, ValueError):
        pass
    stamp = str(info.get("timestamp", ""))[:16]
    profile = task.get("profile")
    params = task.get("parameters") or info.get("parameters") or {}
    request = f"forget subjects {params['forget_requests']}" if params.get("forget_requests") else None
    extra = ", ".join(str(x) for x in (request, stamp, profile) if x)
    return f"{run_dir.parent.name}/{run_dir.name}" + (f" ({extra})" if extra else "")


def load_study(study_dir: str | Path) -> pd.DataFrame:
    """The latest runs' metrics of one study, or :class:`Missing` with the reason."""
    try:
        return load_runs(study_dir)
    except (FileNotFoundError, ValueError) as err:
        raise Missing(f"cannot read the metrics of {Path(study_dir).name}: {err}") from err


def load_study_examples(study_dir: str | Path) -> pd.DataFrame:
    """The latest runs' per-example rows, or :class:`Missing` (older runs kept none)."""
    try:
        return load_examples(study_dir)
    except (FileNotFoundError, ValueError) as err:
        raise Missing(f"{Path(study_dir).name}: {err}; re-run its notebook to keep them") from err


def representation_arrays(study_dir: str | Path) -> dict[str, np.ndarray]:
    """The ``embedding/...`` and ``cka/...`` arrays the study's latest runs saved (empty when they predate them)."""
    out: dict[str, np.ndarray] = {}
    for d in run_dirs(study_dir):
        if (d / ARRAYS).is_file():
            with np.load(d / ARRAYS) as npz:
                out.update({k: npz[k] for k in npz.files if k.startswith(("embedding/", "cka/"))})
    return out
