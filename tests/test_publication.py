"""Results that no command can lose (issue #36): a run is published only once its task is ok, figures move
into place at that moment, a finished task is checked against its checksums, and prune is safe beside a
batch and on damaged records.

The kills are placed by the test: a notebook that raises after writing its metrics and a figure stands for a
task killed between ``metrics.csv`` and ``task.json`` (the engine writes ``task.json`` last either way).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
import yaml
from test_engine import BODY, PARAMS, _args, _notebook

from unlearn_lib.batch import main
from unlearn_lib.batch.plan import finished_task
from unlearn_lib.results import BATCH_LOCK, BATCH_TASK_ENV, TASK_LOCK, latest_runs, load_runs, prune_runs, set_latest

FIGURE = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1], [seed, scale])
run.figure(fig, "toy_figure")
if scale > 1.5:
    raise RuntimeError("killed after metrics.csv and the figure, before task.json")
"""


def _study(tmp_path: Path) -> tuple[Path, Path]:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_toy.ipynb", body=BODY + FIGURE)
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"description": "toy", "defaults": {"pause": 0.0}}))
    return nbs, profile


def _run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in (out / "01_toy").iterdir() if p.is_dir())


def test_a_task_killed_before_task_json_is_never_published_and_its_figures_stay_out(tmp_path):
    study = _study(tmp_path)
    out, figures = tmp_path / "out", tmp_path / "fig"
    assert main(_args(study, out, "--workers", "1")) == 0
    good = latest_runs(out / "01_toy")
    assert (figures / "toy_figure.png").is_file()
    first_bytes = (figures / "toy_figure.png").read_bytes()
    assert not (out / "01_toy" / good[0] / "figures").exists(), "staged figures are moved out of the run dir"

    assert main(_args(study, out, "--workers", "1", "--set", "scale=2.0")) == 1  # the 'killed' task
    bad = next(d for d in _run_dirs(out) if d.name not in good)
    assert (bad / "metrics.csv").is_file() and json.loads((bad / "task.json").read_text())["status"] == "failed"
    assert latest_runs(out / "01_toy") == good, "latest.json still names the complete run"
    assert (figures / "toy_figure.png").read_bytes() == first_bytes, "the failed task's figure was not published"
    assert set(load_runs(out).run_id) == set(good)
    assert len(load_runs(out / "01_toy", which="all").run_id.unique()) == 1, "an unfinished run is never loaded"
    with pytest.raises(ValueError, match="unfinished batch runs"):
        set_latest(out / "01_toy", [bad.name])

    removed = prune_runs(out, log=lambda line: None)
    assert bad in removed and [d.name for d in _run_dirs(out)] == good, "prune keeps the complete run, not the unfinished one"


def test_a_notebook_run_by_the_batch_does_not_write_latest_json_itself(tmp_path, monkeypatch):
    from unlearn_lib.results import ResultsRecorder

    monkeypatch.setenv(BATCH_TASK_ENV, "1")
    rec = ResultsRecorder("toy", "none", "none", run_id="r1")
    rec.add(scenario="s", method="m", seed=0, split="test", metric="acc", value=0.5)
    rec.write(tmp_path, {})
    assert (tmp_path / "r1" / "metrics.csv").is_file() and not (tmp_path / "latest.json").exists()
    monkeypatch.delenv(BATCH_TASK_ENV)
    rec.write(tmp_path, {})
    assert latest_runs(tmp_path) == ["r1"], "run by hand, the notebook publishes its own run"


def test_a_damaged_output_makes_a_finished_task_run_again_and_the_batch_says_why(tmp_path, capsys):
    study = _study(tmp_path)
    out = tmp_path / "out"
    assert main(_args(study, out, "--workers", "1")) == 0
    (run_dir,) = _run_dirs(out)
    assert finished_task(run_dir) is not None
    metrics = run_dir / "metrics.csv"
    metrics.write_text(metrics.read_text().replace("toy", "TOY", 1))  # edited by hand
    assert finished_task(run_dir) is None
    executions = (out / "executions.log").read_text().count("\n")
    capsys.readouterr()
    assert main(_args(study, out, "--workers", "1")) == 0
    said = capsys.readouterr().out
    assert f"01_toy runs again: run {run_dir.name}: metrics.csv no longer match the checksums" in said, said
    assert (out / "executions.log").read_text().count("\n") == executions + 1, "the damaged task ran again"
    assert finished_task(run_dir) is not None and "TOY" not in metrics.read_text()


