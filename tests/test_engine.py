"""The Dask engine: workers give the same numbers, an external cluster runs the same batch, a killed batch
resumes without redoing finished tasks, and a second batch on the same out dir is refused.

Every notebook here is a tiny throwaway one written by the test: it calls ``unlearn_lib.notebook.start``
and records a few metrics that depend only on its seed, so a batch takes seconds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from unlearn_lib.batch import BatchLocked, code_version, execute_task, main, out_dir_lock, run_batch, task_key
from unlearn_lib.batch import plan as plan_mod
from unlearn_lib.batch.plan import file_sha256, find_notebooks, finished_task, plan_runs
from unlearn_lib.batch.profiles import load_profile
from unlearn_lib.codekeys import library_digests, source_digest, stale_modules
from unlearn_lib.results import latest_runs, load_runs

TIMEOUT = 120  # seconds: the most any one subprocess here may take

PARAMS = (
    "seed = 0\ndevice = 'cpu'\nthreads = 1\noutput_dir = 'o'\nfigures_dir = 'f'\nrun_id = None\n"
    "scale = 1.0  # multiplies every metric\npause = 0.0  # seconds the notebook sleeps (so a test can kill it midway)"
)
# Records two metrics that depend only on the seed, appends the seed to OUT/executions.log (outside every
# run dir, so tests can count executions), and notes the kernel's OMP_NUM_THREADS and one forwarded variable.
BODY = """\
import os, pathlib, random, time
from unlearn_lib.notebook import start

run = start(NAME, seed=seed, device=device, threads=threads, output_dir=output_dir, figures_dir=figures_dir,
            parameters=dict(scale=scale, pause=pause), run_id=run_id)
with open(pathlib.Path(output_dir).parent / "executions.log", "a") as fh:
    fh.write(f"{NAME} {seed}\\n")
time.sleep(pause)
rng = random.Random(seed)
rec = run.recorder("toy", "none")
for method in ("a", "b"):
    rec.add(scenario="s", method=method, seed=seed, split="test", metric="acc", value=rng.random() * scale)
rec.add_time("total", time.time() % 1)  # a time: differs from run to run, never compared
run.save(rec)
(run.dir / "env.json").write_text(__import__("json").dumps(
    {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "UNLEARN_TEST_FORWARDED", "UNLEARN_PROGRESS")}))
from unlearn_lib.utils import progress
for _ in progress(range(3), desc="toy"):  # a bar, as the study's notebooks draw them
    pass
"""


def _notebook(path: Path, params: str = PARAMS, body: str = BODY) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body.replace("NAME", repr(path.stem)))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def study(tmp_path):
    """Two toy notebooks (01_toy: threads 1; 02_toy: threads 2) and an empty profile."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_toy.ipynb")
    _notebook(nbs / "02_toy.ipynb", PARAMS.replace("threads = 1", "threads = 2"))
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"description": "toy", "defaults": {"pause": 0.0}}))
    return nbs, profile


def _args(study, out: Path, *extra: str) -> list[str]:
    nbs, profile = study
    return ["--profile", str(profile), "--notebooks", str(nbs), "--out", str(out), "--figures", str(out.parent / "fig"), *extra]


def _metrics(out: Path) -> pd.DataFrame:
    """Every notebook's latest runs, without the columns that record when."""
    df = load_runs(out).drop(columns=["timestamp"])
    return df.sort_values(["experiment", "seed", "method"]).reset_index(drop=True)


def _expected(seeds, notebooks=("01_toy", "02_toy")) -> pd.DataFrame:
    rows = []
    for nb in notebooks:
        for seed in seeds:
            rng = random.Random(seed)
            rows += [(nb, seed, m, rng.random()) for m in ("a", "b")]
    return pd.DataFrame(rows, columns=["experiment", "seed", "method", "value"])


def _executions(out: Path) -> list[str]:
    path = out / "executions.log"
    return path.read_text().splitlines() if path.exists() else []


