"""The README's headline tables and the generated docs pages, built from a results tree of schema v2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from unlearn_lib import batch
from unlearn_lib.report import (
    END,
    START,
    STUDIES_END,
    STUDIES_START,
    compact_table,
    first_table,
    markdown_table,
    study_results,
    update_readme,
    write_docs,
)

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")

SUMMARY_A = """## 01 · Alpha study

**class forgetting**

| method | forget acc | retain acc | test acc | avg gap | MIA |
|---|---|---|---|---|---|
| original | 1.000 ± 0.010 | 1.000 | 0.980 | 0.367 | 0.510 |
| retrain | 0.000 ± 0.020 | 1.000 | 0.880 | 0.000 | 0.465 |

**selective forgetting**

| method | forget acc | retain acc |
|---|---|---|
| original | 0.777 | 0.999 |

_run r1, seed 0, device cpu_
"""

SUMMARY_B = """## 02 · Beta study

| source | value |
|---|---|
| ours | 0.123 |
"""


def _run(nb_dir: Path, run_id: str, summary: str | None, timestamp: str = "2026-01-01T00:00:00+00:00") -> Path:
    d = nb_dir / run_id
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("run_id\n")
    (d / "run.json").write_text(json.dumps({"run_id": run_id, "timestamp": timestamp, "device": "cpu", "packages": {"torch": "2.13.0"}}))
    if summary is not None:
        (d / "summary.md").write_text(summary)
    return d


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fake repository: a README with markers, narratives, and results in schema v2 (one notebook with
    an older run that latest.json no longer lists, one whose --seeds runs latest.json lists together)."""
    results = tmp_path / "results"
    _run(results / "01_alpha", "old", "## 01 · Alpha study\n\n| method | stale |\n|---|---|\n| x | 9.999 |\n")
    _run(results / "01_alpha", "r1", SUMMARY_A)
    (results / "01_alpha" / "latest.json").write_text('{"runs": ["r1"]}')
    for k in (0, 1):
        _run(results / "02_beta", f"s{k}", SUMMARY_B)
    (results / "02_beta" / "latest.json").write_text('{"runs": ["s0", "s1"]}')
    (results / "batch.json").write_text("{}")
    _run(results / "scratch" / "01_alpha", "nb", SUMMARY_B)  # a notebook's interactive default output_dir: not a study
    (results / "scratch" / "01_alpha" / "latest.json").write_text('{"runs": ["nb"]}')
    narrative = tmp_path / "docs" / "narrative"
    narrative.mkdir(parents=True)
    (narrative / "01_alpha.md").write_text("# 01 · Alpha\n\nHow to read the alpha tables.\n")
    (narrative / "03_gamma.md").write_text("# 03 · Gamma\n\nNot run yet.\n")
    (tmp_path / "README.md").write_text(f"# intro\n\n{START}\nold section\n{END}\n\n## after\n")
    return tmp_path


def _links(text: str, base: Path) -> list[Path]:
    return [base / link.split("#")[0] for link in LINK.findall(text) if not link.startswith(("http", "#", "mailto:"))]


def _section(readme: Path) -> str:
    return readme.read_text().split(START, 1)[1].split(END, 1)[0]


def test_first_table_and_compact_table():
    assert first_table("no table here\n") == ""
    table = first_table(SUMMARY_A)
    assert table.splitlines()[0] == "| method | forget acc | retain acc | test acc | avg gap | MIA |"
    assert "0.777" not in table and len(table.splitlines()) == 4
    small = compact_table(table, max_columns=3, max_cell=6, means_only=True)
    assert small.splitlines()[0] == "| method | forge… | retai… |"
    assert small.splitlines()[1] == "|---|---|---|"
    assert "| origi… | 1.000 | 1.000 |" in small and "±" not in small
    assert compact_table(table) == table


