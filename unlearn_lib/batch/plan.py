"""Run every notebook in ``notebooks/`` through papermill with one profile's parameters.

    python -m unlearn_lib.batch [--profile NAME|FILE.yaml] [--only NAME ...] [--set [STEM.]key=value ...]
                                [--seeds K ...] [--out DIR] [--figures DIR] [--readme FILE] [--docs DIR] [--list]

Each notebook gets the profile's shared ``defaults``, its own section, the ``--set`` overrides, and
``output_dir`` / ``figures_dir``; the executed copy lands in ``OUT/<name>/<name>.ipynb`` beside its
``metrics.csv``. With ``--seeds``, a notebook that takes a ``seeds`` list gets them all in one run, and one
that takes a single ``seed`` runs once per seed into ``OUT/<name>/seed<k>/``. Every profile key, ``--set``
and notebook name is checked before the first notebook starts. A failing notebook is reported and the batch
goes on; the exit status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from .utils import atomic_write_json

__all__ = [
    "PROFILES_DIR",
    "CellProgress",
    "Override",
    "Run",
    "list_parameters",
    "list_profiles",
    "load_profile",
    "main",
    "notebook_parameters",
    "parse_set",
    "plan_runs",
    "run_batch",
]

PROFILES_DIR = Path(__file__).parent / "profiles"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESERVED = ("output_dir", "figures_dir", "run_id")
PROFILE_KEYS = ("description", "defaults", "notebooks")
SEED_KEYS = ("seed", "seeds")


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _close(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for a likely typo, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def profile_path(spec: str | Path) -> Path:
    """A profile name (``profiles/<name>.yaml``) or a path to any YAML file of the same schema."""
    path = Path(spec).expanduser()
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        if not path.is_file():
            raise ValueError(f"profile file {path} does not exist")
        return path
    bundled = PROFILES_DIR / f"{spec}.yaml"
    if not bundled.is_file():
        raise ValueError(
            f"unknown profile {str(spec)!r}{_close(str(spec), list_profiles())}; valid profiles: {list_profiles()}, or a path to a .yaml file"
        )
    return bundled


def load_profile(spec: str | Path) -> dict[str, Any]:
    """Read and check a profile: ``{description, defaults: {...}, notebooks: {stem: {...}}}``.

    Returns that mapping plus ``name`` and ``path`` (for error messages and ``batch.json``). The reserved
    ``output_dir`` / ``figures_dir`` are refused here, since the batch would silently overwrite them.
    """
    path = profile_path(spec)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"profile {path}: not valid YAML: {err}") from err
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ValueError(f"profile {path}: expected a mapping with keys {list(PROFILE_KEYS)}, got {type(data).__name__}")
    extra = sorted(set(data) - set(PROFILE_KEYS), key=str)
    if extra:
        raise ValueError(f"profile {path}: unknown top-level key(s) {extra}; expected only {list(PROFILE_KEYS)}")
    for key in ("defaults", "notebooks"):
        data[key] = {} if data.get(key) is None else data[key]
        if not isinstance(data[key], dict):
            raise ValueError(f"profile {path}: '{key}' must be a mapping, got {type(data[key]).__name__}")
    for stem, section in list(data["notebooks"].items()):
        if section is None:
            data["notebooks"][stem] = {}
        elif not isinstance(section, dict):
            raise ValueError(f"profile {path}: notebooks.{stem} must be a mapping of parameters, got {type(section).__name__}")
    sections = [("defaults", data["defaults"])] + [(f"notebooks.{s}", sec) for s, sec in data["notebooks"].items()]
    for where, section in sections:
        for key in RESERVED:
            if key in section:
                raise ValueError(
                    f"profile {path}: {where}.{key} is reserved (the batch sets {' and '.join(RESERVED)}; use --out / --figures)"
                )
    return {"name": path.stem, "path": path, **data}


def check_profile_notebooks(profile: dict[str, Any], stems: Sequence[str]) -> None:
    """Refuse a ``notebooks:`` section that names no notebook (a typo would otherwise be silently ignored)."""
    for stem in profile["notebooks"]:
        if stem not in stems:
            raise ValueError(
                f"profile {profile.get('path', '?')}: notebooks.{stem} is not a notebook{_close(str(stem), stems)}; notebooks: {list(stems)}"
            )


@dataclass(frozen=True)
class Override:
    """One ``--set``: ``stem`` None means every notebook whose parameters cell has ``key``."""

    stem: str | None
    key: str
    value: Any
    text: str


def parse_set(text: str) -> Override:
    """``STEM.key=value`` (one notebook), ``*.key=value`` or ``key=value`` (all); the value is YAML."""
    target, sep, raw = text.partition("=")
    if not sep:
        raise ValueError(f"--set {text!r}: expected STEM.key=value, *.key=value or key=value")
    stem, _, key = target.strip().rpartition(".")
    if not key.isidentifier():
        raise ValueError(f"--set {text!r}: {key!r} is not a parameter name")
    if key in RESERVED:
        raise ValueError(f"--set {text!r}: {key} is reserved (use --out / --figures)")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ValueError(f"--set {text!r}: the value is not valid YAML: {err}") from err
    return Override(None if stem in ("", "*") else stem, key, value, text)


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
    params = {**profile["defaults"], **(profile["notebooks"].get(notebook.stem) or {})}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"profile {profile.get('path', '?')}: {notebook.name} has no parameter(s) {unknown} in its 'parameters' cell (it has {sorted(known)})"
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
    """One papermill execution: a notebook, its parameters and where its outputs go."""

    name: str
    notebook: Path
    output_dir: Path
    params: dict[str, Any] = field(default_factory=dict)


def plan_runs(
    profile: dict[str, Any],
    notebooks: Sequence[Path],
    all_stems: Sequence[str],
    out: Path,
    figures: Path,
    overrides: Sequence[Override] = (),
    seeds: Sequence[int] | None = None,
) -> list[Run]:
    """Every run the batch will make, with every check done first so that nothing starts on a bad request."""
    check_profile_notebooks(profile, all_stems)
    selected = [nb.stem for nb in notebooks]
    for o in overrides:
        if o.stem is not None and o.stem not in selected:
            where = "is not selected by --only" if o.stem in all_stems else f"is not a notebook{_close(o.stem, all_stems)}"
            raise ValueError(f"--set {o.text!r}: {o.stem} {where}; notebooks: {selected}")
        if seeds and o.key in SEED_KEYS:
            raise ValueError(f"--set {o.text!r} conflicts with --seeds; give the seeds one way")
    known = {nb.stem: notebook_parameters(nb) for nb in notebooks}
    for o in overrides:
        if o.stem is None and not any(o.key in k for k in known.values()):
            raise ValueError(f"--set {o.text!r}: no notebook has a parameter {o.key!r}; notebooks: {selected}")
    runs: list[Run] = []
    for nb in notebooks:
        params = parameters_for(profile, nb, out, figures, overrides, known[nb.stem])
        if seeds and "seeds" in known[nb.stem]:
            runs.append(Run(nb.stem, nb, out / nb.stem, {**params, "seeds": list(seeds)}))
        elif seeds and "seed" in known[nb.stem]:
            for k in seeds:
                target = out / nb.stem / f"seed{k}"
                runs.append(Run(f"{nb.stem}/seed{k}", nb, target, {**params, "seed": k, "output_dir": str(target.resolve())}))
        else:
            runs.append(Run(nb.stem, nb, out / nb.stem, params))
    return runs


class CellProgress:
    """One notebook's progress line, ``[batch] NAME  cell k/N  Ts``.

    On a terminal the line is redrawn in place (``\\r``) every second, so a long cell still shows time
    passing; in a log (not a TTY) one line is written per finished cell, which reads cleanly in a file.
    """

    def __init__(self, name: str, stream: TextIO | None = None, live: bool | None = None, interval: float = 1.0) -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.done, self.total = 0, 0
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def line(self) -> str:
        total = self.total or "?"
        return f"[batch] {self.name}  cell {self.done}/{total}  {time.perf_counter() - self.start:.0f}s"

    def _draw(self) -> None:
        with self._lock:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def __call__(self, done: int, total: int) -> None:
        """The engine's callback: ``done`` of ``total`` cells have finished."""
        self.done, self.total = done, total
        if self.live:
            self._draw()
        elif done:
            with self._lock:
                print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> CellProgress:
        self.start = time.perf_counter()
        if self.live:
            self._draw()
            self._ticker = threading.Thread(target=self._tick, name=f"progress-{self.name}", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.live:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


@functools.cache
def _progress_engine() -> str:
    """Register (once) a papermill engine that reports per-cell progress; returns its name.

    papermill's own ``progress_bar`` is a tqdm bar that is unreadable in a log. Its nbclient engine calls
    the execution manager's ``cell_complete`` after every cell (code or markdown, failed or not) and the
    manager holds the parameterized notebook, so wrapping that one method gives ``(done, total)`` exactly.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, progress: Callable[[int, int], None] | None = None, **kwargs):
            if progress is not None:
                total = len(nb_man.nb.cells)
                cell_complete = nb_man.cell_complete

                def complete_and_report(cell, cell_index=None, **kw):
                    cell_complete(cell, cell_index=cell_index, **kw)
                    progress((cell_index or 0) + 1, total)

                nb_man.cell_complete = complete_and_report
                progress(0, total)
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    name = "unlearn_lib.batch"
    papermill_engines.register(name, ProgressEngine)
    return name


def find_notebooks(notebooks_dir: str | Path | None = None, only: Sequence[str] | None = None) -> tuple[list[Path], list[str]]:
    """The numbered notebooks to run (``--only`` applied) and the stems of all of them."""
    nb_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    notebooks = sorted(nb_dir.glob("[0-9]*.ipynb"))
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


def run_batch(
    profile_name: str | Path = "default",
    only: Sequence[str] | None = None,
    out: str | Path = "results",
    notebooks_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    sets: Sequence[str] = (),
    seeds: Sequence[int] | None = None,
    progress: bool | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute the notebooks; returns ``{run: {status, seconds, output_dir, error}}`` and writes ``OUT/batch.json``.

    A run is a notebook stem, or ``stem/seed<k>`` when ``--seeds`` splits a single-seed notebook.
    ``progress`` None follows ``UNLEARN_PROGRESS`` (``0`` silences the per-cell lines, as in the library).
    """
    import papermill as pm

    profile = load_profile(profile_name)
    overrides = [parse_set(s) for s in sets]
    notebooks, stems = find_notebooks(notebooks_dir, only)
    nb_dir = notebooks[0].parent
    figures = Path(figures_dir) if figures_dir else REPO_ROOT / "figures"
    out = Path(out)
    runs = plan_runs(profile, notebooks, stems, out, figures, overrides, seeds)  # every check before any work
    if progress is None:
        progress = os.environ.get("UNLEARN_PROGRESS", "1") != "0"
    engine = _progress_engine()
    summary: dict[str, dict[str, Any]] = {}
    for run in runs:
        run.output_dir.mkdir(parents=True, exist_ok=True)
        print(f"[batch] {run.name} (profile {profile['name']}) ...", flush=True)
        start = time.perf_counter()
        row: dict[str, Any] = {"output_dir": str(run.output_dir)}
        try:
            reporter = CellProgress(run.name) if progress else None
            with reporter or contextlib.nullcontext():
                pm.execute_notebook(
                    str(run.notebook),
                    str(run.output_dir / run.notebook.name),
                    parameters=run.params,
                    kernel_name="python3",
                    cwd=str(nb_dir),
                    progress_bar=False,
                    engine_name=engine,
                    progress=reporter,
                )
            row.update(status="ok", seconds=time.perf_counter() - start)
        except Exception as err:
            row.update(status="failed", seconds=time.perf_counter() - start, error=f"{type(err).__name__}: {err}"[:2000])
        summary[run.name] = row
        print(f"[batch] {run.name}: {row['status']} in {row['seconds']:.0f}s", flush=True)
    record = {
        "profile": profile["name"],
        "profile_path": str(profile["path"]),
        "sets": list(sets),
        "seeds": list(seeds or []),
        "notebooks": summary,
    }
    atomic_write_json(out / "batch.json", record)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unlearn_lib.batch",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python -m unlearn_lib.batch --profile smoke --only 01_quickstart\n"
            "  python -m unlearn_lib.batch --profile my_profile.yaml --out /tmp/run\n"
            "  python -m unlearn_lib.batch --set 01_quickstart.methods='[retrain, scrub]' --set threads=1\n"
            "  python -m unlearn_lib.batch --only 01_quickstart --seeds 0 1 2   # -> OUT/01_quickstart/seed<k>/\n"
            "  python -m unlearn_lib.batch --list --only 02_scrub_and_baselines"
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
        help="notebooks with a 'seeds' list get these seeds; notebooks with a single 'seed' run once per seed into OUT/<name>/seed<k>/",
    )
    parser.add_argument("--notebooks", default=None, metavar="DIR", help="notebooks directory (default: notebooks/)")
    parser.add_argument("--out", default=str(REPO_ROOT / "results"), metavar="DIR", help="results directory (default: results/)")
    parser.add_argument("--figures", default=None, metavar="DIR", help="figures directory (default: figures/)")
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
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(list_parameters(args.notebooks, args.only))
            return 0
        summary = run_batch(
            args.profile, args.only, args.out, notebooks_dir=args.notebooks, figures_dir=args.figures, sets=args.sets, seeds=args.seeds
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    width = max(len(s) for s in summary)
    print("\nnotebook".ljust(width + 2) + "status   seconds")
    for stem, row in summary.items():
        print(
            f"{stem.ljust(width + 1)} {row['status']:<8} {row['seconds']:7.0f}"
            + (f"  {row['error'].splitlines()[0]}" if "error" in row else "")
        )
    failed = [s for s, r in summary.items() if r["status"] != "ok"]
    if args.readme or args.docs:
        from .report import update_readme, write_docs

        try:
            if args.docs:  # first, so that the README links to the pages it writes
                write_docs(args.out, args.docs)
            if args.readme:
                update_readme(args.readme, args.out, args.docs)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
