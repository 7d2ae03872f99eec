"""Carry a results dir keyed on the whole library over to keys that follow the modules a task ran.

Until issue #31, a task's key hashed every file of ``unlearn_lib``; its ``task.json`` records that hash
(``code_version``) but not which modules the task imported. The batch now finds a run finished only when
its ``task.json`` lists its modules and their digests (:mod:`unlearn_lib.codekeys`), so such a run would be
redone although nothing it ran has changed.

This tool adopts a legacy run only when it can show that:

1. the run's ``code_version`` is the whole-library hash of ``--legacy-tree`` (the ``unlearn_lib`` of the
   commit that produced it, e.g. ``git archive <commit> unlearn_lib | tar -x -C DIR``);
2. every module the same notebook imports (as recorded by a run of the current code in ``--modules-from``,
   e.g. ``python -m unlearn_lib.batch --profile smoke --out DIR``; all of that notebook's tasks together)
   has the same digest in the legacy tree as now.

It then rewrites the run's ``task.json`` with the new content key (notebook bytes and parameters as the
batch plans them now) and that module list, and says so in ``rekeyed_from``. Any other run is left as it is,
and the next batch redoes it. Usage::

    python tools/rekey_results.py --out results --profile default --legacy-tree /tmp/old/unlearn_lib --modules-from /tmp/smoke
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from unlearn_lib.batch.plan import TASK_FILE, find_notebooks, plan_runs
from unlearn_lib.batch.profiles import load_profile
from unlearn_lib.batch.task import output_checksums
from unlearn_lib.codekeys import library_digests
from unlearn_lib.utils import atomic_write_json, source_hash


def notebook_modules(modules_from: Path, stem: str) -> set[str]:
    """Every module recorded by any finished task of ``stem`` under ``modules_from``."""
    found: set[str] = set()
    for task in (modules_from / stem).glob(f"*/{TASK_FILE}"):
        record = json.loads(task.read_text())
        if record.get("status") == "ok" and isinstance(record.get("modules"), dict):
            found |= set(record["modules"])
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--profile", default="default")
    ap.add_argument("--legacy-tree", type=Path, required=True)
    ap.add_argument("--modules-from", type=Path, required=True)
    args = ap.parse_args(argv)
    legacy_code = source_hash(args.legacy_tree)
    old_digests, now = library_digests(args.legacy_tree), library_digests()
    batch = json.loads((args.out / "batch.json").read_text())
    old_ids = {name: row["run_id"] for name, row in batch["notebooks"].items()}
    notebooks, stems = find_notebooks()
    runs = plan_runs(load_profile(args.profile), notebooks, stems, args.out.resolve(), args.out.resolve() / "figures")
    adopted = 0
    for run in runs:
        run_dir = run.output_dir / old_ids.get(run.name, "?")
        task_file = run_dir / TASK_FILE
        if not task_file.is_file():
            print(f"{run.name}: no legacy run in {args.out}/batch.json; the batch will run it")
            continue
        record = json.loads(task_file.read_text())
        if record.get("status") != "ok" or record.get("code_version") != legacy_code:
            print(
                f"{run.name}: {run_dir.name} is not an ok run of the legacy tree's code ({str(record.get('code_version'))[:12]}); left as is"
            )
            continue
        modules = notebook_modules(args.modules_from, run.notebook.stem)
        if not modules:
            print(f"{run.name}: no module list for {run.notebook.stem} in {args.modules_from}; left as is")
            continue
        changed = sorted(m for m in modules if old_digests.get(m) is None or old_digests.get(m) != now.get(m))
        if changed:
            print(f"{run.name}: code it runs changed since the legacy run ({', '.join(changed)}); the batch will rerun it")
            continue
        record["rekeyed_from"] = {"key": record.get("key"), "code_version": record.get("code_version")}
        record["key"] = run.key
        record["modules"] = {m: now[m] for m in sorted(modules)}
        record["outputs"] = output_checksums(run_dir)
        atomic_write_json(task_file, record)
        adopted += 1
        print(f"{run.name}: adopted {run_dir.name} ({len(modules)} modules unchanged)")
    print(f"{adopted} of {len(runs)} runs adopted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