def _check_complete(out: Path, seeds, notebooks=("01_toy", "02_toy")) -> None:
    """Every task finished, each notebook's latest.json lists all of its tasks, the numbers are the seed's."""
    record = json.loads((out / "batch.json").read_text())
    assert record["finished"] and all(r["status"] == "ok" for r in record["notebooks"].values()), record
    # Portable: the committed results/batch.json names no machine's paths, and each resolves under out.
    for r in record["notebooks"].values():
        assert not Path(r["output_dir"]).is_absolute() and (out / r["output_dir"] / "task.json").is_file(), r
        assert (out / r["log"]).is_file(), r
    for nb in notebooks:
        ids = [r["run_id"] for name, r in record["notebooks"].items() if name.startswith(nb)]
        assert latest_runs(out / nb) == ids and len(ids) == len(seeds)
        for run_id in ids:
            task = json.loads((out / nb / run_id / "task.json").read_text())
            assert task["status"] == "ok" and task["run_id"] == run_id
            assert "unlearn_lib.notebook" in task["modules"], "the task records the library modules it ran"
    got = _metrics(out)[["experiment", "seed", "method", "value"]]
    pd.testing.assert_frame_equal(got, _expected(seeds, notebooks), check_dtype=False)


# -- keys -------------------------------------------------------------------------------------------------------


def test_task_key_follows_notebook_parameters_and_seed_but_not_the_output_places(tmp_path):
    nb = _notebook(tmp_path / "01_toy.ipynb")
    params = {"seed": 0, "scale": 1.0, "output_dir": "/a", "figures_dir": "/f", "run_id": "x"}
    key = task_key(nb, params)
    assert key == task_key(nb, {**params, "output_dir": "/b", "figures_dir": "/g", "run_id": "y"})
    assert key != task_key(nb, {**params, "seed": 1})
    assert key != task_key(nb, {**params, "scale": 2.0})
    _notebook(nb, PARAMS.replace("scale = 1.0", "scale = 3.0"))
    assert key != task_key(nb, params)
    assert len(code_version()) == 64 and code_version() == code_version()


def test_module_digests_ignore_docstrings_comments_and_formatting_but_not_code():
    base = 'def f(x):\n    """Why f."""\n    return x + 1\n'
    same = '"""A module docstring."""\n\n\ndef f( x ):  # a comment\n    """Another why."""\n\n    return (x + 1)\n'
    assert source_digest(base) == source_digest(same)
    assert source_digest(base) != source_digest(base.replace("x + 1", "x + 2"))
    assert source_digest(base) != source_digest(base.replace('"""Why f."""', '"""Why f."""\n    print(x)'))
    digests = library_digests()
    assert {"unlearn_lib", "unlearn_lib.notebook", "unlearn_lib.explore.views", "unlearn_lib.studies.gan.strategies.cascaded"} <= set(
        digests
    )
    assert stale_modules({"unlearn_lib.notebook": digests["unlearn_lib.notebook"]}, digests) == []
    assert stale_modules({"unlearn_lib.notebook": "edited", "unlearn_lib.gone": "x"}, digests) == [
        "unlearn_lib.gone",
        "unlearn_lib.notebook",
    ]


