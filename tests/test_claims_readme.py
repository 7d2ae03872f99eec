"""The README's cross-study claims table: read from the studies' summaries, verdicts never cut."""

from __future__ import annotations

import json
from pathlib import Path

from unlearn_lib.batch.claims import END, EVIDENCE_CHARS, NO_PAPER_NUMBER, START, claims_frame, update_claims

CLAIMS = """## 02 · Beta study

**The paper's claims**

| claim (paper) | verdict | what the rows show |
|---|---|---|
| A beats B | holds | +0.100 [+0.050, +0.150] (3 seeds) |
| C is fast | inconclusive | {long} |

**Per-method verdicts**

| method | verdict |
|---|---|
| x | holds |
"""

OTHER = """## 04 · Delta study

**The study's claims against this run**

| study's claim | measured here | verdict |
|---|---|---|
| no bias | -0.01 [-0.05, +0.03] | inconclusive for every method (MDE 0.03 at 10 seeds vs margin ±0.02) |
"""


def _study(results: Path, name: str, summary: str) -> None:
    run = results / name / "r1"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("run_id\n")
    (run / "run.json").write_text(json.dumps({"run_id": "r1", "timestamp": "2026-01-01T00:00:00+00:00", "device": "cpu"}))
    (run / "summary.md").write_text(summary)
    (results / name / "latest.json").write_text('{"runs": ["r1"]}')


def test_claims_are_gathered_from_every_study_with_their_verdicts(tmp_path):
    results = tmp_path / "results"
    _study(results, "02_beta", CLAIMS.format(long="x" * 400))
    _study(results, "04_delta", OTHER)
    frame = claims_frame(results)
    assert frame.claim.tolist() == ["A beats B", "C is fast", "no bias"], "only tables captioned as claims, every row"
    assert frame.verdict.tolist()[:2] == ["holds", "inconclusive"]
    assert frame.evidence.iloc[2] == "-0.01 [-0.05, +0.03]", "04's evidence column sits before its verdict"
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Claims\n\n{START}\nstale block\n{END}\n\n## after\n")
    update_claims(readme, results)
    block = readme.read_text().split(START, 1)[1].split(END, 1)[0]
    assert "stale block" not in block and "## after" in readme.read_text()
    long_verdict = "inconclusive for every method (MDE 0.03 at 10 seeds vs margin ±0.02)"
    assert f"**{long_verdict}**" in block, "a verdict is never cut"
    assert "x" * EVIDENCE_CHARS not in block and "…" in block, "long evidence is cut, the summary is linked"
    assert "[02](results/02_beta/r1/summary.md)" in block


def test_a_readme_without_claims_markers_is_left_alone(tmp_path):
    results = tmp_path / "results"
    _study(results, "02_beta", CLAIMS.format(long="y"))
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert update_claims(readme, results) is None and readme.read_text() == "# no markers\n"


def test_a_bare_pipe_in_a_cell_neither_moves_the_verdict_nor_breaks_the_readme(tmp_path):
    """Summaries have written ``|hard − easy|`` unescaped: it splits the row into more cells than the header."""
    results = tmp_path / "results"
    summary = (
        "## 04 · Delta\n\n**The study's claims**\n\n| study's claim | measured here | verdict |\n|---|---|---|\n"
        "| easy or hard | |hard − easy| beyond the original's: -0.06 | not reproduced |\n\n"
        "## 05 · Eps\n\n**The paper's claims**\n\n| claim | verdict | what the rows show |\n|---|---|---|\n"
        "| MIA fixed | inconclusive | |MIA − retrain's|, SCRUB − SCRUB+R: +0.05 |\n"
    )
    _study(results, "04_delta", summary)
    frame = claims_frame(results)
    assert frame.verdict.tolist() == ["not reproduced", "inconclusive"]
    assert frame.evidence.tolist() == ["|hard − easy| beyond the original's: -0.06", "|MIA − retrain's|, SCRUB − SCRUB+R: +0.05"]
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    update_claims(readme, results)
    for line in readme.read_text().splitlines()[3:5]:
        assert len(line.replace("\\|", "").split("|")) == 7, f"five cells: {line}"


def test_a_paper_number_column_sits_beside_the_verdict_and_qualitative_claims_say_so(tmp_path):
    results = tmp_path / "results"
    summary = (
        "## 05 · Gan\n\n**The study's claims: the paper's number beside ours**\n\n| claim | paper | ours | verdict |\n|---|---|---|---|\n"
        "| class_7: faster | up to 185x less time | ratio 26x | holds |\n"
    )
    _study(results, "05_gan", summary)
    _study(results, "04_delta", OTHER)
    frame = claims_frame(results).set_index("claim")
    assert frame.loc["class_7: faster", "paper"] == "up to 185x less time"
    assert frame.loc["class_7: faster", "evidence"] == "ratio 26x" and frame.loc["class_7: faster", "verdict"] == "holds"
    assert frame.loc["no bias", "paper"] == NO_PAPER_NUMBER
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    update_claims(readme, results)
    assert "| up to 185x less time | **holds** |" in readme.read_text()
