"""The papermill batch: profiles, parameter checks before work, carrying on past a failure, the CLI's options."""

from __future__ import annotations

import io
import json
import os
import time

import nbformat
import pytest
import yaml

from unlearn_lib import batch
from unlearn_lib.batch import (
    REPO_ROOT,
    CellProgress,
    code_version,
    list_profiles,
    load_profile,
    main,
    notebook_parameters,
    parameters_for,
    parse_set,
    plan_runs,
    run_batch,
)
from unlearn_lib.batch.plan import locate_run

PARAMS = "x = 1\nseed = 0\ndevice = 'auto'\noutput_dir = 'o'\nfigures_dir = 'f'\nrun_id = None"
# Writes every parameter it was given to its run dir's params.json, so tests can see what the batch passed.
DUMP = (
    "import json, pathlib\n"
    "pathlib.Path(output_dir, run_id).mkdir(parents=True, exist_ok=True)\n"
    "(pathlib.Path(output_dir, run_id) / 'params.json').write_text(json.dumps({k: v for k, v in dict(globals()).items()"
    " if k in {'x', 'y', 'seed', 'seeds', 'device'}}))"
)


def _notebook(path, body, params=PARAMS):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _profile(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def nbs(tmp_path):
    """Two throwaway notebooks: 01_a (x, seed) and 02_b (y, seeds, seed)."""
    d = tmp_path / "nbs"
    d.mkdir()
    _notebook(d / "01_a.ipynb", DUMP)
    _notebook(
        d / "02_b.ipynb", DUMP, params="y = 'b'\nseeds = [0]\nseed = 0\ndevice = 'auto'\noutput_dir = 'o'\nfigures_dir = 'f'\nrun_id = None"
    )
    return d


@pytest.fixture
def no_execution(monkeypatch):
    """Fail the test if papermill is asked to execute anything (checks must come first)."""
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was executed")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


def _plan(profile, nbs, tmp_path, sets=(), seeds=None):
    notebooks = sorted(nbs.glob("*.ipynb"))
    return plan_runs(
        profile, notebooks, [nb.stem for nb in notebooks], tmp_path / "out", tmp_path / "fig", [parse_set(s) for s in sets], seeds
    )


def _empty_profile():
    return {"name": "t", "path": "t.yaml", "defaults": {}, "notebooks": {}}


# -- bundled profiles -------------------------------------------------------------------------------------------


def test_profiles_exist_and_match_every_notebook_parameters_cell():
    assert {"smoke", "default", "paper"} <= set(list_profiles())
    notebooks = batch.study_notebooks(REPO_ROOT / "notebooks")
    assert notebooks
    stems = [nb.stem for nb in notebooks]
    for name in ("smoke", "default", "paper"):
        profile = load_profile(name)
        batch.check_profile_notebooks(profile, stems)  # raises on a section that names no notebook
        for nb in notebooks:
            parameters_for(profile, nb, REPO_ROOT / "results", REPO_ROOT / "figures")  # raises on unknown keys
            assert {"seed", "device", "output_dir", "figures_dir"} <= notebook_parameters(nb)


def test_unknown_profile_and_parameter_are_refused(tmp_path):
    with pytest.raises(ValueError, match="valid profiles"):
        load_profile("huge")
    with pytest.raises(ValueError, match="did you mean 'smoke'"):
        load_profile("smok")
    _notebook(tmp_path / "01_a.ipynb", "pass")
    profile = {"defaults": {"y": 2}, "notebooks": {}}
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['y'\]"):
        parameters_for(profile, tmp_path / "01_a.ipynb", tmp_path, tmp_path)


# -- 1. --profile NAME or PATH ----------------------------------------------------------------------------------


def test_profile_may_be_a_yaml_path_and_its_values_reach_the_notebook(tmp_path, nbs):
    path = _profile(tmp_path / "mine.yaml", {"description": "t", "defaults": {"device": "cpu"}, "notebooks": {"01_a": {"x": 7}}})
    profile = load_profile(str(path))
    assert profile["path"] == path and profile["name"] == "mine"
    out = tmp_path / "out"
    summary = run_batch(str(path), only=["01_a"], out=out, notebooks_dir=nbs, figures_dir=tmp_path / "fig", progress=False, workers=1)
    assert summary["01_a"]["status"] == "ok", summary
    run_dir = out / "01_a" / summary["01_a"]["run_id"]
    assert json.loads((run_dir / "params.json").read_text()) == {"x": 7, "seed": 0, "device": "cpu"}
    assert json.loads((out / "batch.json").read_text())["profile_path"] == str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n- b\n", "expected a mapping"),
        ("notebooks: [01_a]\n", "'notebooks' must be a mapping"),
        ("defaults: 3\n", "'defaults' must be a mapping"),
        ("notebooks:\n  01_a: 5\n", "notebooks.01_a must be a mapping"),
        ("default:\n  seed: 1\n", r"unknown top-level key\(s\) \['default'\]"),
        ("defaults: {a: [1\n", "not valid YAML"),
    ],
)
def test_profile_file_of_the_wrong_shape_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        load_profile(path)
    assert str(path) in str(err.value)


