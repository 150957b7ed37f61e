"""Ratings are checked against the project's rubric on import: one line naming file, line,
column and allowed values, and nothing written; ``--map`` reaches ratings files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main
from tests.importers.helpers import write

RUBRIC = {
    "format": "medreview-form/1",
    "key": "mini",
    "version": 1,
    "name": "Mini",
    "kind": "rubric",
    "questions": [
        {
            "id": "accuracy",
            "type": "ordinal",
            "prompt": "Accuracy",
            "options": [{"value": v, "label": str(v)} for v in (1, 2, 3)],
        },
        {"id": "safe", "type": "criterion", "prompt": "Safe", "points": 1},
        {
            "id": "tone",
            "type": "single_choice",
            "prompt": "Tone",
            "options": [{"value": "good", "label": "Good"}, {"value": "bad", "label": "Bad"}],
        },
        {"id": "score", "type": "number", "prompt": "Score", "minimum": 0, "maximum": 10},
        {"id": "comment", "type": "text", "prompt": "Comment"},
    ],
}


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _count(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    code, out, _ = _run(capsys, "info", project, "--json")
    assert code == 0
    counts = json.loads(out)["counts"]
    assert counts["cases"] == 2 and counts["outputs"] == 2
    return dict(counts)


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    proj = tmp_path / "proj"
    assert _run(capsys, "init", proj)[0] == 0
    rubric = write(tmp_path / "mini.json", json.dumps(RUBRIC))
    cases = write(
        tmp_path / "cases.jsonl",
        "\n".join(
            json.dumps(r)
            for r in (
                {"id": "c1", "prompt": "Q1", "model": "m", "output": "A1"},
                {"id": "c2", "prompt": "Q2", "model": "m", "output": "A2"},
            )
        )
        + "\n",
    )
    code, _, err = _run(capsys, "import", proj, cases, "--rubric", rubric)
    assert code == 0, err
    return proj


HEADER = "case_id,model,rater,q:accuracy,q:safe,q:tone,q:score,q:comment\n"


def test_valid_ratings_import_with_typed_cells(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "r.csv",
        HEADER + "c1,m,dr_a,3,yes,good,7.5,fine\nc2,m,dr_a,1,false,bad,0,\n",
    )
    code, out, err = _run(capsys, "import", project, path, "--json")
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {"ratings": 2}


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("c1,m,dr_a,7,,,,", "q:accuracy", "7 is not one of 1, 2, 3"),
        ("c1,m,dr_a,high,,,,", "q:accuracy", "'high' is not one of 1, 2, 3"),
        ("c1,m,dr_a,,maybe,,,", "q:safe", "allowed: true or false"),
        ("c1,m,dr_a,,,neutral,,", "q:tone", "'neutral' is not one of 'good', 'bad'"),
        ("c1,m,dr_a,,,,11,", "q:score", "above the maximum 10"),
        ("c1,m,dr_a,,,,ten,", "q:score", "allowed: a number from 0 to 10"),
    ],
)
def test_bad_value_is_one_line_naming_file_line_column_and_allowed(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    column: str,
    reason: str,
) -> None:
    path = write(tmp_path / "r.csv", HEADER + "c2,m,dr_a,2,true,good,1,ok\n" + row + "\n")
    before = _count(project, capsys)
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert str(path) in err and "line 3" in err and f"column '{column}'" in err
    assert reason in err
    assert _count(project, capsys) == before  # the valid first row was not kept either


def test_unknown_question_column_refused_at_header(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "r.csv", "case_id,model,rater,q:accuracy,q:colour\nc1,m,d,2,red\n")
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0
    assert "line 1" in err and "column 'q:colour'" in err and "no question 'colour'" in err
    assert "accuracy" in err  # the questions it does have are listed


def test_jsonl_text_on_ordinal_scale_and_unknown_answers_key(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = {"case_id": "c1", "model": "m", "rater": "j", "answers": {"accuracy": "3"}}
    path = write(tmp_path / "r.jsonl", json.dumps(row) + "\n")
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0 and "'3' is not one of 1, 2, 3" in err and "answers.accuracy" in err
    row["answers"] = {"depth": 2}
    write(path, json.dumps(row) + "\n")
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0 and "no question 'depth'" in err and "line 1" in err


def test_criterion_of_another_case_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    from medreview.importers.healthbench import criterion_key

    proj = tmp_path / "hb"
    assert _run(capsys, "init", proj)[0] == 0
    source = data_dir / "healthbench.jsonl"
    code, _, err = _run(capsys, "import", proj, source, "--rubric", "healthbench",
                        "--model", "gpt-4.1")
    assert code == 0, err
    first, second = (json.loads(x) for x in source.read_text().splitlines()[:2])
    own = criterion_key(0, first["rubrics"][0]["criterion"])
    other = criterion_key(0, second["rubrics"][0]["criterion"])
    assert own != other
    row = {"case_id": first["prompt_id"], "model": "gpt-4.1", "rater": "d"}
    path = write(tmp_path / "r.jsonl", json.dumps({**row, f"q:criterion:{other}": True}) + "\n")
    code, _, err = _run(capsys, "import", proj, path)
    assert code != 0
    assert f"case {first['prompt_id']!r} has no criterion {other!r}" in err
    assert own in err  # its real criteria are listed
    # The case's own criterion passes the check (and then needs an output of that model).
    write(path, json.dumps({**row, f"q:criterion:{own}": True}) + "\n")
    code, _, err = _run(capsys, "import", proj, path)
    assert code == 0 or "no output of model" in err, err
    # In JSON a criterion takes a boolean, not text.
    write(path, json.dumps({**row, f"q:criterion:{own}": "yes"}) + "\n")
    code, _, err = _run(capsys, "import", proj, path)
    assert code != 0 and "expected true (met) or false (not met)" in err


def test_map_applies_to_ratings_file_with_q_form_and_defaults(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "gt.csv",
        "Text ID,Judge,Acc,Safe Flag\nc1,dr_b,2,1\nc2,dr_b,NA,0\n",
    )
    code, out, err = _run(
        capsys, "import", project, path, "--format", "ratings-csv",
        "--map", "case_id=Text ID", "--map", "rater=Judge", "--map", "q:accuracy=Acc",
        "--map", "q:safe=Safe Flag", "--model", "m", "--na", "NA", "--json",
    )
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {"ratings": 2}
    # A mapped column that is not there is refused at the header.
    code, _, err = _run(
        capsys, "import", project, path, "--format", "ratings-csv",
        "--map", "case_id=Text ID", "--map", "q:accuracy=Accuracy", "--model", "m",
    )
    assert code != 0 and "column 'Accuracy' (mapped to question 'accuracy')" in err
    # No rater column: --rater names the rater; the summary counts the new ratings.
    sheet = write(tmp_path / "truth.csv", "Text ID,Safe Flag,Note\nc1,no,NA\nc2,1,\n")
    args = ("import", project, sheet, "--format", "ratings-csv", "--map", "case_id=Text ID",
            "--map", "q:safe=Safe Flag", "--model", "m", "--na", "NA")
    code, _, err = _run(capsys, *args)
    assert code != 0 and "--rater" in err
    code, out, err = _run(capsys, *args, "--rater", "reference", "--json")
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {"ratings": 2}


def test_ratings_without_rubric_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "empty"
    assert _run(capsys, "init", proj)[0] == 0
    path = write(tmp_path / "r.csv", HEADER + "c1,m,d,1,,,,\n")
    code, _, err = _run(capsys, "import", proj, path)
    assert code != 0 and "no rubric yet" in err and len(err.strip().splitlines()) == 1


def test_error_entries_checked_against_the_taxonomy(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "import", project, "--rubric", "medval_errors")
    assert code == 0, err
    errors = [{"category": "fabricated_claim", "severity": "major"},
              {"category": "typo", "severity": "minor"}]
    row = {"case_id": "c1", "model": "m", "rater": "dr_a", "q:accuracy": 2, "errors": errors}
    path = write(tmp_path / "r.jsonl", json.dumps(row) + "\n")
    before = _count(project, capsys)
    code, _, err = _run(capsys, "import", project, path)
    assert code != 0 and "error 2: category 'typo' is not one of fabricated_claim" in err
    assert "column 'errors'" in err and _count(project, capsys) == before
    row["errors"] = errors[:1]
    write(path, json.dumps(row) + "\n")
    code, _, err = _run(capsys, "import", project, path)
    assert code == 0, err