def test_update_readme_writes_one_headline_table_per_study(repo):
    docs = repo / "docs"
    write_docs(repo / "results", docs)
    readme = repo / "README.md"
    update_readme(readme, repo / "results", docs)
    section = _section(readme)
    assert section.count("### ") == 2 and "### 01 · Alpha study" in section and "### 02 · Beta study" in section
    assert "| original | 1.000 | 1.000 | 0.980 |" in section  # the first table, cut to 4 columns, means only
    assert "0.777" not in section, "only the first table of a summary is a headline"
    assert "9.999" not in section, "a run latest.json does not list is not read"
    assert "first 4 of 6 columns, means only" in section
    assert section.count("| source | value |") == 1  # one table per study, even with two seed runs
    links = _links(section, readme.parent)
    assert links and all(p.is_file() for p in links), [p for p in links if not p.is_file()]
    targets = {p.resolve().relative_to(repo.resolve()).as_posix() for p in links}
    assert {
        "results/01_alpha/r1/summary.md",
        "results/02_beta/s0/summary.md",
        "results/02_beta/s1/summary.md",
        "docs/studies/01_alpha.md",
        "docs/studies/02_beta.md",
    } == targets
    text = readme.read_text()
    assert text.startswith("# intro\n") and text.endswith(f"{END}\n\n## after\n") and "old section" not in text
    update_readme(readme, repo / "results", docs)
    assert readme.read_text() == text, "regenerating must be idempotent"


def test_update_readme_refuses_missing_markers_and_missing_results(repo, tmp_path):
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    with pytest.raises(ValueError, match="no results markers"):
        update_readme(bare, repo / "results")
    flat = tmp_path / "flat"
    (flat / "01_alpha").mkdir(parents=True)
    (flat / "01_alpha" / "summary.md").write_text(SUMMARY_A)  # the old flat layout: no latest.json
    before = (repo / "README.md").read_text()
    with pytest.raises(FileNotFoundError, match=r"latest\.json"):
        update_readme(repo / "README.md", flat)
    assert (repo / "README.md").read_text() == before


def test_write_docs_generates_every_page_keeps_the_narrative_and_is_idempotent(repo):
    docs = repo / "docs"
    written = write_docs(repo / "results", docs)
    studies = docs / "studies"
    assert {p.name for p in studies.iterdir()} == {"01_alpha.md", "02_beta.md", "03_gamma.md"}
    assert set(written) == {*studies.iterdir(), docs / "methods.md", docs / "index.md"}
    alpha = (studies / "01_alpha.md").read_text()
    assert alpha.startswith("<!-- generated") and "How to read the alpha tables." in alpha
    assert "### 01 · Alpha study" in alpha and "0.777" in alpha, "the page carries every table of the summary"
    assert "## Provenance" in alpha and "`r1`" in alpha and "2026-01-01T00:00:00+00:00" in alpha and "9.999" not in alpha
    beta = (studies / "02_beta.md").read_text()
    assert "_No narrative yet" in beta and "`s0`" in beta and "`s1`" in beta
    assert "No results yet" in (studies / "03_gamma.md").read_text()
    for page in studies.iterdir():
        links = _links(page.read_text(), page.parent)
        assert all(p.is_file() for p in links), [p for p in links if not p.is_file()]
    index = (docs / "index.md").read_text()
    assert "- [01 · Alpha study](studies/01_alpha.md)" in index and "(studies/03_gamma.md)" in index
    before = {p: p.read_text() for p in docs.rglob("*.md")}
    write_docs(repo / "results", docs)
    assert {p: p.read_text() for p in docs.rglob("*.md")} == before, "regenerating must be idempotent"
    (docs / "narrative" / "01_alpha.md").write_text("# 01 · Alpha\n\nRewritten.\n")
    write_docs(repo / "results", docs)
    assert "Rewritten." in (studies / "01_alpha.md").read_text()


def test_write_docs_keeps_a_hand_written_index(repo):
    docs = repo / "docs"
    (docs / "index.md").write_text(f"# Docs\n\n{STUDIES_START}\nstale\n{STUDIES_END}\n\nhand-written tail\n")
    write_docs(repo / "results", docs)
    text = (docs / "index.md").read_text()
    assert text.startswith("# Docs\n") and text.endswith("hand-written tail\n") and "stale" not in text
    assert "- [02 · Beta study](studies/02_beta.md)" in text and "- [03 · Gamma](studies/03_gamma.md)" in text
    (docs / "index.md").write_text("# Docs without markers\n")
    with pytest.raises(ValueError, match="study-list markers"):
        write_docs(repo / "results", docs)