def test_a_profile_extends_another_and_names_only_what_it_changes(tmp_path):
    """Recipes inherit: a child section is merged over its parent's, dicts key by key, anything else replaced."""
    _profile(
        tmp_path / "base.yaml",
        {
            "description": "base",
            "defaults": {"device": "cpu"},
            "notebooks": {"01_a": {"x": 1, "recipe": {"epochs": 15, "lr": 0.05}, "methods": ["a", "b"]}, "02_b": {"y": 2}},
        },
    )
    child = _profile(
        tmp_path / "child.yaml",
        {"extends": "base.yaml", "notebooks": {"01_a": {"recipe": {"epochs": 3}, "methods": ["a"]}, "03_c": {"z": 3}}},
    )
    profile = load_profile(child)
    assert profile["notebooks"]["01_a"] == {"x": 1, "recipe": {"epochs": 3, "lr": 0.05}, "methods": ["a"]}
    assert profile["notebooks"]["02_b"] == {"y": 2} and profile["notebooks"]["03_c"] == {"z": 3}
    assert profile["defaults"] == {"device": "cpu"} and profile["description"] == "base"
    assert profile["name"] == "child" and profile["extends"] == str(tmp_path / "base.yaml")
    # a bundled profile by name
    mine = _profile(tmp_path / "mine.yaml", {"extends": "smoke", "notebooks": {"01_quickstart": {"selective_n": 7}}})
    smoke = load_profile("smoke")
    assert load_profile(mine)["notebooks"]["01_quickstart"] == {**smoke["notebooks"]["01_quickstart"], "selective_n": 7}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.yaml": {"extends": "a.yaml"}}, "makes a cycle"),
        ({"a.yaml": {"extends": "b.yaml"}, "b.yaml": {"extends": "a.yaml"}}, "makes a cycle"),
        ({"a.yaml": {"extends": "nope.yaml"}}, r"extends 'nope.yaml': profile file .*nope.yaml does not exist"),
        ({"a.yaml": {"extends": "smok"}}, r"did you mean 'smoke'"),
        ({"a.yaml": {"extends": 3}}, "'extends' must name a profile"),
    ],
)
def test_a_bad_extends_is_refused_naming_the_file(tmp_path, files, message):
    for name, content in files.items():
        _profile(tmp_path / name, content)
    with pytest.raises(ValueError, match=message) as err:
        load_profile(tmp_path / "a.yaml")
    assert str(tmp_path / "a.yaml") in str(err.value)


