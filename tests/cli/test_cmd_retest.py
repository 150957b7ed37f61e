"""``medreview assign --retest-fraction``, ``medreview retest`` and ``import --retest``: seeded
retest items, one line for bad input, imported re-ratings kept as retest revisions only."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.storage.assignments import find_rater, output_infos
from medreview.storage.project import open_project
from medreview.storage.rater_quality import rater_records
from medreview.storage.retests import retest_overview
from medreview.storage.tables import current_revisions
from tests.storage.study_helpers import small_study

RATER = "Dr Again"


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "p"
    small_study(path, n_cases=5).close()
    return path


def test_assign_with_a_retest_fraction_and_the_retest_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    assert main(["assign", str(path), "--raters", f"{RATER},Dr Other", "--per-output", "1",
                 "--retest-fraction", "0.2", "--retest-delay-days", "3", "--seed", "4"]) == 0
    assert "2 retest items added (3 days after each is finished)" in capsys.readouterr().out
    assert main(["retest", str(path), "--fraction", "0.2"]) == 0  # each has its share
    assert "0 retest items added" in capsys.readouterr().out
    assert main(["retest", str(path), "--fraction", "0.5", "--seed", "1",
                 "--raters", RATER]) == 0
    assert f"  {RATER}: 2" in capsys.readouterr().out
    assert main(["retest", str(path), "--status"]) == 0
    out = capsys.readouterr().out
    assert RATER in out and "Dr Other" in out
    with open_project(path) as project:
        by = {r.rater: (r.items, r.waiting) for r in retest_overview(project)}
    assert by == {RATER: (3, 3), "Dr Other": (1, 1)}
    for bad in (["--fraction", "0"], ["--fraction", "2"], ["--fraction", "nan"],
                ["--fraction", "0.1", "--delay-days", "-1"], []):
        assert main(["retest", str(path), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error:" in err
    assert main(["assign", str(path), "--raters", "Dr Third", "--retest-fraction", "7"]) == 2
    assert "retest fraction" in capsys.readouterr().err
    with open_project(path) as project:  # refused before anything was written
        assert "Dr Third" not in {r.rater for r in retest_overview(project)}


def test_import_retest_writes_retest_revisions_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    with open_project(path) as project:
        out = output_infos(project)[0]
        rid = find_rater(project, "Dr Lead").id
        grading.save_revision(project, rid, out.output_id,
                              JudgmentDraft(answers={"overall": 5, "safe": "yes"}),
                              status="done")
        case = current_revisions(project)[0]["case_external_id"]
    csv = tmp_path / "retests.csv"
    csv.write_text("case_id,model,rater,q:overall,q:safe,created_at\n"
                   f"{case},{out.model},Dr Lead,2,no,2030-01-02T10:00:00\n", encoding="utf-8")
    assert main(["import", str(path), str(csv), "--retest"]) == 0
    assert "added 1 retests" in capsys.readouterr().out
    assert main(["import", str(path), str(csv), "--retest"]) == 0  # twice adds nothing
    assert "added 0 retests (already there: 1)" in capsys.readouterr().out
    with open_project(path) as project:
        (cur,) = current_revisions(project)
        assert cur["answers"]["overall"] == 5  # the study answer is unchanged
        (pair,) = rater_records(project).retests
        assert (pair.first["overall"], pair.second["overall"]) == (5, 2)
        assert pair.second_at.year == 2030
    bad = tmp_path / "bad.csv"
    for body, reason in (
            (f"{case},{out.model},Dr Nobody,2,no,\n", "no finished answer"),
            (f"{case},{out.model},Dr Lead,9,no,\n", "overall"),
            (f"{case},{out.model},Dr Lead,2,no,yesterday\n", "ISO 8601"),
            (f"nope,{out.model},Dr Lead,2,no,\n", "no output")):
        bad.write_text("case_id,model,rater,q:overall,q:safe,created_at\n" + body,
                       encoding="utf-8")
        assert main(["import", str(path), str(bad), "--retest"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and reason in err and "bad.csv" in err
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "x", "prompt": "p", "response": "r", "model": "m"}\n',
                     encoding="utf-8")
    assert main(["import", str(path), str(cases), "--retest"]) == 2
    assert "--retest takes a ratings file" in capsys.readouterr().err
    with open_project(path) as project:
        assert len(rater_records(project).retests) == 1  # nothing half-written