def test_an_edit_reruns_exactly_the_tasks_that_ran_the_edited_module(tmp_path, monkeypatch):
    """Keys follow the code a task ran (issue #31): 02_toy also imports the GAN package, 01_toy does not.
    An edit to the explorer (imported by neither) keeps both finished; an edit to a GAN strategy makes only
    02_toy unfinished; an edit to the notebook helper both. Edits are simulated by changing a module's digest
    in what the planner reads as the installed library."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_toy.ipynb")
    _notebook(nbs / "02_toy.ipynb", body="import unlearn_lib.studies.gan\n" + BODY)
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"description": "toy", "defaults": {"pause": 0.0}}))
    out = tmp_path / "out"
    assert main(_args((nbs, profile), out, "--workers", "1")) == 0
    ran = {nb: json.loads(next((out / nb).glob("*/task.json")).read_text())["modules"] for nb in ("01_toy", "02_toy")}
    assert (
        "unlearn_lib.studies.gan.strategies.cascaded" in ran["02_toy"]
        and "unlearn_lib.studies.gan.strategies.cascaded" not in ran["01_toy"]
    )
    assert not any(m.startswith(("unlearn_lib.explore", "unlearn_lib.batch")) for mods in ran.values() for m in mods)

    real = library_digests()

    def unfinished(edited: str) -> list[str]:
        digests = {**real, edited: "edited"}
        monkeypatch.setattr(plan_mod, "library_digests", lambda: digests)
        _, stems = find_notebooks(nbs)
        runs = plan_runs(load_profile(str(profile)), find_notebooks(nbs)[0], stems, out, tmp_path / "fig")
        return sorted(r.name for r in runs if finished_task(r.run_dir, digests) is None)

    assert unfinished("unlearn_lib.explore.views") == []
    assert unfinished("unlearn_lib.batch.engine") == []
    assert unfinished("unlearn_lib.studies.gan.strategies.cascaded") == ["02_toy"]
    assert unfinished("unlearn_lib.notebook") == ["01_toy", "02_toy"]
    monkeypatch.undo()
    before = _executions(out)
    assert main(_args((nbs, profile), out, "--workers", "1")) == 0
    assert _executions(out) == before, "nothing changed: nothing reruns"


def test_a_worker_takes_the_planners_digests_only_while_no_file_changed(tmp_path, monkeypatch):
    """Parsing the library costs each worker process a second per batch: a worker handed the planner's stamp
    and digests takes them while its files carry that stamp, and parses them itself once a file was edited."""
    from unlearn_lib import codekeys

    lib = tmp_path / "pkg"
    (lib / "sub").mkdir(parents=True)
    (lib / "__init__.py").write_text("x = 1\n")
    module = lib / "sub" / "m.py"
    module.write_text("def f():\n    return 1\n")
    stamp, digests = codekeys.stamped_digests(lib)
    assert stamp == codekeys.library_stamp(lib) and digests == codekeys.library_digests(lib)
    assert sorted(digests) == ["pkg", "pkg.sub.m"]
    parsed: list[Path] = []
    real = codekeys.module_digest
    monkeypatch.setattr(codekeys, "module_digest", lambda path: parsed.append(Path(path)) or real(path))
    codekeys._digests.cache_clear()  # a fresh worker process
    assert codekeys.library_digests(lib, known=(stamp, digests)) == digests and parsed == []
    # An edit of the same size a moment later (the time is set, as a slower hand would have left it).
    codekeys._digests.cache_clear()
    module.write_text("def f():\n    return 2\n")
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    got = codekeys.library_digests(lib, known=(stamp, digests))
    assert module in parsed and got["pkg.sub.m"] != digests["pkg.sub.m"] and got["pkg"] == digests["pkg"]


def test_a_task_record_without_modules_or_checksums_is_never_finished(tmp_path):
    """task.json from before modules were recorded (or hand-written) cannot prove its code is current,
    nor one without checksums that its outputs are the ones it wrote."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "metrics.csv").write_text("x\n")
    modules = {"unlearn_lib.notebook": library_digests()["unlearn_lib.notebook"]}
    outputs = {"metrics.csv": file_sha256(run_dir / "metrics.csv")}
    for record in ({"status": "ok", "key": "k"}, {"status": "ok", "modules": modules}, {"status": "ok", "outputs": outputs}):
        (run_dir / "task.json").write_text(json.dumps(record))
        assert finished_task(run_dir) is None, record
    (run_dir / "task.json").write_text(json.dumps({"status": "ok", "key": "k", "modules": modules, "outputs": outputs}))
    assert finished_task(run_dir) is not None


def test_a_worker_with_other_code_fails_the_task_and_says_why(tmp_path):
    nb = _notebook(tmp_path / "01_toy.ipynb")
    spec = {
        "name": "01_toy",
        "notebook": str(nb),
        "run_dir": str(tmp_path / "out" / "01_toy" / "abc"),
        "params": {"seed": 0},
        "key": "abc",
        "code": "0" * 64,
        "env": {},
        "cwd": str(tmp_path),
    }
    record = execute_task(spec)
    assert record["status"] == "failed" and "differs from the batch's" in record["error"]
    assert json.loads((tmp_path / "out" / "01_toy" / "abc" / "task.json").read_text())["status"] == "failed"