def test_write_docs_refuses_results_without_latest_json(tmp_path):
    flat = tmp_path / "results" / "01_alpha"
    flat.mkdir(parents=True)
    (flat / "summary.md").write_text(SUMMARY_A)
    (flat / "metrics.csv").write_text("x\n")
    with pytest.raises(FileNotFoundError, match=r"no <notebook>/latest\.json.*make study"):
        write_docs(tmp_path / "results", tmp_path / "docs")
    assert not (tmp_path / "docs").exists(), "nothing is written before the check"
    with pytest.raises(FileNotFoundError, match="no results directory"):
        study_results(tmp_path / "nope")


def test_methods_page_lists_every_strategy(repo):
    from unlearn_lib.strategies import strategy_table

    write_docs(repo / "results", repo / "docs")
    text = (repo / "docs" / "methods.md").read_text()
    table = strategy_table()
    assert len(table) > 10
    for row in table.itertuples():
        assert f"| `{row.name}` |" in text
        assert row.reference in text
        for modality in row.modalities.split(", "):
            section = text.split(f"## {modality.capitalize()}", 1)[1].split("\n## ", 1)[0]
            assert f"| `{row.name}` |" in section


def test_batch_regenerates_docs_then_readme_after_the_run(repo, monkeypatch, capsys):
    ran = {}

    def fake_run_batch(profile, only, out, **kw):
        ran["out"] = out
        return {"01_alpha": {"status": "ok", "seconds": 1.0, "output_dir": str(Path(out) / "01_alpha")}}

    monkeypatch.setattr(batch.cli, "run_batch", fake_run_batch)  # where main() looks it up
    readme, docs = repo / "README.md", repo / "docs"
    nowhere = repo / "no-notebooks"  # were the stub bypassed, the real batch would find nothing to run
    nowhere.mkdir()
    rc = batch.main(["--notebooks", str(nowhere), "--out", str(repo / "results"), "--readme", str(readme), "--docs", str(docs)])
    assert rc == 0 and ran["out"] == str(repo / "results")
    assert (docs / "studies" / "01_alpha.md").is_file()
    assert "(docs/studies/01_alpha.md)" in _section(readme)
    empty = repo / "empty"
    empty.mkdir()
    assert batch.main(["--notebooks", str(nowhere), "--out", str(empty), "--docs", str(docs)]) == 2
    assert "latest.json" in capsys.readouterr().err


def test_repository_docs_links_resolve():
    """Every relative link of the README, CONTRIBUTING and docs/ points at a file of the repository."""
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = [(page.relative_to(ROOT), p) for page in pages for p in _links(page.read_text(), page.parent) if not p.exists()]
    assert not broken
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme


def test_summary_title_reads_the_first_level_two_heading(tmp_path):
    from unlearn_lib.report import summary_title

    summary = tmp_path / "summary.md"
    assert summary_title(summary) is None  # missing file
    summary.write_text("# run 1\n\nno heading here\n")
    assert summary_title(summary) is None
    summary.write_text("# run 1\n\n## Class forgetting on MNIST\n\n## Second\n")
    assert summary_title(summary) == "Class forgetting on MNIST"


def test_a_headline_never_cuts_the_verdict_column():
    """04's claims table put its verdict in the 3rd of 3 columns after wide ones; the README must keep it."""
    from unlearn_lib.report import compact_table

    table = "| claim | a | b | c | d | verdict |\n|---|---|---|---|---|---|\n| x | 1 | 2 | 3 | 4 | inconclusive |\n"
    small = compact_table(table, max_columns=4)
    assert small.splitlines()[0] == "| claim | a | b | verdict |" and small.splitlines()[2].endswith("| inconclusive |")
    assert compact_table("| a | b |\n|---|---|\n| 1 | 2 |\n", max_columns=4).splitlines()[0] == "| a | b |"


def test_a_pipe_inside_a_cell_is_escaped_and_keeps_the_columns():
    """Claims evidence such as ``|hard − easy|`` once split its row into extra cells and moved the verdict."""
    table = markdown_table(pd.DataFrame({"claim": ["c"], "measured": ["|hard − easy| of x"], "verdict": ["holds"]}))
    row = table.splitlines()[2]
    assert row == "| c | \\|hard − easy\\| of x | holds |"
    assert first_table(table) == table and compact_table(table, max_columns=1).splitlines()[2] == "| c | holds |"
