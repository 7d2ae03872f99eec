"""Merge the parts of a split notebook (profile ``split: PARAM``) into the notebook's results.

Each part is an ordinary run (its own ``metrics.csv``, ``summary.md``, executed notebook). Once every part
of a notebook has finished, the batch writes one merged summary over all of them::

    OUT/<stem>/merged/<merge_id>/summary.md    the study's summary over every part's metrics
    OUT/<stem>/merged/<merge_id>/merge.json    which runs, which parameter, which values
    OUT/<stem>/latest.json                     {"runs": [every part], "merged": "merged/<merge_id>"}

Readers of metrics (:func:`~unlearn_lib.results.load_runs`) concatenate the parts, as for seeds; the report
(``--readme`` / ``--docs``) shows the merged summary. A study registers how its summary is rebuilt from
rows (:data:`MERGERS`): the same library functions its notebook calls, so the merged summary is the one
the notebook would have written had it run every element in one task. A notebook without a merger gets
its parts' summaries one after the other.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..report import summary_title, write_summary
from ..results import load_runs, set_latest
from ..utils import atomic_write_json

__all__ = ["MERGED_DIR", "MERGERS", "Merger", "merge_id", "merge_parts"]

MERGED_DIR = "merged"
#: ``(rows of every part, the notebook's parameters with the full split list, the parts' run dirs,
#: the figures dir) -> (summary parts, note)``; it may redraw the notebook's figures from the rows.
Merger = Callable[[pd.DataFrame, Mapping[str, Any], Sequence[Path], Path], tuple[Mapping[str, Any], str]]
#: Notebook stem -> ``module:function`` of its merger (imported only when needed).
MERGERS: dict[str, str] = {
    "03_segmentation_unlearning": "unlearn_lib.studies.segmentation:merge_parts",
    "05_gan_unlearning": "unlearn_lib.studies.gan.report:merge_parts",
}


def merge_id(keys: Sequence[str]) -> str:
    """The merged result's name: a hash of its parts' content keys and run dirs (same parts, same name)."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _merged_before(dest: Path, dirs: Sequence[Path]) -> bool:
    """A merged result of exactly these runs exists (its summary, and a merge.json naming them)."""
    try:
        record = json.loads((dest / "merge.json").read_text())
    except (OSError, ValueError):
        return False
    return (dest / "summary.md").is_file() and isinstance(record, dict) and record.get("runs") == [d.name for d in dirs]


def _merger(stem: str) -> Merger | None:
    target = MERGERS.get(stem)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def merge_parts(
    stem: str,
    output_dir: Path,
    parts: Sequence[tuple[str, Path]],
    split: str,
    values: Sequence[Any],
    figures_dir: Path,
) -> Path:
    """Write the merged summary of ``parts`` (``(content key, run dir)`` in split order, holding ``values``
    of the ``split`` parameter) and point ``output_dir/latest.json`` at the parts and at it; returns the merged dir.
    Parts merged before (the same runs) are not merged or drawn again: only ``latest.json`` is pointed at them.

    The merger gets the notebook's parameters as the first part's ``run.json`` records them (every
    parameter, defaults included), with ``split`` holding every value, as one task would have had them."""
    keys = [k for k, _ in parts]
    dirs = [d for _, d in parts]
    dest = output_dir / MERGED_DIR / merge_id([f"{k}/{d.name}" for k, d in parts])
    if _merged_before(dest, dirs):  # the same parts were merged before: nothing to redo or redraw
        set_latest(output_dir, [d.name for d in dirs], merged=f"{MERGED_DIR}/{dest.name}")
        return dest
    try:
        recorded = json.loads((dirs[0] / "run.json").read_text()).get("parameters") or {}
    except (FileNotFoundError, json.JSONDecodeError):
        recorded = {}
    params = {**recorded, split: list(values)}
    df = load_runs(dirs)
    title = summary_title(dirs[0] / "summary.md") or stem
    provenance = f"merged from {len(dirs)} task(s), one per element of {split}: runs {', '.join(d.name for d in dirs)} of results/{stem}/"
    merger = _merger(stem)
    if merger is not None:
        sections, note = merger(df, params, dirs, figures_dir)
        note = f"{note} ({provenance})" if note else provenance
    else:
        sections = {
            f"{split} = {json.dumps([value])} (run {d.name})": (d / "summary.md").read_text().split("\n", 1)[-1]
            for value, d in zip(values, dirs, strict=True)
            if (d / "summary.md").is_file()
        }
        note = provenance
    write_summary(dest, title, sections, note=note)
    atomic_write_json(
        dest / "merge.json",
        {
            "notebook": stem,
            "split": split,
            "values": list(values),
            "runs": [d.name for d in dirs],
            "keys": keys,
        },
    )
    set_latest(output_dir, [d.name for d in dirs], merged=f"{MERGED_DIR}/{dest.name}")
    return dest