def test_a_failed_rerun_leaves_no_outputs_of_an_earlier_attempt(tmp_path):
    """An unfinished attempt's metrics.csv / summary.md must not sit beside the rerun's failure to be republished."""
    nb = _notebook(tmp_path / "01_toy.ipynb")
    run_dir = tmp_path / "out" / "01_toy" / "abc"
    run_dir.mkdir(parents=True)
    for name in ("metrics.csv", "summary.md", "run.json"):
        (run_dir / name).write_text("from an earlier, killed attempt")
    (run_dir / "task.json").write_text(json.dumps({"status": "failed"}))
    spec = {"name": "01_toy", "notebook": str(nb), "run_dir": str(run_dir), "params": {"seed": 0}, "key": "abc"}
    record = execute_task({**spec, "code": "0" * 64, "env": {}, "cwd": str(tmp_path)})  # fails: other code
    assert record["status"] == "failed" and record["metrics"] is False
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == ["task.json", "task.log"]


# -- workers and resume -----------------------------------------------------------------------------------------


def test_two_workers_give_the_same_metrics_as_one_and_a_rerun_redoes_nothing(tmp_path, study):
    one, two = tmp_path / "one" / "out", tmp_path / "two" / "out"
    assert main(_args(study, one, "--workers", "1")) == 0
    assert main(_args(study, two, "--workers", "2")) == 0
    _check_complete(one, [0])
    _check_complete(two, [0])
    pd.testing.assert_frame_equal(_metrics(one), _metrics(two))  # run ids included: they are content keys
    # Each kernel got one OpenMP thread unless its notebook's threads (here its parameters cell's default) said otherwise.
    omp = {nb: {json.loads(p.read_text())["OMP_NUM_THREADS"] for p in (two / nb).glob("*/env.json")} for nb in ("01_toy", "02_toy")}
    assert omp == {"01_toy": {"1"}, "02_toy": {"2"}}
    assert sorted(_executions(two)) == ["01_toy 0", "02_toy 0"]
    # A second batch on the same out dir finds every task finished: nothing runs (no cluster even starts).
    summary = run_batch(study[1], out=two, notebooks_dir=study[0], figures_dir=tmp_path / "fig", progress=False)
    assert all(r["cached"] and r["status"] == "ok" for r in summary.values())
    assert len(_executions(two)) == 2
    _check_complete(two, [0])


def test_kernels_draw_no_progress_widgets_into_the_executed_notebook(tmp_path, study, monkeypatch):
    """tqdm.auto's widgets keep their state in the notebook (18 MB for notebook 02): batch kernels draw none,
    even when the batch itself shows its bar."""
    monkeypatch.setenv("UNLEARN_PROGRESS", "1")
    out = tmp_path / "out"
    assert main(_args(study, out, "--workers", "1")) == 0
    for nb in ("01_toy", "02_toy"):
        (run,) = [p.parent for p in (out / nb).glob("*/env.json")]
        assert json.loads((run / "env.json").read_text())["UNLEARN_PROGRESS"] == "0"
        executed = nbformat.read(run / f"{nb}.ipynb", as_version=4)
        assert "widgets" not in executed.metadata
        mimes = {m for cell in executed.cells for o in cell.get("outputs", []) for m in o.get("data", {})}
        assert "application/vnd.jupyter.widget-view+json" not in mimes


def test_a_second_batch_on_the_same_out_dir_is_refused(tmp_path, study, capsys):
    out = tmp_path / "out"
    with out_dir_lock(out):
        assert main(_args(study, out, "--workers", "1")) == 2
        with pytest.raises(BatchLocked, match="another batch is writing"):
            run_batch(study[1], out=out, notebooks_dir=study[0], figures_dir=tmp_path / "fig")
    assert f"another batch is writing {out}" in capsys.readouterr().err and f"pid {os.getpid()}" in (out / ".batch.lock").read_text()
    assert not (out / "01_toy").exists()
    with out_dir_lock(out):  # released when the holder is done
        pass


