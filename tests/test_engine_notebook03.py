"""The real notebook 03 through the batch engine: split by forget request and merged, it gives the rows and
the summary of one task. Its own file (the engine's slowest test) so that pytest-xdist can run it beside
``test_engine.py``'s other tests instead of after them."""

from __future__ import annotations

import pandas as pd
import yaml

from unlearn_lib.batch import REPO_ROOT, main
from unlearn_lib.results import load_runs

#: Three of the parameters cell's nine methods: a label mechanic (tuned, from two candidates instead of five),
#: the reference, and SCRUB (the one method read at step checkpoints), so the merger sees every kind of row
#: (tuning candidates included) at a fraction of the cost.
SMALLER = [
    "--set",
    'methods=["noisy_label", "retrain", "scrub"]',
    "--set",
    'hparams={"scrub": {"preset": "small", "msteps": 1, "batch_size": 1, "forget_batch_size": 1}}',
    "--set",
    "tune_factors=[1.0, 3.0]",
]


def test_notebook_03_split_by_request_gives_the_rows_and_summary_of_one_task(tmp_path):
    """The real notebook at its parameters cell's sizes (two forget requests, three methods): run as two parts and merged,
    it records exactly the rows it records as one task, and the merged summary is the one-task summary."""
    nbs = REPO_ROOT / "notebooks"
    split, whole = tmp_path / "split.yaml", tmp_path / "whole.yaml"
    split.write_text(yaml.safe_dump({"notebooks": {"03_segmentation_unlearning": {"split": "forget_requests"}}}))
    whole.write_text(yaml.safe_dump({"notebooks": {"03_segmentation_unlearning": {}}}))
    common = [
        "--notebooks",
        str(nbs),
        "--only",
        "03_segmentation_unlearning",
        "--workers",
        "1",  # the parts in turn: the second reads the first's cached original instead of training it beside it
        "--set",
        "forget_requests=[[0], [1]]",
        *SMALLER,
    ]
    assert main(["--profile", str(split), "--out", str(tmp_path / "a"), "--figures", str(tmp_path / "fa"), *common]) == 0
    assert main(["--profile", str(whole), "--out", str(tmp_path / "b"), "--figures", str(tmp_path / "fb"), *common]) == 0
    a, b = (load_runs(tmp_path / d / "03_segmentation_unlearning") for d in ("a", "b"))
    assert a.run_id.nunique() == 2 and b.run_id.nunique() == 1
    timing = {"seconds", "speed_up"}  # measured times and their ratios: the only rows allowed to differ

    def rows(df: pd.DataFrame) -> pd.DataFrame:
        keep = df[~df.metric.isin(timing)].drop(columns=["run_id", "timestamp"])
        floors = keep.scenario == "floors"  # the same in every part (they ignore the request): recorded by each
        keep = pd.concat([keep[~floors], keep[floors].drop_duplicates()])
        return keep.sort_values(list(keep.columns.drop("value"))).reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(a), rows(b), check_dtype=False)
    from unlearn_lib.results import latest_merged, latest_runs

    merged = (latest_merged(tmp_path / "a" / "03_segmentation_unlearning") / "summary.md").read_text()
    one = (
        tmp_path / "b" / "03_segmentation_unlearning" / latest_runs(tmp_path / "b" / "03_segmentation_unlearning")[0] / "summary.md"
    ).read_text()
    merged_blocks, one_blocks = _blocks(merged), _blocks(one)
    assert list(merged_blocks) == list(one_blocks) and len(merged_blocks) >= 4
    for caption, table in merged_blocks.items():
        if "cost" not in caption:  # the trade-off table also shows measured seconds
            assert table == one_blocks[caption], caption
    assert (tmp_path / "fa" / "03_dice_curves.png").is_file() and (tmp_path / "fa" / "03_slices.png").is_file()


def _blocks(summary: str) -> dict[str, list[str]]:
    """A summary's tables by their bold caption."""
    blocks: dict[str, list[str]] = {}
    caption = ""
    for line in summary.splitlines():
        if line.startswith("**") and line.endswith("**"):
            caption = line.strip("*")
            blocks[caption] = []
        elif line.startswith("|") and caption:
            blocks[caption].append(line)
    return blocks
