"""The papermill batch: profiles, parameter checks before work, carrying on past a failure."""

from __future__ import annotations

import json

import nbformat
import pytest

from unlearn_lib.batch import REPO_ROOT, list_profiles, load_profile, main, notebook_parameters, parameters_for, run_batch


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1\nseed = 0\ndevice = 'auto'\noutput_dir = 'o'\nfigures_dir = 'f'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_profiles_exist_and_match_every_notebook_parameters_cell():
    assert {"smoke", "default", "paper"} <= set(list_profiles())
    notebooks = sorted((REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert notebooks
    for name in ("smoke", "default", "paper"):
        profile = load_profile(name)
        for nb in notebooks:
            parameters_for(profile, nb, REPO_ROOT / "results", REPO_ROOT / "figures")  # raises on unknown keys
            assert {"seed", "device", "output_dir", "figures_dir"} <= notebook_parameters(nb)


def test_unknown_profile_and_parameter_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="valid profiles"):
        load_profile("huge")
    _notebook(tmp_path / "01_a.ipynb", "pass")
    profile = {"defaults": {"y": 2}, "notebooks": {}}
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['y'\]"):
        parameters_for(profile, tmp_path / "01_a.ipynb", tmp_path, tmp_path)


def test_batch_runs_notebooks_and_carries_on_past_a_failure(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "01_ok.ipynb",
        "import pathlib; pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True); (pathlib.Path(output_dir) / 'x.txt').write_text(str(x))",
    )
    _notebook(nbs / "02_fail.ipynb", "raise RuntimeError('boom')")
    _notebook(nbs / "03_ok.ipynb", "pass")
    out = tmp_path / "out"
    summary = run_batch("smoke", out=out, notebooks_dir=nbs, figures_dir=tmp_path / "fig")
    assert [s["status"] for s in summary.values()] == ["ok", "failed", "ok"]
    assert "boom" in summary["02_fail"]["error"]
    assert (out / "01_ok" / "x.txt").read_text() == "1"
    assert (out / "01_ok" / "01_ok.ipynb").exists()
    assert json.loads((out / "batch.json").read_text())["notebooks"]["02_fail"]["status"] == "failed"
    with pytest.raises(ValueError, match="unknown notebook"):
        run_batch("smoke", only=["99_nope"], out=out, notebooks_dir=nbs)


def test_cli_reports_bad_profile_with_exit_2(capsys):
    assert main(["--profile", "nope", "--out", "/tmp/unused"]) == 2
    assert "valid profiles" in capsys.readouterr().err