def test_workers_and_scheduler_are_checked_before_any_work(tmp_path, study, capsys):
    out = tmp_path / "out"
    assert main(_args(study, out, "--workers", "1", "--scheduler", "tcp://127.0.0.1:1")) == 2
    assert "--workers sizes the local cluster" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_args(study, out, "--workers", "0"))
    assert not out.exists()


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (rc {proc.returncode}) before {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _finished_tasks(out: Path) -> dict[Path, str]:
    done = {}
    for path in out.glob("*/*/task.json"):
        try:
            if json.loads(path.read_text())["status"] == "ok":
                done[path] = path.read_text()
        except (json.JSONDecodeError, KeyError):  # written atomically, so never half a file; be safe anyway
            pass
    return done


def test_a_killed_batch_resumes_redoing_only_unfinished_tasks(tmp_path, study):
    out = tmp_path / "killed" / "out"
    request = ("--only", "01_toy", "--seeds", "0", "1", "--set", "pause=1.5")
    args = _args(study, out, *request, "--workers", "1")
    log = open(tmp_path / "killed.log", "w")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "unlearn_lib.batch", *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        first = _wait_for(lambda: _finished_tasks(out), TIMEOUT, "the first task to finish", proc)
    finally:
        with_children = proc.poll() is None
        if with_children:
            os.killpg(proc.pid, signal.SIGKILL)  # the batch, its workers and their kernels, at once
        proc.wait(timeout=30)
        log.close()
    assert with_children, "the batch ended before it could be killed"
    assert len(first) == 1, "the batch was killed after its first task, before the second finished"
    before = _executions(out)
    assert main(args) == 0
    # Finished tasks were not rerun: same task.json, one execution each; unfinished ones ran once more.
    for path, text in first.items():
        assert path.read_text() == text
    after = _executions(out)
    for path in first:
        notebook, seed = path.parent.parent.name, json.loads(path.read_text())["parameters"]["seed"]
        assert after.count(f"{notebook} {seed}") == 1
    assert len(after) == len(before) + 1
    summary = json.loads((out / "batch.json").read_text())["notebooks"]
    assert [r["cached"] for r in summary.values()].count(True) == 1
    _check_complete(out, [0, 1], notebooks=("01_toy",))
    # The same as an uninterrupted batch.
    whole = tmp_path / "whole" / "out"
    assert main(_args(study, whole, *request, "--workers", "2")) == 0
    pd.testing.assert_frame_equal(_metrics(out), _metrics(whole))


# -- an external cluster ----------------------------------------------------------------------------------------


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):  # workers first, then the scheduler
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def _address(scheduler_file: Path) -> str | None:
    try:
        return json.loads(scheduler_file.read_text()).get("address")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_the_batch_runs_on_an_external_scheduler_with_two_workers(tmp_path, study, monkeypatch):
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    # The workers get this process's environment (so PYTHONPATH reaches their kernels) but not the variable
    # the batch must forward itself.
    env = {k: v for k, v in os.environ.items() if k != "UNLEARN_TEST_FORWARDED"}
    dask = [sys.executable, "-m", "dask"]
    commands = {
        "scheduler": [
            *dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            "127.0.0.1:0",
            "--scheduler-file",
            str(scheduler_file),
        ],
    }
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for name in ("scheduler", "worker0", "worker1"):
            if name != "scheduler":
                address = _wait_for(lambda: _address(scheduler_file), 60, "the scheduler's address", procs[0])
                commands[name] = [*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard", "--name", name]
            logs.append(open(tmp_path / f"{name}.log", "w"))  # closed in finally
            procs.append(subprocess.Popen(commands[name], stdout=logs[-1], stderr=subprocess.STDOUT, env=env))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        monkeypatch.setenv("UNLEARN_TEST_FORWARDED", "yes")
        out = tmp_path / "out"
        assert main(_args(study, out, "--scheduler", address)) == 0
        _check_complete(out, [0])
        pids = {json.loads(p.read_text())["pid"] for p in out.glob("*/*/task.json")}
        assert len(pids) == 2, "both workers should have run tasks"
        assert {json.loads(p.read_text())["UNLEARN_TEST_FORWARDED"] for p in out.glob("*/*/env.json")} == {"yes"}
    finally:
        _stop(procs)
        for fh in logs:
            fh.close()


# -- split notebooks, scheduling and the model cache's lock -------------------------------------------------------

SPLIT_PARAMS = PARAMS + "\nitems = [0]  # one task per element when the profile splits along it"
# Records one metric per item, writes a summary, and logs when it started and ended (to OUT/spans.log).
SPLIT_BODY = """\
import pathlib, time
from unlearn_lib.notebook import start

run = start(NAME, seed=seed, device=device, threads=threads, output_dir=output_dir, figures_dir=figures_dir,
            parameters=dict(scale=scale, pause=pause, items=items), run_id=run_id)
began = time.time()
time.sleep(pause)
rec = run.recorder("toy", "none")
for item in items:
    rec.add(scenario="s", method="a", seed=seed, split="test", metric="acc", value=item * scale, group=str(item))
run.save(rec)
run.write_summary("toy split", {"items": ", ".join(map(str, items))})
with open(pathlib.Path(output_dir).parent / "spans.log", "a") as fh:
    fh.write(f"{items} {began} {time.time()}\\n")
"""


def _split_study(tmp_path: Path, items: list[int], pause: float = 0.0) -> tuple[Path, Path]:
    nbs = tmp_path / "nbs"
    nbs.mkdir(exist_ok=True)
    path = nbs / "03_split.ipynb"
    profile = tmp_path / "split.yaml"
    profile.write_text(yaml.safe_dump({"notebooks": {"03_split": {"split": "items", "items": items, "pause": pause}}}))
    if not path.exists():  # written once: new cells get new ids, hence new bytes and new task keys
        _notebook(path, SPLIT_PARAMS, SPLIT_BODY)
    return nbs, profile


def test_a_split_notebook_runs_one_task_per_element_and_is_merged(tmp_path):
    from unlearn_lib.report import study_results
    from unlearn_lib.results import latest_merged

    study = _split_study(tmp_path, [1, 2, 3])
    out = tmp_path / "out"
    assert main(_args(study, out, "--workers", "2")) == 0
    record = json.loads((out / "batch.json").read_text())
    # Parts are named by their element, not their position: a longer list keeps each part's name (and its
    # last seconds, which order the next batch).
    assert sorted(record["notebooks"]) == [f"03_split/items={v}" for v in (1, 2, 3)]
    runs = latest_runs(out / "03_split")
    assert len(runs) == 3
    # Each part got one element; the metrics of the notebook are every part's rows.
    got = load_runs(out / "03_split").sort_values("group")
    assert got.group.astype(str).tolist() == ["1", "2", "3"] and got.value.tolist() == [1.0, 2.0, 3.0]
    merged = latest_merged(out / "03_split")
    assert merged is not None and (merged / "summary.md").is_file()
    info = json.loads((merged / "merge.json").read_text())
    assert info["values"] == [1, 2, 3] and info["runs"] == runs and info["split"] == "items"
    text = (merged / "summary.md").read_text()
    assert all(f"items = [{v}]" in text for v in (1, 2, 3)) and "merged from 3 task(s)" in text
    (study_res,) = study_results(out)
    assert study_res.summaries == [merged / "summary.md"]
    # Adding an element runs only the new part; the merge then covers all four.
    study = _split_study(tmp_path, [1, 2, 3, 4])
    summary = run_batch(study[1], out=out, notebooks_dir=study[0], figures_dir=tmp_path / "fig", progress=False, workers=2)
    assert [r["cached"] for r in summary.values()] == [True, True, True, False]
    assert list(summary) == [f"03_split/items={v}" for v in (1, 2, 3, 4)]
    assert json.loads((latest_merged(out / "03_split") / "merge.json").read_text())["values"] == [1, 2, 3, 4]
    # Pruning keeps the merged summary latest.json names and removes the three-part one it replaced.
    from unlearn_lib.results import prune_runs

    removed = prune_runs(out, log=lambda line: None)
    assert removed == [merged] and latest_merged(out / "03_split").is_dir() and len(latest_runs(out / "03_split")) == 4
    # A batch with nothing to do rewrites nothing: batch.json, latest.json and the merged result keep their bytes.
    files = sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    summary = run_batch(study[1], out=out, notebooks_dir=study[0], figures_dir=tmp_path / "fig", progress=False, workers=2)
    assert all(r["cached"] for r in summary.values())
    after = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    }
    changed = [str(p.relative_to(out)) for p in set(before) | set(after) if before.get(p, (None,))[0] != after.get(p, (None,))[0]]
    assert changed == [], changed
    assert after[out / "batch.json"][1] == before[out / "batch.json"][1], "batch.json is not even rewritten"


