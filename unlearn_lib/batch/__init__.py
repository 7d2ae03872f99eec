"""Run every notebook in ``notebooks/`` through papermill with one profile's parameters, as Dask tasks.

    python -m unlearn_lib.batch [--profile NAME|FILE.yaml] [--only NAME ...] [--set [STEM.]key=value ...]
                                [--seeds K ...] [--workers N | --scheduler tcp://HOST:PORT]
                                [--out DIR] [--figures DIR] [--readme FILE] [--docs DIR] [--list]

Each notebook gets the profile's shared ``defaults``, its own section, the ``--set`` overrides, and the
reserved ``output_dir`` / ``figures_dir`` / ``run_id``. A task is one papermill execution: a notebook with a
``seeds`` list gets every ``--seeds`` in one task, one with a single ``seed`` gets one task per seed. Each
task runs on a Dask worker (a local cluster of one-thread worker processes, or ``--scheduler``'s) into its
own ``OUT/<name>/<run_id>/``, ``run_id`` being the head of its content key, and the notebook's
``latest.json`` lists every task's run at the end. A finished task is never rerun; a second batch on the same
out dir is refused. Every profile key, ``--set`` and notebook name is checked before the first task starts.
A failing notebook is reported and the batch goes on; the exit status is non-zero if any failed.
"""

from __future__ import annotations

from .cli import main
from .engine import BatchLocked, default_workers, execute_task, finished_task, out_dir_lock, run_batch
from .plan import (
    REPO_ROOT,
    Run,
    code_version,
    find_notebooks,
    inspect_parameters,
    list_parameters,
    notebook_parameters,
    parameters_for,
    plan_runs,
    study_notebooks,
    task_key,
)
from .profiles import (
    PROFILES_DIR,
    RESERVED,
    Override,
    check_profile_notebooks,
    list_profiles,
    load_profile,
    parse_set,
    profile_path,
)
from .progress import CellProgress, TaskBar

__all__ = [
    "PROFILES_DIR",
    "REPO_ROOT",
    "RESERVED",
    "BatchLocked",
    "CellProgress",
    "Override",
    "Run",
    "TaskBar",
    "check_profile_notebooks",
    "code_version",
    "default_workers",
    "execute_task",
    "find_notebooks",
    "finished_task",
    "inspect_parameters",
    "list_parameters",
    "list_profiles",
    "load_profile",
    "main",
    "notebook_parameters",
    "out_dir_lock",
    "parameters_for",
    "parse_set",
    "plan_runs",
    "profile_path",
    "run_batch",
    "study_notebooks",
    "task_key",
]
