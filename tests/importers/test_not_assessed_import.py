"""Prior ratings that say "N/A" or "cannot assess" become the stored representation
(``domain.not_assessed``); ``--na`` still means "not answered"; bad entries are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE
from medreview.storage.project import open_project
from medreview.storage.tables import current_revisions
from tests.importers.helpers import write
from tests.importers.test_rating_validation import HEADER, _run, project  # noqa: F401

CA_HEADER = HEADER.rstrip("\n") + ",cannot_assess\n"


def _answers(path: Path) -> dict[str, dict[str, Any]]:
    with open_project(path) as p:
        return {r["case_external_id"]: dict(r["answers"]) for r in current_revisions(p)}


def test_na_and_cannot_assess_cells_become_the_representation(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    path = write(tmp_path / "r.csv", CA_HEADER
                 + "c1,m,dr_a,3,N/A,good,7,fine,\n"
                 + "c2,m,dr_a,2,Cannot assess,,,,\n"
                 + "c1,m,dr_b,2,yes,,,,Outside my specialty\n"
                 + "c2,m,dr_b,,,,,,no labs in the record\n")
    code, _, err = _run(capsys, "import", project, path)
    assert code == 0, err
    with open_project(project) as p:
        got = {(r["case_external_id"], r["rater"]): dict(r["answers"])
               for r in current_revisions(p)}
    assert got[("c1", "dr_a")]["safe"] == NOT_APPLICABLE
    assert got[("c2", "dr_a")][CANNOT_ASSESS_KEY] == {
        "reason": "other", "note": "q:safe: Cannot assess"}
    assert got[("c2", "dr_a")]["accuracy"] == 2  # kept, but the item rates nothing
    assert got[("c1", "dr_b")][CANNOT_ASSESS_KEY] == {"reason": "outside_specialty",
                                                      "note": ""}
    assert got[("c2", "dr_b")] == {CANNOT_ASSESS_KEY: {"reason": "other",
                                                       "note": "no labs in the record"}}


def test_the_na_option_still_means_not_answered(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    path = write(tmp_path / "r.csv", HEADER + "c1,m,dr_a,3,N/A,good,7,fine\n")
    code, _, err = _run(capsys, "import", project, path, "--na", "N/A")
    assert code == 0, err
    assert "safe" not in _answers(project)["c1"]


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("r.csv", HEADER + "c1,m,dr_a,N/A,yes,good,7,fine\n",
     "not applicable (N/A) is not allowed here"),
    ("r.jsonl", json.dumps({"case_id": "c1", "model": "m", "rater": "j",
                            "answers": {CANNOT_ASSESS_KEY: {"reason": "bored"}}}) + "\n",
     "cannot assess reason 'bored' is not one of"),
])
def test_a_bad_not_assessed_value_is_one_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
    name: str, text: str, reason: str,
) -> None:
    path = write(tmp_path / name, text)
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert reason in err and str(path) in err and "line " in err
    assert _answers(project) == {}


def test_jsonl_answers_carry_both_markers(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    rows = [{"case_id": "c1", "model": "m", "rater": "j", "answers": {"safe": "n/a"}},
            {"case_id": "c2", "model": "m", "rater": "j",
             "answers": {CANNOT_ASSESS_KEY: {"reason": "ambiguous_question", "note": ""}}}]
    path = write(tmp_path / "r.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = _run(capsys, "import", project, path)
    assert code == 0, err
    got = _answers(project)
    assert got["c1"] == {"safe": NOT_APPLICABLE}
    assert got["c2"] == {CANNOT_ASSESS_KEY: {"reason": "ambiguous_question", "note": ""}}