# Each part writes one figure under a name every part shares and one under its own name; the first part
# (items [0]) finishes first and the last part last, so publishing parts as they finish would leave the last one's.
FIGURE_BODY = """\
import pathlib, time
from unlearn_lib.notebook import start

run = start(NAME, seed=seed, device=device, threads=threads, output_dir=output_dir, figures_dir=figures_dir,
            parameters=dict(scale=scale, pause=pause, items=items), run_id=run_id)
time.sleep(pause * items[0])
rec = run.recorder("toy", "none")
rec.add(scenario="s", method="a", seed=seed, split="test", metric="acc", value=float(items[0]), group=str(items[0]))
run.save(rec)
pathlib.Path(figures_dir).mkdir(parents=True, exist_ok=True)
(pathlib.Path(figures_dir) / "shared.txt").write_text(str(items))
(pathlib.Path(figures_dir) / f"own_{items[0]}.txt").write_text(str(items))
with open(pathlib.Path(output_dir).parent / "ends.log", "a") as fh:
    fh.write(f"{items[0]} {time.time()}\\n")
"""


def test_a_figure_every_part_draws_is_the_first_parts_whichever_finishes_last(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "03_figs.ipynb", SPLIT_PARAMS, FIGURE_BODY)
    profile = tmp_path / "figs.yaml"
    profile.write_text(yaml.safe_dump({"notebooks": {"03_figs": {"split": "items", "items": [0, 1, 2], "pause": 1.0}}}))
    out, figures = tmp_path / "out", tmp_path / "fig"
    summary = run_batch(profile, out=out, notebooks_dir=nbs, figures_dir=figures, progress=False, workers=3)
    assert all(r["status"] == "ok" for r in summary.values())
    ends = dict(line.split() for line in (out / "ends.log").read_text().splitlines())
    # Not vacuous: a part after the first finished last (part 2 sleeps the longest; under load another may).
    assert max(ends, key=lambda item: float(ends[item])) != "0"
    assert (figures / "shared.txt").read_text() == "[0]"
    assert {p.name: p.read_text() for p in figures.glob("own_*")} == {"own_0.txt": "[0]", "own_1.txt": "[1]", "own_2.txt": "[2]"}
    assert not list(out.rglob(".figures-held")), "held figures are removed once published"


