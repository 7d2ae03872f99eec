"""What every study notebook promises, checked on the committed notebooks and profiles (not executed).

The recipe contract: each notebook trains its original with a ``recipe`` parameter and no profile may
give ``retrain`` (or ``gan_retrain``) hyper-parameters of its own, so the reference always repeats the
original's recipe; nbval runs each notebook's closing assert cell, which checks it at run time too.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from unlearn_lib.batch import REPO_ROOT, list_profiles, load_profile, notebook_parameters, study_notebooks

NOTEBOOKS = study_notebooks(REPO_ROOT / "notebooks")
HEADER = {"seed", "device", "threads", "output_dir", "figures_dir", "run_id"}
#: One name per concept in every notebook: these drifted names must not come back.
DRIFTED = {"train_epochs", "train", "gan_recipe", "data_dir", "cifar10_dir", "mrbrains_dir", "data_source", "torch_threads"}


def _code(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _start_call(nb: Path) -> ast.Call:
    for src in _code(nb):
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "start":
                return node
    raise AssertionError(f"{nb.name} never calls unlearn_lib.notebook.start(...)")


def _recorded_names(call: ast.Call) -> set[str]:
    names = {kw.arg for kw in call.keywords if kw.arg != "parameters"}
    params = next(kw.value for kw in call.keywords if kw.arg == "parameters")
    assert isinstance(params, ast.Call) and getattr(params.func, "id", None) == "dict", "parameters=dict(name=name, ...)"
    for kw in params.keywords:
        assert isinstance(kw.value, ast.Name) and kw.value.id == kw.arg, f"parameters records {kw.arg}={ast.unparse(kw.value)}"
    return names | {kw.arg for kw in params.keywords}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_records_exactly_the_parameters_cell(nb):
    """One header call; run.json records every parameter of the cell, and nothing else, under its own name."""
    declared = notebook_parameters(nb)
    assert declared >= HEADER | {"recipe", "methods", "hparams", "dataset", "dataset_kwargs"}, sorted(declared)
    assert not declared & DRIFTED, f"drifted names {sorted(declared & DRIFTED)}"
    assert _recorded_names(_start_call(nb)) == declared


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_chores_are_done_one_way(nb):
    code = "\n".join(_code(nb))
    assert "globals()" not in code, "parameters are recorded explicitly, never through globals()"
    for chore in ("ResultsRecorder(", "recorder.write(", "atomic_write_text(", "save_figure(", "set_num_threads(", "seed_everything("):
        assert chore not in code, f"{chore} belongs to unlearn_lib.notebook (run.recorder / run.save / run.figure / start)"
    cells = json.loads(nb.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), "committed without outputs"
    assert "assert " in _code(nb)[-1], "the last code cell asserts the run's invariants"


@pytest.mark.parametrize("profile", list_profiles())
def test_no_profile_gives_retrain_its_own_recipe(profile):
    """Retrain repeats the original's recipe by construction; a profile that tried to change it would be refused
    at run time, and here before any run."""
    for stem, section in (load_profile(profile)["notebooks"] or {}).items():
        hparams = (section or {}).get("hparams") or {}
        if isinstance(hparams, dict):
            assert not {"retrain", "gan_retrain"} & set(hparams), f"{profile}.yaml gives {stem}'s retrain hyper-parameters"
        assert not DRIFTED & set(section or {}), f"{profile}.yaml uses drifted names in {stem}"
