"""MedVAL-Bench rows (CSV and JSONL) import with no options: the physician's grade and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from medreview.cli.main import main
from medreview.errors import MedreviewError
from medreview.importers.detect import detect_format, parse_file
from medreview.services.grading import load_item, load_queue
from medreview.services.projects import list_raters, open_project, project_info
from tests.importers.test_medec import mutants

COLUMNS = [
    "#", "id", "task", "input", "reference_output", "output",
    "physician_error_assessment", "physician_risk_grade",
]
FABRICATED = {
    "#": "1", "id": "1", "task": "report2impression",
    "input": "FINDINGS: No pleural effusion or pneumothorax.\r\nHeart size normal.",
    "reference_output": "IMPRESSION: No acute cardiopulmonary findings.",
    "output": "IMPRESSION: Small pleural effusion.",
    "physician_error_assessment":
        'Error 1: Hallucination - "Small pleural effusion" is a fabricated claim.',
    "physician_risk_grade": "4",
}
CLEAN = {
    "#": "2", "id": "7", "task": "query2question",
    "input": "My son takes 5 mg of drug X; can he also take drug Y for his cough?",
    "reference_output": "", "output": "Can drug X be taken with drug Y?",
    "physician_error_assessment": "None", "physician_risk_grade": "Level 1 (No Risk)",
}
TWO_ERRORS = {
    "#": "3", "id": "8", "task": "dialogue2note",
    "input": "Doctor: How long has the chest pain lasted?\r\nPatient: Three days.",
    "reference_output": "NA", "output": "Assessment: chest pain. Plan: monitor at home.",
    "physician_error_assessment":
        "Error 1: Missing context - the three-day duration is left out.\r\n"
        "Error 2: Incorrect recommendation: 'monitor at home' for chest pain.",
    "physician_risk_grade": "3.0",
}
UNREADABLE = {
    "#": "4", "id": "9", "task": "query2question", "input": "What is fentanyl?",
    "reference_output": "", "output": "A mild pain reliever.",
    "physician_error_assessment": "Error 1: unsafe wording", "physician_risk_grade": "2",
}
LOW = {
    "#": "6", "id": "2", "task": "impression2simplified", "input": "Mild degenerative change.",
    "reference_output": "", "output": "Urgent: some wear and tear in your spine.",
    "physician_error_assessment": "Error 1: overstating_intensity (\u201cUrgent\u201d).",
    "physician_risk_grade": "2",
}
UNGRADED = {
    "#": "5", "id": "3", "task": "report2simplified", "input": "Findings: normal.",
    "reference_output": "", "output": "Everything looks fine.",
    "physician_error_assessment": "na", "physician_risk_grade": "-1",
}


def write_csv(path: Path, rows: list[dict[str, str]], *, blank_rows: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        for _ in range(blank_rows):
            writer.writerow({})
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def new_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    project = tmp_path / "project"
    assert run(capsys, "init", project)[0] == 0
    return project


def ground_truth(project: Path) -> dict[str, Any]:
    with open_project(project) as p:
        (rater,) = [r for r in list_raters(p) if r.name == "MedVAL-Bench ground truth"]
        out = {}
        for row in load_queue(p, rater.id):
            item = load_item(p, rater.id, row.output_id)
            if item.draft is not None:
                out[item.case.external_id] = item
        return out


def test_csv_rows_import_grade_errors_and_spans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = write_csv(
        tmp_path / "test.csv",
        [FABRICATED, CLEAN, TWO_ERRORS, UNREADABLE, LOW, UNGRADED],
        blank_rows=2,
    )
    assert detect_format(path) == "medval"
    code, out, err = run(capsys, "import", project, path, "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["files"]
    assert entry["format"] == "medval"
    # The ungraded (train-split) row comes in without a rating.
    assert entry["added"] == {"rubrics": 1, "cases": 6, "outputs": 6, "ratings": 5}

    truth = ground_truth(project)
    assert set(truth) == {
        "medval-report2impression-1",
        "medval-query2question-7",
        "medval-dialogue2note-8",
        "medval-query2question-9",
        "medval-impression2simplified-2",
    }
    fab = truth["medval-report2impression-1"]
    assert fab.form is not None and fab.form.key == "medval"
    assert fab.answer == "IMPRESSION: Small pleural effusion."
    assert fab.case.reference_answer == "IMPRESSION: No acute cardiopulmonary findings."
    assert fab.case.messages[-1].content == FABRICATED["input"].replace("\r\n", "\n")
    assert fab.draft is not None
    assert fab.draft.answers == {
        "risk_level": 4,
        "errors": [
            {
                "category": "fabricated_claim",
                "severity": "major",
                "note": 'Hallucination - "Small pleural effusion" is a fabricated claim.',
                "span": {"start": 12, "end": 34, "text": "Small pleural effusion"},
            }
        ],
    }
    assert fab.draft.rationale == FABRICATED["physician_error_assessment"]

    clean = truth["medval-query2question-7"]
    assert clean.draft is not None and clean.draft.answers == {"risk_level": 1, "errors": []}
    assert clean.case.reference_answer is None

    two = truth["medval-dialogue2note-8"]
    assert two.draft is not None
    errors = two.draft.answers["errors"]
    assert [(e["category"], e["severity"]) for e in errors] == [
        ("missing_context", "major"),
        ("incorrect_recommendation", "major"),
    ]
    assert errors[1]["span"]["text"] == "monitor at home"
    assert two.case.reference_answer is None  # "NA"

    # At levels 1-2 MedVAL calls an output unlikely to change decisions: its errors are minor.
    low = truth["medval-impression2simplified-2"]
    assert low.draft is not None
    assert low.draft.answers["errors"] == [
        {
            "category": "overstating_intensity",
            "severity": "minor",
            "note": "overstating_intensity (\u201cUrgent\u201d).",
            "span": {"start": 0, "end": 6, "text": "Urgent"},
        }
    ]

    # An entry that names no category leaves the errors unanswered instead of guessed.
    vague = truth["medval-query2question-9"]
    assert vague.draft is not None and vague.draft.answers == {"risk_level": 2}
    assert vague.draft.rationale == "Error 1: unsafe wording"

    code, out, err = run(capsys, "import", project, path, "--json")
    assert code == 0, err
    assert not json.loads(out)["files"][0]["added"]


def test_jsonl_rows_with_numbers_import_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    rows: list[dict[str, Any]] = [
        {**FABRICATED, "#": 1, "id": 1, "physician_risk_grade": 4},
        {**CLEAN, "physician_risk_grade": "Level 1 (No Risk)"},
    ]
    path = write_jsonl(tmp_path / "medval.jsonl", rows)
    assert detect_format(path) == "medval"
    assert run(capsys, "import", project, path)[0] == 0
    truth = ground_truth(project)
    fab = truth["medval-report2impression-1"]
    assert fab.draft is not None and fab.draft.answers["risk_level"] == 4
    clean = truth["medval-query2question-7"]
    assert clean.draft is not None and clean.draft.answers["risk_level"] == 1
    with open_project(project) as p:
        assert project_info(p).counts["judgments"] == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"physician_risk_grade": "5"}, "column 'physician_risk_grade': '5' is not a risk level"),
        ({"physician_risk_grade": "high"}, "'high' is not a risk level"),
        ({"physician_risk_grade": "3.5"}, "'3.5' is not a risk level"),
        ({"physician_risk_grade": "4" * 5000}, "is not a risk level"),
        ({"output": ""}, "column 'output' is empty"),
        ({"task": " "}, "column 'task' is empty"),
        ({"id": "", "#": ""}, "no row id"),
        ({"task": "query2question\r\nInjected: line"}, "column 'task': 'query2question\\nInj"),
        ({"id": "7" * 81}, "column 'id': '7777"),
    ],
)
def test_bad_value_refused_with_line_and_column(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    reason: str,
) -> None:
    project = new_project(tmp_path, capsys)
    # The bad row starts on the line after the good rows end (their cells span several lines).
    good = write_csv(tmp_path / "good.csv", [FABRICATED, TWO_ERRORS])
    line = good.read_bytes().count(b"\n") + 1
    path = write_csv(tmp_path / "bad.csv", [FABRICATED, TWO_ERRORS, {**CLEAN, **change}])
    assert line > 4  # the multi-line cells above push the row down
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"bad.csv, line {line}" in err and reason in err and len(err) < 400
    with open_project(project) as p:
        info = project_info(p)
    assert info.counts["cases"] == 0 and info.forms == ()


def test_bad_jsonl_value_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = write_jsonl(
        tmp_path / "bad.jsonl", [FABRICATED, {**CLEAN, "physician_risk_grade": True}]
    )
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    assert "bad.jsonl, line 2, medval-query2question-7: column 'physician_risk_grade'" in err


def test_same_row_id_with_another_grade_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = write_csv(tmp_path / "dup.csv", [CLEAN, {**CLEAN, "physician_risk_grade": "2"}])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    assert "dup.csv, line 3, medval-query2question-7: duplicate MedVAL-Bench row id" in err
    assert "than on line 2" in err


def test_medec_project_refuses_medval_ground_truth_with_instruction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    assert run(capsys, "init", project, "--rubric", "medec")[0] == 0
    path = write_csv(tmp_path / "test.csv", [CLEAN])
    code, _, err = run(capsys, "import", project, path, "--format", "medval")
    assert code == 2
    assert "grades with rubric 'medec'" in err and "--rubric medval" in err


def test_json_array_of_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = new_project(tmp_path, capsys)
    path = tmp_path / "medval_bench.json"
    path.write_text(json.dumps([FABRICATED, UNGRADED]), encoding="utf-8")
    assert detect_format(path) == "medval"
    code, out, err = run(capsys, "import", project, path, "--json")
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {
        "rubrics": 1, "cases": 2, "outputs": 2, "ratings": 1,
    }
    assert set(ground_truth(project)) == {"medval-report2impression-1"}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_mutated_files_are_read_or_refused_in_one_line(tmp_path: Path, suffix: str) -> None:
    rows = [FABRICATED, CLEAN, TWO_ERRORS]
    if suffix == ".csv":
        seed_file = write_csv(tmp_path / "seed.csv", rows).read_bytes()
    else:
        seed_file = write_jsonl(tmp_path / "seed.jsonl", list(rows)).read_bytes()
    path = tmp_path / f"m{suffix}"
    refused = 0
    for data in mutants(seed_file, 200, seed=5):
        path.write_bytes(data)
        for fmt in (None, "medval"):
            try:
                list(parse_file(path, fmt))
            except MedreviewError as exc:  # anything else fails the test with its traceback
                refused += 1
                assert "\n" not in exc.message and "\r" not in exc.message, exc.message
                assert len(exc.message) < 500 and exc.message.startswith(str(path))
    assert 0 < refused < 400