def test_a_part_rerun_alone_leaves_an_earlier_parts_figure_of_the_same_name(tmp_path):
    """Only part [5] is new in the second batch: it publishes its own figure, but the name every part draws
    stays part [0]'s drawing, which finished in the first batch (a part's key is its own element)."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "03_figs.ipynb", SPLIT_PARAMS, FIGURE_BODY)
    profile = tmp_path / "figs.yaml"
    out, figures = tmp_path / "out", tmp_path / "fig"
    for items in ([0], [0, 5]):
        profile.write_text(yaml.safe_dump({"notebooks": {"03_figs": {"split": "items", "items": items, "pause": 0.0}}}))
        summary = run_batch(profile, out=out, notebooks_dir=nbs, figures_dir=figures, progress=False, workers=2)
        assert all(r["status"] == "ok" for r in summary.values())
    assert sorted((out / "ends.log").read_text().split()[::2]) == ["0", "5"]  # part [0] ran once
    assert (figures / "shared.txt").read_text() == "[0]"
    assert (figures / "own_5.txt").read_text() == "[5]"
    assert not list(out.rglob(".figures-held"))


def test_a_split_must_name_a_list_parameter_of_its_notebook(tmp_path, capsys):
    study = _split_study(tmp_path, [1])
    study[1].write_text(yaml.safe_dump({"notebooks": {"03_split": {"split": "itms", "items": [1]}}}))
    assert main(_args(study, tmp_path / "out")) == 2
    assert "names 'itms', which is not a parameter" in capsys.readouterr().err
    study[1].write_text(yaml.safe_dump({"notebooks": {"03_split": {"split": "items", "items": 3}}}))
    assert main(_args(study, tmp_path / "out")) == 2
    assert "must be a non-empty list" in capsys.readouterr().err
    study[1].write_text(yaml.safe_dump({"defaults": {"split": "items"}}))
    assert main(_args(study, tmp_path / "out")) == 2
    assert "defaults.split is not allowed" in capsys.readouterr().err
    study[1].write_text(yaml.safe_dump({"notebooks": {"03_split": {"split": "items", "items": [1, 2, 1]}}}))
    assert main(_args(study, tmp_path / "out")) == 2
    assert "split along 'items', which lists ['1'] more than once" in capsys.readouterr().err
    assert not (tmp_path / "out" / "03_split").exists()


def test_tasks_run_longest_first_and_never_more_than_one_per_worker(tmp_path):
    from unlearn_lib.batch.engine import previous_seconds, task_order
    from unlearn_lib.batch.plan import Run

    runs = [Run(n, Path("x.ipynb"), tmp_path) for n in ("short", "new", "long", "newer")]
    order = [r.name for r in task_order(runs, {"short": 5.0, "long": 500.0})]
    assert order == ["new", "newer", "long", "short"]  # never timed first (in plan order), then longest first
    (tmp_path / "batch.json").write_text(json.dumps({"notebooks": {"a": {"seconds": 3.5}, "b": {"seconds": 0.0}, "c": {}}}))
    assert previous_seconds(tmp_path) == {"a": 3.5}
    assert previous_seconds(tmp_path / "none") == {}
    # Four parts on two workers: at no moment do more than two run at once.
    study = _split_study(tmp_path, [1, 2, 3, 4], pause=1.0)
    out = tmp_path / "out"
    assert main(_args(study, out, "--workers", "2")) == 0
    spans = [tuple(map(float, line.rsplit(" ", 2)[1:])) for line in (out / "spans.log").read_text().splitlines()]
    assert len(spans) == 4
    most = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    assert most <= 2


def _train_once(root: str, log: str, queue) -> None:  # a process of the cache-lock test (module level: picklable)
    import time

    import torch

    from unlearn_lib.cache import ArtifactCache

    def train(model):
        with open(log, "a") as fh:
            fh.write("trained\n")
        time.sleep(1.5)
        return 1.5

    _model, info = ArtifactCache(root, enabled=True).load_or_train("toy", {"a": 1}, lambda: torch.nn.Linear(2, 2), train)
    queue.put(info.cached)


def test_two_processes_needing_one_model_train_it_once(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    log = tmp_path / "train.log"
    procs = [ctx.Process(target=_train_once, args=(str(tmp_path / "cache"), str(log), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted(queue.get(timeout=5) for _ in procs) == [False, True], "one trained, the other loaded"
    assert log.read_text().splitlines() == ["trained"]


def test_a_module_added_while_a_batch_runs_does_not_fail_its_tasks_but_an_edit_does():
    from unlearn_lib.batch.task import differing_modules

    planned = {"unlearn_lib.metrics": "a", "unlearn_lib.strategies.scrub": "b", "unlearn_lib.batch.engine": "c"}
    added = {**planned, "unlearn_lib.strategies.new_method": "d"}
    assert differing_modules(added, planned) == []  # a new file: no finished task ran it
    assert differing_modules({**planned, "unlearn_lib.strategies.scrub": "x"}, planned) == ["unlearn_lib.strategies.scrub"]
    lacking = {k: v for k, v in planned.items() if k != "unlearn_lib.metrics"}
    assert differing_modules(lacking, planned) == ["unlearn_lib.metrics"]
    assert differing_modules({**planned, "unlearn_lib.batch.engine": "edited"}, planned) == []  # the driver may differ
