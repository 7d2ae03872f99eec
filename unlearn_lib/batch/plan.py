"""What a batch will run: the notebooks, each task's parameters and its content key.

A task is one papermill execution of one notebook: a notebook that takes a ``seeds`` list gets all of
``--seeds`` in one task, one that takes a single ``seed`` gets one task per seed, and a notebook whose
profile section says ``split: PARAM`` gets one task per element of its list parameter PARAM (the
batch merges those parts afterwards: :mod:`.merge`). Each task's key is the sha256 of the notebook's bytes
and its parameters (seed included; the reserved output places and the profile's name are not). A run of
that key whose ``task.json`` says ok is finished while the code it ran is unchanged (:mod:`.codekeys`):
it is found again and never redone; otherwise the task gets a new run dir beside the old ones.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codekeys import library_digests, stale_modules
from ..params import check_parameters
from ..utils import source_hash
from .profiles import RESERVED, SEED_KEYS, SPLIT_KEY, Override, _close, check_magnitudes, check_profile_notebooks

__all__ = [
    "REPO_ROOT",
    "Run",
    "code_version",
    "find_notebooks",
    "finished_task",
    "list_parameters",
    "locate_run",
    "notebook_parameters",
    "parameters_for",
    "part_label",
    "plan_runs",
    "split_parameter",
    "study_notebooks",
    "task_key",
    "why_unfinished",
]

LIB_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = LIB_ROOT.parent
#: Characters of the key that name a task's run directory (64 bits: collisions are not a concern).
RUN_ID_CHARS = 16


TASK_FILE = "task.json"


def code_version(root: str | Path = LIB_ROOT) -> str:
    """sha256 over every ``unlearn_lib/**/*.py`` (path and bytes): the whole library's version. It names a
    new run dir and checks that every worker runs the batch's code; it does not decide what is finished
    (:func:`finished_task` does, from the modules a task ran)."""
    return source_hash(root)


def task_key(notebook: str | Path, params: dict[str, Any]) -> str:
    """The content key of one task: notebook bytes and parameters without the reserved places. The code a
    task runs is checked module by module when its run is found (:func:`finished_task`)."""
    content = {
        "notebook": hashlib.sha256(Path(notebook).read_bytes()).hexdigest(),
        "parameters": {k: v for k, v in params.items() if k not in RESERVED},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def damaged_outputs(run_dir: str | Path, record: dict[str, Any]) -> list[str]:
    """The outputs whose bytes no longer match the checksums ``task.json`` recorded (or are gone); all of
    them when it recorded none (a task is not taken as finished on trust)."""
    outputs = record.get("outputs")
    if not isinstance(outputs, dict) or "metrics.csv" not in outputs:
        return ["metrics.csv (no checksum recorded)"]
    bad = []
    for name, digest in outputs.items():
        path = Path(run_dir) / str(name)
        if not path.is_file() or file_sha256(path) != digest:
            bad.append(str(name))
    return bad


def finished_task(run_dir: str | Path, digests: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The ``task.json`` of a finished task, else None.

    Finished: status ok, its outputs (``metrics.csv``, ``run.json``, ``summary.md``) still match the
    checksums it recorded, and the code it ran unchanged: every ``unlearn_lib`` module it recorded has the
    same digest in ``digests`` (default: the installed library's). A record without a module list (written
    before modules were recorded) is never finished; an empty list is a notebook that ran no library code."""
    run_dir = Path(run_dir)
    try:
        record = json.loads((run_dir / TASK_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("status") != "ok" or damaged_outputs(run_dir, record):
        return None
    modules = record.get("modules")
    if not isinstance(modules, dict):
        return None
    if stale_modules(modules, library_digests() if digests is None else digests):
        return None
    return record


def locate_run(output_dir: Path, key: str, code: str, digests: dict[str, str] | None = None) -> str:
    """The run id of task ``key`` under ``output_dir``: the newest finished run of that key whose code is
    unchanged, else a new id from the key and the library's ``code`` (so that a rerun after a code change
    lands beside the old run instead of over it)."""
    digests = library_digests() if digests is None else digests
    found: list[tuple[str, str]] = []
    if output_dir.is_dir():
        for run_dir in output_dir.iterdir():
            record = finished_task(run_dir, digests) if run_dir.is_dir() else None
            if record is not None and record.get("key") == key:
                found.append((str(record.get("finished", "")), run_dir.name))
    if found:
        return max(found)[1]
    return hashlib.sha256(f"{key}\n{code}".encode()).hexdigest()[:RUN_ID_CHARS]


def why_unfinished(output_dir: Path, key: str, digests: dict[str, str] | None = None) -> str | None:
    """Why the newest earlier run of task ``key`` under ``output_dir`` does not count as finished (None
    when there is no earlier run): the batch says so before running the task again."""
    digests = library_digests() if digests is None else digests
    latest: tuple[str, Path, dict[str, Any]] | None = None
    for task in output_dir.glob(f"*/{TASK_FILE}") if output_dir.is_dir() else []:
        try:
            record = json.loads(task.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("key") == key:
            stamp = str(record.get("finished") or record.get("started") or "")
            if latest is None or stamp > latest[0]:
                latest = (stamp, task.parent, record)
    if latest is None:
        return None
    _, run_dir, record = latest
    if record.get("status") != "ok":
        return f"its last run {run_dir.name} did not finish ok ({record.get('status')})"
    if not isinstance(record.get("outputs"), dict):
        return f"run {run_dir.name} records no checksums of its outputs (made before they were recorded)"
    damaged = damaged_outputs(run_dir, record)
    if damaged:
        return f"run {run_dir.name}: {', '.join(damaged)} no longer match the checksums in its task.json"
    modules = record.get("modules")
    if not isinstance(modules, dict):
        return f"run {run_dir.name} records no module list (made before modules were recorded)"
    stale = stale_modules(modules, digests)
    return f"code it ran changed since run {run_dir.name}: {', '.join(stale[:5])}" + (" ..." if len(stale) > 5 else "") if stale else None


def inspect_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's ``parameters`` cell, as papermill reads it: ``{name: {default, inferred_type_name, help}}``."""
    import papermill as pm

    return pm.inspect_notebook(str(notebook))


def notebook_parameters(notebook: Path) -> set[str]:
    """Names defined in the notebook's cell tagged ``parameters``."""
    return set(inspect_parameters(notebook))


def parameters_for(
    profile: dict[str, Any],
    notebook: Path,
    out: Path,
    figures: Path,
    overrides: Sequence[Override] = (),
    known: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The profile's parameters plus the overrides for one notebook, checked against its parameters cell."""
    known = set(notebook_parameters(notebook) if known is None else known)
    section = {k: v for k, v in (profile["notebooks"].get(notebook.stem) or {}).items() if k != SPLIT_KEY}
    params = {**profile["defaults"], **section}
    unknown = sorted(set(params) - known, key=str)
    if unknown:
        hints = "".join(_close(str(k), known) for k in unknown)
        raise ValueError(
            f"profile {profile.get('path', '?')}: {notebook.name} has no parameter(s) {unknown}{hints} in its 'parameters' cell"
            f" (it has {sorted(known)})"
        )
    for o in overrides:
        if o.stem is None and o.key in known:
            params[o.key] = o.value
        elif o.stem == notebook.stem:
            if o.key not in known:
                raise ValueError(
                    f"--set {o.text!r}: {notebook.name} has no parameter {o.key!r}{_close(o.key, known)} (it has {sorted(known)})"
                )
            params[o.key] = o.value
    params.update(output_dir=str((out / notebook.stem).resolve()), figures_dir=str(figures.resolve()))
    return params


@dataclass
class Run:
    """One task: a notebook, its parameters, its content key and where its outputs go.

    ``output_dir`` is the notebook's results dir (``OUT/<stem>``, where ``latest.json`` lives); the task
    writes everything into its own ``run_dir`` (``OUT/<stem>/<run_id>``): a finished run of the same key
    and unchanged code, or a new one (:func:`locate_run`).
    """

    name: str
    notebook: Path
    output_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    #: The notebook's ``threads`` (its parameters cell's default unless set): the kernel's OpenMP threads.
    threads: int | None = None
    #: The list parameter this task holds one element of (the profile's ``split``), else None.
    split: str | None = None
    run_id: str = ""

    @property
    def run_dir(self) -> Path:
        return self.output_dir / self.run_id


def plan_runs(
    profile: dict[str, Any],
    notebooks: Sequence[Path],
    all_stems: Sequence[str],
    out: Path,
    figures: Path,
    overrides: Sequence[Override] = (),
    seeds: Sequence[int] | None = None,
    code: str | None = None,
) -> list[Run]:
    """Every task the batch will run, with every check done first so that nothing starts on a bad request."""
    check_profile_notebooks(profile, all_stems)
    selected = [nb.stem for nb in notebooks]
    for o in overrides:
        if o.stem is not None and o.stem not in selected:
            where = "is not selected by --only" if o.stem in all_stems else f"is not a notebook{_close(o.stem, all_stems)}"
            raise ValueError(f"--set {o.text!r}: {o.stem} {where}; notebooks: {selected}")
        if seeds and o.key in SEED_KEYS:
            raise ValueError(f"--set {o.text!r} conflicts with --seeds; give the seeds one way")
    if seeds:
        twice = sorted({k for k in seeds if list(seeds).count(k) > 1})
        if twice:
            raise ValueError(f"--seeds gives seed(s) {twice} more than once")
    cells = {nb.stem: inspect_parameters(nb) for nb in notebooks}
    known = {stem: set(cell) for stem, cell in cells.items()}
    for o in overrides:
        if o.stem is None and not any(o.key in k for k in known.values()):
            raise ValueError(f"--set {o.text!r}: no notebook has a parameter {o.key!r}; notebooks: {selected}")
    code = code_version() if code is None else code
    runs: list[Run] = []
    for nb in notebooks:
        params = parameters_for(profile, nb, out, figures, overrides, known[nb.stem])
        if seeds and "seeds" in known[nb.stem]:
            runs.append(Run(nb.stem, nb, out / nb.stem, {**params, "seeds": list(seeds)}))
        elif seeds and "seed" in known[nb.stem]:
            runs += [Run(f"{nb.stem}/seed{k}", nb, out / nb.stem, {**params, "seed": k}) for k in seeds]
        else:
            runs.append(Run(nb.stem, nb, out / nb.stem, params))
    runs = [part for run in runs for part in _split(run, profile, known[run.notebook.stem])]
    if seeds:
        check_magnitudes({"seeds": list(seeds)}, "--seeds")
    for run in runs:  # every parameter as the kernel will see it: the cell's defaults, then the profile and --set
        check_magnitudes(run.params, f"profile {profile.get('path', '?')} with --set, task {run.name}")
        defaults = {k: _literal(p) for k, p in cells[run.notebook.stem].items() if _literal(p) is not _UNREADABLE}
        try:
            check_parameters(run.notebook.stem, {**defaults, **run.params})
        except ValueError as err:
            raise ValueError(f"{err} (profile {profile.get('path', '?')}, task {run.name})") from None
    digests = library_digests()
    for run in runs:
        run.key = task_key(run.notebook, run.params)
        run.run_id = locate_run(run.output_dir, run.key, code, digests)
        run.params["run_id"] = run.run_id
        threads = run.params["threads"] if "threads" in run.params else _literal(cells[run.notebook.stem].get("threads"))
        run.threads = threads if isinstance(threads, int) and not isinstance(threads, bool) else None
    return runs


_UNREADABLE = object()


def split_parameter(profile: dict[str, Any], stem: str) -> str | None:
    """The list parameter a notebook's tasks are cut along (its profile section's ``split``), else None."""
    return (profile["notebooks"].get(stem) or {}).get(SPLIT_KEY)


def _split(run: Run, profile: dict[str, Any], known: set[str]) -> list[Run]:
    """One task per element of the run's split parameter (the run itself when there is none).

    Why: a notebook whose work is a list of independent pieces (forget requests, say) is one long task
    that only one worker can run; its parts run side by side, each finished part is kept on its own, and
    the batch merges them into the notebook's results."""
    key = split_parameter(profile, run.notebook.stem)
    if key is None:
        return [run]
    if key not in known:
        raise ValueError(
            f"profile {profile.get('path', '?')}: notebooks.{run.notebook.stem}.{SPLIT_KEY} names {key!r}, which is not a parameter of "
            f"{run.notebook.name}{_close(key, known)} (it has {sorted(known)})"
        )
    values = run.params.get(key)
    if not isinstance(values, list) or not values:
        raise ValueError(
            f"profile {profile.get('path', '?')}: {run.notebook.stem} is split along {key!r}, which must be a non-empty list here "
            f"(set it in the profile), got {values!r}"
        )
    labels = [part_label(value) for value in values]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(
            f"profile {profile.get('path', '?')}: {run.notebook.stem} is split along {key!r}, which lists {twice} more than once"
            " (each element is one task)"
        )
    return [
        Run(f"{run.name}/{key}={label}", run.notebook, run.output_dir, {**run.params, key: [value]}, split=key)
        for label, value in zip(labels, values)
    ]


def part_label(value: Any) -> str:
    """How a split task names its element: the value itself (``items_64``, ``[0]``), not its position.

    Why: the batch orders tasks by the seconds the last batch.json gives each name; a positional name
    would hand an element's time to whatever element takes its place when the list changes."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _literal(parameter: dict[str, Any] | None) -> Any:
    """A parameters-cell default as a value (papermill reports it as source text); None if there is no
    such parameter, ``_UNREADABLE`` if its default is an expression rather than a literal."""
    try:
        return ast.literal_eval(parameter["default"]) if parameter else None
    except (ValueError, SyntaxError, TypeError):
        return _UNREADABLE


#: Numbered notebooks with this prefix are tools over the results (00_explore), not study tasks.
TOOL_PREFIX = "00_"


def study_notebooks(notebooks_dir: str | Path) -> list[Path]:
    """The study notebooks of a directory: numbered ones, less the ``00_`` tools, which read results
    rather than make them (the batch would otherwise run the explorer as a task)."""
    return sorted(nb for nb in Path(notebooks_dir).glob("[0-9]*.ipynb") if not nb.stem.startswith(TOOL_PREFIX))


def find_notebooks(notebooks_dir: str | Path | None = None, only: Sequence[str] | None = None) -> tuple[list[Path], list[str]]:
    """The numbered notebooks to run (``--only`` applied) and the stems of all of them."""
    nb_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    notebooks = study_notebooks(nb_dir)
    if not notebooks:
        raise ValueError(f"no notebooks found in {nb_dir}")
    stems = [nb.stem for nb in notebooks]
    if only:
        names = {n.removesuffix(".ipynb") for n in only}
        missing = sorted(names - set(stems))
        if missing:
            hints = "".join(_close(m, stems) for m in missing)
            raise ValueError(f"--only names unknown notebook(s) {missing}{hints}; valid: {stems}")
        notebooks = [nb for nb in notebooks if nb.stem in names]
    return notebooks, stems


def list_parameters(notebooks_dir: str | Path | None = None, only: Sequence[str] | None = None) -> str:
    """Every notebook and its parameters cell (name = default  # help), for ``--list``."""
    notebooks, _ = find_notebooks(notebooks_dir, only)
    lines: list[str] = []
    for nb in notebooks:
        lines.append(f"{nb.stem}  ({nb})")
        params = inspect_parameters(nb)
        if not params:
            lines.append("  (no 'parameters' cell)")
        width = max((len(p) for p in params), default=0)
        for name, p in params.items():
            help_text = f"  # {p['help']}" if p.get("help") else ""
            lines.append(f"  {name.ljust(width)} = {p['default']}{help_text}")
        lines.append("")
    return "\n".join(lines)