def test_prune_refuses_while_a_batch_holds_the_lock_and_explains_damaged_records(tmp_path, capsys):
    nb = tmp_path / "01_toy"
    for run in ("a", "b"):
        (nb / run).mkdir(parents=True)
        (nb / run / "metrics.csv").write_text("x\n")
    (nb / "latest.json").write_text('{"runs": ["a"]')  # truncated
    with open(tmp_path / BATCH_LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="a batch is writing"):
            prune_runs(tmp_path)
    lines: list[str] = []
    assert prune_runs(tmp_path, log=lines.append) == []
    assert any("is not JSON" in line for line in lines) and (nb / "b").is_dir(), "nothing is removed beside an unreadable latest.json"
    (nb / "latest.json").write_text(json.dumps({"runs": ["a"]}))
    (nb / "a" / TASK_LOCK).write_text("")  # a batch run without task.json: unfinished
    lines.clear()
    assert prune_runs(tmp_path, log=lines.append) == [] and "missing or unfinished" in lines[0]
    (nb / "a" / "task.json").write_text(json.dumps({"status": "ok"}))
    assert prune_runs(tmp_path, log=lines.append) == [nb / "b"]


def test_the_prune_command_prints_one_error_line(tmp_path):
    import subprocess
    import sys

    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "latest.json").write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-m", "unlearn_lib.results", "--prune", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.startswith("error: --prune:") and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "unlearn_lib.results", "--prune", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0 and "is not JSON" in done.stdout and "Traceback" not in done.stderr


def test_an_unusable_cache_dir_is_refused_before_any_training(tmp_path, monkeypatch):
    from unlearn_lib.notebook import start

    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    monkeypatch.setenv("UNLEARN_CACHE", str(a_file))
    place = {"seed": 0, "device": "cpu", "threads": 1, "output_dir": tmp_path / "o", "figures_dir": tmp_path / "f", "parameters": {}}
    with pytest.raises(ValueError, match=r"UNLEARN_CACHE: .* is not a writable directory"):
        start("01_toy", **place)
    monkeypatch.setenv("UNLEARN_NO_CACHE", "1")  # no cache, nothing to check
    assert start("01_toy", **place).seed == 0


def test_a_batch_killed_between_metrics_csv_and_task_json_publishes_nothing_and_resumes(tmp_path):
    """A real SIGKILL at the critical instant: the notebook has written metrics.csv and a figure and is
    still running (it sleeps), so task.json does not exist yet. Nothing of it is published; the next batch
    reruns it and publishes it."""
    import signal
    import subprocess
    import sys

    from test_engine import TIMEOUT, _wait_for

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "01_toy.ipynb",
        PARAMS + "\nlinger = 0.0  # seconds the notebook sleeps after saving",
        BODY + FIGURE + "\ntime.sleep(linger)\n",
    )
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"description": "toy", "defaults": {"pause": 0.0}}))
    out, figures = tmp_path / "out", tmp_path / "fig"
    args = _args((nbs, profile), out, "--workers", "1", "--set", "linger=60")
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "unlearn_lib.batch", *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            found = _wait_for(lambda: sorted(out.glob("01_toy/*/metrics.csv")), TIMEOUT, "metrics.csv to be written", proc)
            _wait_for(lambda: sorted(out.glob("01_toy/*/figures/*.png")), TIMEOUT, "the staged figure", proc)
        finally:
            alive = proc.poll() is None
            if alive:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert alive, "the batch ended before it could be killed"
    run_dir = found[0].parent
    assert not (run_dir / "task.json").exists() and (run_dir / TASK_LOCK).exists()
    assert not (out / "01_toy" / "latest.json").exists(), "the notebook did not publish itself"
    assert not (figures / "toy_figure.png").exists(), "the figure stayed staged in the run dir"
    with pytest.raises(FileNotFoundError):
        load_runs(out / "01_toy", which="all")  # the only run is unfinished: never loaded
    assert main(_args((nbs, profile), out, "--workers", "1")) == 0  # linger 0: finishes
    assert len(latest_runs(out / "01_toy")) == 1 and (figures / "toy_figure.png").is_file()
