"""Run every notebook in ``notebooks/`` through papermill with one profile's parameters.

    python -m unlearn_lib.batch [--profile smoke|default|paper] [--only NAME ...] [--out DIR]

Each notebook gets the profile's shared ``defaults``, its own section, and ``output_dir`` /
``figures_dir``; the executed copy lands in ``OUT/<name>/<name>.ipynb`` beside its ``metrics.csv``.
A failing notebook is reported and the batch goes on; the exit status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .utils import atomic_write_json

__all__ = ["PROFILES_DIR", "list_profiles", "load_profile", "main", "notebook_parameters", "run_batch"]

PROFILES_DIR = Path(__file__).parent / "profiles"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESERVED = ("output_dir", "figures_dir")


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name: str) -> dict[str, Any]:
    """Read ``profiles/<name>.yaml``: ``{description, defaults: {...}, notebooks: {stem: {...}}}``."""
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; valid profiles: {list_profiles()}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not isinstance(data.get("defaults", {}), dict) or not isinstance(data.get("notebooks", {}), dict):
        raise ValueError(f"{path}: expected mappings 'defaults' and 'notebooks'")
    data.setdefault("defaults", {})
    data.setdefault("notebooks", {})
    for section in data["notebooks"].values():
        if not isinstance(section, dict) and section is not None:
            raise ValueError(f"{path}: every notebook section must be a mapping")
    return data


def notebook_parameters(notebook: Path) -> set[str]:
    """Names defined in the notebook's cell tagged ``parameters``."""
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def parameters_for(profile: dict[str, Any], notebook: Path, out: Path, figures: Path) -> dict[str, Any]:
    """The profile's parameters for one notebook, checked against its parameters cell."""
    params = {**profile["defaults"], **(profile["notebooks"].get(notebook.stem) or {})}
    params.update(output_dir=str((out / notebook.stem).resolve()), figures_dir=str(figures.resolve()))
    known = notebook_parameters(notebook)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"{notebook.name} has no parameter(s) {unknown} in its 'parameters' cell (it has {sorted(known)})")
    return params


def run_batch(
    profile_name: str = "default",
    only: Sequence[str] | None = None,
    out: str | Path = "results",
    notebooks_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute the notebooks; returns ``{stem: {status, seconds, error}}`` and writes ``OUT/batch.json``."""
    import papermill as pm

    profile = load_profile(profile_name)
    nb_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    figures = Path(figures_dir) if figures_dir else REPO_ROOT / "figures"
    out = Path(out)
    notebooks = sorted(nb_dir.glob("[0-9]*.ipynb"))
    if only:
        names = {n.removesuffix(".ipynb") for n in only}
        missing = sorted(names - {nb.stem for nb in notebooks})
        if missing:
            raise ValueError(f"--only names unknown notebook(s) {missing}; valid: {[nb.stem for nb in notebooks]}")
        notebooks = [nb for nb in notebooks if nb.stem in names]
    if not notebooks:
        raise ValueError(f"no notebooks found in {nb_dir}")
    plans = {nb.stem: (nb, parameters_for(profile, nb, out, figures)) for nb in notebooks}  # validate all first
    summary: dict[str, dict[str, Any]] = {}
    for stem, (nb, params) in plans.items():
        target = out / stem
        target.mkdir(parents=True, exist_ok=True)
        print(f"[batch] {stem} (profile {profile_name}) ...", flush=True)
        start = time.perf_counter()
        try:
            pm.execute_notebook(
                str(nb), str(target / nb.name), parameters=params, kernel_name="python3", cwd=str(nb_dir), progress_bar=False
            )
            summary[stem] = {"status": "ok", "seconds": time.perf_counter() - start}
        except Exception as err:
            summary[stem] = {"status": "failed", "seconds": time.perf_counter() - start, "error": f"{type(err).__name__}: {err}"[:2000]}
        print(f"[batch] {stem}: {summary[stem]['status']} in {summary[stem]['seconds']:.0f}s", flush=True)
    atomic_write_json(out / "batch.json", {"profile": profile_name, "notebooks": summary})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unlearn_lib.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", help=f"one of {list_profiles()}")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (stem, e.g. 01_quickstart)")
    parser.add_argument("--out", default=str(REPO_ROOT / "results"), help="results directory (default: results/)")
    parser.add_argument("--figures", default=None, help="figures directory (default: figures/)")
    parser.add_argument("--readme", default=None, help="also refresh this README's results section from the saved metrics")
    args = parser.parse_args(argv)
    try:
        summary = run_batch(args.profile, args.only, args.out, figures_dir=args.figures)
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
    if args.readme:
        from .report import update_readme

        update_readme(args.readme, args.out)
    failed = [s for s, r in summary.items() if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