def test_missing_profile_file_is_named_and_cli_exits_2(tmp_path, capsys, no_execution):
    missing = tmp_path / "nope.yaml"
    assert main(["--profile", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    assert not (tmp_path / "out").exists()


def test_cli_reports_bad_profile_with_exit_2(capsys):
    assert main(["--profile", "nope", "--out", "/tmp/unused"]) == 2
    assert "valid profiles" in capsys.readouterr().err


# -- 2. --set ---------------------------------------------------------------------------------------------------


def test_parse_set_targets_and_yaml_values():
    one = parse_set("01_a.x=[retrain, scrub]")
    assert (one.stem, one.key, one.value) == ("01_a", "x", ["retrain", "scrub"])
    assert (parse_set("x=1").stem, parse_set("x=1").value) == (None, 1)
    assert (parse_set("*.x=null").stem, parse_set("*.x=null").value) == (None, None)
    assert parse_set("x={a: 1, b: [2]}").value == {"a": 1, "b": [2]}
    assert parse_set("x=a=b").value == "a=b"  # only the first '=' separates
    for bad, message in [
        ("x", "expected STEM.key=value"),
        ("01_a.=3", "not a parameter name"),
        ("output_dir=/x", "reserved"),
        ("x=[1", "not valid YAML"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_set(bad)


def test_set_overrides_one_notebook_or_every_notebook_that_has_the_key(tmp_path, nbs):
    profile = {**_empty_profile(), "notebooks": {"01_a": {"x": 2}}}
    runs = {r.name: r.params for r in _plan(profile, nbs, tmp_path, sets=["01_a.x=[3, 4]"])}
    assert runs["01_a"]["x"] == [3, 4] and "x" not in runs["02_b"]
    runs = {r.name: r.params for r in _plan(profile, nbs, tmp_path, sets=["device=cuda", "02_b.device=cpu"])}
    assert runs["01_a"]["device"] == "cuda" and runs["02_b"]["device"] == "cpu"  # a later --set wins
    runs = {r.name: r.params for r in _plan(profile, nbs, tmp_path, sets=["*.y=z"])}
    assert runs["02_b"]["y"] == "z" and "y" not in runs["01_a"]  # only notebooks that have y


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["01_aa.x=1"], r"01_aa is not a notebook \(did you mean '01_a'\?\)"),
        (["01_a.y=1"], r"01_a.ipynb has no parameter 'y'"),
        (["nothing=1"], "no notebook has a parameter 'nothing'"),
    ],
)
def test_set_with_unknown_notebook_or_key_is_refused_before_anything_runs(tmp_path, nbs, capsys, no_execution, sets, message):
    with pytest.raises(ValueError, match=message):
        _plan(_empty_profile(), nbs, tmp_path, sets=sets)
    argv = ["--notebooks", str(nbs), "--profile", str(_profile(tmp_path / "p.yaml", {})), "--out", str(tmp_path / "out")]
    assert main([*argv, *(a for s in sets for a in ("--set", s))]) == 2
    assert "--set" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_set_for_a_notebook_left_out_by_only_is_refused(tmp_path, nbs):
    with pytest.raises(ValueError, match="not selected by --only"):
        plan_runs(_empty_profile(), [nbs / "01_a.ipynb"], ["01_a", "02_b"], tmp_path, tmp_path, [parse_set("02_b.y=1")])


# -- 3. --seeds -------------------------------------------------------------------------------------------------


def test_seeds_split_single_seed_notebooks_and_fill_seeds_lists(tmp_path, nbs):
    out = tmp_path / "out"
    summary = run_batch(
        str(_profile(tmp_path / "p.yaml", {})), out=out, notebooks_dir=nbs, figures_dir=tmp_path / "fig", seeds=[3, 4], progress=False
    )
    assert set(summary) == {"01_a/seed3", "01_a/seed4", "02_b"}
    assert all(row["status"] == "ok" for row in summary.values()), summary
    for k in (3, 4):  # one task, one run directory and one executed copy per seed
        run_dir = out / "01_a" / summary[f"01_a/seed{k}"]["run_id"]
        assert json.loads((run_dir / "params.json").read_text())["seed"] == k
        assert (run_dir / "01_a.ipynb").exists() and json.loads((run_dir / "task.json").read_text())["status"] == "ok"
    assert summary["01_a/seed3"]["run_id"] != summary["01_a/seed4"]["run_id"]
    run_dir = out / "02_b" / summary["02_b"]["run_id"]
    assert json.loads((run_dir / "params.json").read_text())["seeds"] == [3, 4]  # one task with the list
    assert (run_dir / "02_b.ipynb").exists()
    assert json.loads((out / "batch.json").read_text())["seeds"] == [3, 4]


def test_each_task_runs_into_its_own_run_dir_named_by_its_content_key_and_code(tmp_path, nbs):
    runs = _plan(_empty_profile(), nbs, tmp_path)
    assert [(r.name, r.output_dir) for r in runs] == [("01_a", tmp_path / "out" / "01_a"), ("02_b", tmp_path / "out" / "02_b")]
    assert runs[0].params["output_dir"] == str((tmp_path / "out" / "01_a").resolve())
    new = locate_run(runs[0].output_dir, runs[0].key, code_version())  # no run yet: a new id from the key and the code
    assert runs[0].params["run_id"] == runs[0].run_id == new and runs[0].run_dir == runs[0].output_dir / runs[0].run_id
    assert locate_run(runs[0].output_dir, runs[0].key, "other code") != new, "after a code change a rerun lands beside the old run"
    seeded = _plan(_empty_profile(), nbs, tmp_path, seeds=[0, 1])
    assert [r.name for r in seeded] == ["01_a/seed0", "01_a/seed1", "02_b"]
    assert len({r.run_id for r in seeded}) == 3 and all(r.output_dir == tmp_path / "out" / r.notebook.stem for r in seeded)


def test_a_seed_given_twice_is_refused(tmp_path, nbs):
    with pytest.raises(ValueError, match=r"--seeds gives seed\(s\) \[1\] more than once"):
        _plan(_empty_profile(), nbs, tmp_path, seeds=[1, 0, 1])


def test_seeds_and_a_seed_set_conflict(tmp_path, nbs):
    with pytest.raises(ValueError, match="conflicts with --seeds"):
        _plan(_empty_profile(), nbs, tmp_path, sets=["seed=1"], seeds=[0, 1])


# -- 4. --list --------------------------------------------------------------------------------------------------


def test_list_prints_every_parameter_with_its_default_and_runs_nothing(tmp_path, nbs, capsys, no_execution):
    assert main(["--list", "--notebooks", str(nbs), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    a, b = text.split("\n02_b  (")
    assert "01_a" in a and "x           = 1" in a and "seed        = 0" in a and "device      = 'auto'" in a
    assert "y           = 'b'" in b and "seeds       = [0]" in b
    assert not (tmp_path / "out").exists()


# -- 5. profile typos and reserved keys -------------------------------------------------------------------------


def test_profile_section_for_a_missing_notebook_is_refused_with_a_suggestion(tmp_path, nbs, capsys, no_execution):
    path = _profile(tmp_path / "typo.yaml", {"notebooks": {"01_aa": {"x": 2}}})
    assert main(["--profile", str(path), "--notebooks", str(nbs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "notebooks.01_aa is not a notebook (did you mean '01_a'?)" in err
    assert not (tmp_path / "out").exists()


def test_bundled_profile_typo_is_caught_against_the_real_notebooks(tmp_path):
    profile = {**load_profile("smoke"), "notebooks": {"01_quickstrat": {}}}
    stems = [nb.stem for nb in batch.study_notebooks(REPO_ROOT / "notebooks")]
    with pytest.raises(ValueError, match="did you mean '01_quickstart'"):
        batch.check_profile_notebooks(profile, stems)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"defaults": {"output_dir": "/x"}}, "defaults.output_dir"),
        ({"notebooks": {"01_a": {"figures_dir": "/f"}}}, "notebooks.01_a.figures_dir"),
    ],
)
def test_profile_setting_a_reserved_key_is_refused(tmp_path, data, where):
    path = _profile(tmp_path / "r.yaml", data)
    with pytest.raises(ValueError, match="reserved") as err:
        load_profile(path)
    assert str(path) in str(err.value) and where in str(err.value)


# -- 6. progress and failures -------------------------------------------------------------------------------------------------


def test_progress_in_a_log_is_one_line_per_finished_cell():
    stream = io.StringIO()
    with CellProgress("01_a", stream=stream, live=False) as progress:
        for done in range(4):
            progress(done, 3)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit("  ", 1)[0] for line in lines] == [f"[batch] 01_a  cell {k}/3" for k in (1, 2, 3)]
    assert all(line.endswith("0s") for line in lines) and "\r" not in stream.getvalue()


def test_progress_on_a_terminal_redraws_in_place_while_a_cell_runs():
    stream = io.StringIO()
    with CellProgress("01_a", stream=stream, live=True, interval=0.01) as progress:
        progress(1, 3)
        time.sleep(0.2)  # no cell finishes, the ticker still redraws the elapsed time
    text = stream.getvalue()
    assert text.count("\r[batch] 01_a  cell 1/3  ") >= 3
    assert text.endswith("\n") and text.count("\n") == 1


def test_batch_logs_each_cell_per_task_and_carries_on_past_a_failure_naming_its_cell(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "01_ok.ipynb",
        "import pathlib; d = pathlib.Path(output_dir, run_id); d.mkdir(parents=True, exist_ok=True); (d / 'x.txt').write_text(str(x))",
    )
    _notebook(nbs / "02_fail.ipynb", "raise RuntimeError('boom')")
    _notebook(nbs / "03_ok.ipynb", "pass")
    out = tmp_path / "out"
    profile = str(_profile(tmp_path / "p.yaml", {}))
    assert (
        main(["--profile", profile, "--out", str(out), "--notebooks", str(nbs), "--figures", str(tmp_path / "fig"), "--workers", "2"]) == 1
    )
    summary = json.loads((out / "batch.json").read_text())["notebooks"]
    assert [s["status"] for s in summary.values()] == ["ok", "failed", "ok"]
    # papermill injects a parameters cell before the notebook's two, so the failing cell is index 2.
    assert summary["02_fail"]["error"] == "cell 2 (In [3]): RuntimeError: boom"
    ok_dir = out / "01_ok" / summary["01_ok"]["run_id"]
    assert (ok_dir / "x.txt").read_text() == "1" and (ok_dir / "01_ok.ipynb").exists()
    assert not list(ok_dir.glob(".*.running.ipynb"))
    fail_dir = out / "02_fail" / summary["02_fail"]["run_id"]
    assert json.loads((fail_dir / "task.json").read_text())["status"] == "failed" and (fail_dir / "02_fail.ipynb").exists()
    # Each task's log holds one line per finished cell (3 cells each; the failing cell still counts as finished).
    log = (ok_dir / "task.log").read_text()
    for k in (1, 2, 3):
        assert f"[batch] 01_ok  cell {k}/3  " in log
    assert "[batch] 02_fail  cell 3/3  " in (fail_dir / "task.log").read_text()
    printed = capsys.readouterr()
    assert (
        "02_fail: failed" in printed.err + printed.out and "RuntimeError: boom" in printed.out and str(fail_dir / "task.log") in printed.out
    )
    with pytest.raises(ValueError, match="unknown notebook"):
        run_batch("smoke", only=["99_nope"], out=out, notebooks_dir=nbs)


def test_kernels_do_not_inherit_the_nannys_malloc_trim_threshold(monkeypatch):
    """A Dask nanny sets MALLOC_TRIM_THRESHOLD_ in its worker; a kernel started there must not run under it
    (it slows torch's training steps, see benchmarks/bench_kernel_env.py), unless the batch forwards one."""
    import dask
    import distributed  # noqa: F401  (registers the nanny's defaults)

    from unlearn_lib.batch.task import NANNY_MALLOC, kernel_env

    assert NANNY_MALLOC in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}), "what the nanny sets"
    monkeypatch.setenv(NANNY_MALLOC, "65536")
    env = kernel_env(2, {"UNLEARN_X": "1"})
    assert NANNY_MALLOC not in env and env["UNLEARN_X"] == "1" and env["OMP_NUM_THREADS"] == "2"
    assert env["UNLEARN_PROGRESS"] == "0" and env["PATH"] == os.environ["PATH"]
    assert kernel_env(None, {NANNY_MALLOC: "131072"})[NANNY_MALLOC] == "131072", "one the batch forwards is kept"


def test_in_a_log_the_batch_writes_event_lines_and_a_bounded_heartbeat_not_a_redrawn_bar(capsys):
    """Issue #35: a 9-minute task filled a non-terminal log with thousands of carriage-return updates."""
    import io

    from unlearn_lib.batch.progress import TaskBar

    log = io.StringIO()  # not a TTY
    bar = TaskBar(3, enabled=True, stream=log, heartbeat=3600)
    bar.write("[batch] a: started on w1")
    for _ in range(500):  # the engine's once-a-second updates of a long task
        bar.update(running=1)
    bar.update(done=1, running=0)
    bar.close()
    out = capsys.readouterr().out + log.getvalue()
    assert "\r" not in out and out.splitlines() == ["[batch] a: started on w1"], out
    beat = TaskBar(3, enabled=True, stream=log, heartbeat=0)
    beat.update(running=2)
    assert capsys.readouterr().out.startswith("[batch] 0/3 tasks finished (0 done, 2 running, 0 failed, 0 cached) after ")
