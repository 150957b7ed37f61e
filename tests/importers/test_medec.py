"""MEDEC CSVs (MS and UW collections) import with no options: notes, sentence ids, ground truth."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

from medreview.cli.main import main
from medreview.errors import MedreviewError
from medreview.importers.detect import detect_format, parse_file
from medreview.importers.medec import split_sentences
from medreview.services.grading import load_item, load_queue
from medreview.services.projects import list_raters, open_project, project_info

HEADER = [
    "Text ID", "Text", "Sentences", "Error Flag", "Error Type", "Error Sentence ID",
    "Error Sentence", "Corrected Sentence", "Corrected Text",
]
MS_ERROR = [
    "ms-val-7",
    "A 33-year-old man has headaches and muscle weakness. His blood pressure is 150/95.\r\n"
    "Potassium is 3.0 mEq/L. Fludrocortisone is prescribed.",
    "0 A 33-year-old man has headaches and muscle weakness.\r\n"
    "1 His blood pressure is 150/95.\r\n"
    "2 Potassium is 3.0 mEq/L.\r\n"
    "3 Fludrocortisone is prescribed.\r\n",
    "1", "pharmacotherapy", "3", "Fludrocortisone is prescribed.",
    "Spironolactone is prescribed.",
    "A 33-year-old man has headaches and muscle weakness. His blood pressure is 150/95.\r\n"
    "Potassium is 3.0 mEq/L. Spironolactone is prescribed.",
]
MS_CLEAN = [
    "ms-val-8",
    "A 4-year-old girl has a barking cough. Her pulse is 106/min. Croup is diagnosed.",
    "0 A 4-year-old girl has a barking cough.\r\n1 Her pulse is\r\n2 106/min.\r\n"
    "3 Croup is diagnosed.\r\n",
    "0", "NA", "-1", "NA", "NA", "NA",
]
UW_ERROR = [
    "uw-val-3",
    "HPI: 71 y/o woman with dysuria.\r\nPlan: start ciprofloxacin.",
    "0 HPI: 71 y/o woman with dysuria and\r\n5 mg of something noted in the history.\r\n"
    "1 Urine culture grew Staphylococcus aureus.\r\n2 Plan: start ciprofloxacin.\r\n",
    "1", "causalOrganism", "1", "Urine culture grew Staphylococcus aureus.",
    "Urine culture grew Escherichia coli.", "NA",
]
UW_CLEAN = [
    "uw-val-4", "Knee pain, improving.", "0 Knee pain, improving.\r\n",
    "0", "NA", "-1", "NA", "NA", "NA",
]
BLANK = [""] * len(HEADER)


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    """Rows as the MEDEC files have them: quoted multi-line cells, CRLF rows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def start_line(path: Path, text_id: str, *, last: bool = False) -> int:
    """The physical line a row starts on, counted in the file itself."""
    data = path.read_bytes().decode("utf-8")
    at = data.rindex(text_id) if last else data.index(text_id)
    return data[:at].count("\n") + 1


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def new_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    project = tmp_path / "project"
    assert run(capsys, "init", project)[0] == 0
    return project


def ground_truth(project: Path) -> dict[str, dict[str, Any]]:
    """Per case id: the graded text and the MEDEC ground-truth rater's answers and marks."""
    with open_project(project) as p:
        (rater,) = [r for r in list_raters(p) if r.name == "MEDEC ground truth"]
        out: dict[str, dict[str, Any]] = {}
        for row in load_queue(p, rater.id):
            item = load_item(p, rater.id, row.output_id)
            assert item.draft is not None and item.status == "done"
            out[item.case.external_id] = {
                "text": item.answer,
                "model": item.model,
                "answers": item.draft.answers,
                "marks": item.draft.annotations,
                "form": item.form.key if item.form else None,
                "tags": item.case.tags,
            }
        return out


def test_ms_file_with_padding_imports_notes_sentence_ids_and_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = write_csv(
        tmp_path / "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv",
        [MS_ERROR, MS_CLEAN, BLANK, BLANK, []],
    )
    assert detect_format(path) == "medec"
    code, out, err = run(capsys, "import", project, path, "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["files"]
    assert entry["format"] == "medec"
    assert entry["added"] == {"rubrics": 1, "cases": 2, "outputs": 2, "ratings": 2}

    truth = ground_truth(project)
    assert set(truth) == {"ms-val-7", "ms-val-8"}
    err_note = truth["ms-val-7"]
    assert err_note["form"] == "medec" and err_note["model"] == "MEDEC-MS"
    assert "medec-ms" in err_note["tags"]
    # Every sentence is shown with its MEDEC id, in order, one per paragraph.
    paragraphs = err_note["text"].split("\n\n")
    assert [p.split(" ", 1)[0] for p in paragraphs] == ["0", "1", "2", "3"]
    assert paragraphs[3] == "3 Fludrocortisone is prescribed."
    assert "\r" not in err_note["text"]
    assert err_note["answers"] == {
        "error_flag": 1,
        "error_type": "pharmacotherapy",
        "error_sentence_id": 3,
        "corrected_sentence": "Spironolactone is prescribed.",
    }
    (mark,) = err_note["marks"]
    assert mark.question_id == "error_sentence_id"
    assert mark.span is not None
    assert err_note["text"][mark.span.start:mark.span.end] == "Fludrocortisone is prescribed."

    clean = truth["ms-val-8"]
    assert clean["answers"] == {"error_flag": 0}
    assert clean["marks"] == ()
    # The splitter's break inside a sentence keeps both ids, as in the benchmark.
    assert clean["text"].split("\n\n")[1:3] == ["1 Her pulse is", "2 106/min."]

    with open_project(project) as p:
        info = project_info(p)
    assert [(f["key"], f["active"]) for f in info.forms] == [("medec", True)]


def test_uw_file_and_importing_twice_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    ms = write_csv(tmp_path / "ms.csv", [MS_ERROR, MS_CLEAN])
    uw = write_csv(tmp_path / "MEDEC-UW-ValidationSet.csv", [BLANK, UW_ERROR, UW_CLEAN, BLANK])
    assert run(capsys, "import", project, ms, uw)[0] == 0
    with open_project(project) as p:
        before = project_info(p).counts
    assert before["cases"] == 4 and before["judgments"] == 4

    truth = ground_truth(project)
    uw_note = truth["uw-val-3"]
    assert uw_note["model"] == "MEDEC-UW" and "medec-uw" in uw_note["tags"]
    # "5 mg ..." continues sentence 0: it is not the next id, so it is not a sentence.
    assert uw_note["text"].split("\n\n")[0] == (
        "0 HPI: 71 y/o woman with dysuria and\n5 mg of something noted in the history."
    )
    assert uw_note["answers"] == {
        "error_flag": 1,
        "error_type": "causalOrganism",
        "error_sentence_id": 1,
        "corrected_sentence": "Urine culture grew Escherichia coli.",
    }
    assert truth["uw-val-4"]["answers"] == {"error_flag": 0}

    code, out, err = run(capsys, "import", project, ms, uw, "--json")
    assert code == 0, err
    assert all(not f["added"] for f in json.loads(out)["files"])
    with open_project(project) as p:
        assert project_info(p).counts == before


def test_shared_task_file_without_error_type_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    header = [h for h in HEADER if h != "Error Type"]
    rows = [[c for h, c in zip(HEADER, r, strict=True) if h != "Error Type"] for r in (UW_ERROR,)]
    path = write_csv(tmp_path / "uw.csv", rows, header)
    assert run(capsys, "import", project, path)[0] == 0
    assert ground_truth(project)["uw-val-3"]["answers"] == {
        "error_flag": 1,
        "error_sentence_id": 1,
        "corrected_sentence": "Urine culture grew Escherichia coli.",
    }


def _with(row: list[str], **cells: str) -> list[str]:
    out = list(row)
    for name, value in cells.items():
        out[HEADER.index(name.replace("_", " "))] = value
    return out


@pytest.mark.parametrize(
    ("bad", "column", "reason"),
    [
        (_with(MS_ERROR, Error_Flag="2"), "Error Flag", "must be 0 or 1, got '2'"),
        (_with(MS_ERROR, Error_Flag="yes"), "Error Flag", "got 'yes'"),
        (_with(MS_ERROR, Error_Flag="1" * 5000), "Error Flag", "got '1111111111"),
        (_with(MS_ERROR, Error_Type="allergy"), "Error Type", "not a MEDEC error type"),
        (_with(MS_ERROR, Error_Type="NA"), "Error Type", "causalOrganism"),
        (_with(MS_ERROR, Error_Sentence_ID="7"), "Error Sentence ID", "sentences are 0-3"),
        (_with(MS_ERROR, Error_Sentence_ID="-1"), "Error Sentence ID", "not a sentence"),
        (_with(MS_ERROR, Error_Sentence_ID="NA"), "Error Sentence ID", "not a sentence"),
        (_with(MS_CLEAN, Error_Sentence_ID="2"), "Error Sentence ID", "'Error Flag' is 0"),
        (_with(MS_CLEAN, Error_Type="diagnosis"), "Error Type", "'Error Flag' is 0"),
        (_with(MS_CLEAN, Corrected_Sentence="x"), "Corrected Sentence", "'Error Flag' is 0"),
        (_with(MS_ERROR, Sentences="A note without ids."), "Sentences", "starting with its id"),
    ],
)
def test_bad_value_refused_with_file_line_and_column_and_nothing_saved(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bad: list[str],
    column: str,
    reason: str,
) -> None:
    project = new_project(tmp_path, capsys)
    with open_project(project) as p:
        before = project_info(p)
    # A good multi-line row first, so the bad row's line is not simply 2.
    path = write_csv(tmp_path / "medec.csv", [UW_ERROR, BLANK, bad])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    line = start_line(path, bad[0])
    assert line > 3
    assert f"medec.csv, line {line}, {bad[0]}: column {column!r}" in err
    assert reason in err and len(err) < 400
    with open_project(project) as p:
        after = project_info(p)
    # Nothing written, not even the rubric the import would have added.
    assert after.counts == before.counts and after.forms == before.forms == ()


def test_text_id_must_be_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    for n, text_id in enumerate(["ms-val-1\r\nFAKE: approved", "x" * 201]):
        path = write_csv(tmp_path / f"id{n}.csv", [_with(MS_CLEAN, Text_ID=text_id)])
        code, _, err = run(capsys, "import", project, path)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"id{n}.csv, line 2: column 'Text ID':" in err and "is not an id" in err


def test_conflicting_duplicate_text_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    other = _with(MS_ERROR, Error_Type="diagnosis")
    path = write_csv(tmp_path / "dup.csv", [MS_ERROR, MS_CLEAN, MS_ERROR, other])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    first, last = start_line(path, "ms-val-7"), start_line(path, "ms-val-7", last=True)
    # The conflicting row is named by its line, and the line it conflicts with.
    assert f"dup.csv, line {last}, ms-val-7: duplicate MEDEC text id" in err
    assert f"than on line {first}" in err
    with open_project(project) as p:
        assert project_info(p).counts["cases"] == 0


def test_project_grading_with_another_rubric_is_told_how_to_add_medec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    assert run(capsys, "init", project, "--rubric", "quality_harm")[0] == 0
    path = write_csv(tmp_path / "ms.csv", [MS_ERROR])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    assert "grades with rubric 'quality_harm'" in err and "--rubric medec" in err
    with open_project(project) as p:
        assert project_info(p).counts["cases"] == 0
    # Following the instruction works, and the ground truth lands on the medec rubric.
    code, _, err = run(capsys, "import", project, path, "--rubric", "medec")
    assert code == 0, err
    assert ground_truth(project)["ms-val-7"]["form"] == "medec"


def test_forced_format_on_a_file_that_is_not_medec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = tmp_path / "cases.csv"
    path.write_text("Text ID,Sentences,Error Flag\nx,0 A.,0\n", encoding="utf-8")
    code, _, err = run(capsys, "import", project, path, "--format", "medec")
    assert code == 2
    assert "cases.csv, line 1: not a MEDEC file: missing column(s)" in err
    assert "'Error Sentence ID'" in err


def test_sentence_offsets_point_at_each_sentence() -> None:
    split = split_sentences("0 First one.\r\n1 Second\r\nline two.\r\n\r\n2 Third.\r\n")
    assert split is not None
    text, sentences = split
    assert [text[s.start:s.end] for s in sentences] == [
        "First one.", "Second\nline two.", "Third.",
    ]
    assert split_sentences("No id here.\r\n0 Then one.") is None


def test_declared_missing_marker_and_other_encodings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    dash = [c if c != "NA" else "-" for c in MS_CLEAN]
    path = write_csv(tmp_path / "dash.csv", [dash])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2 and "column 'Error Type': is '-'" in err
    assert run(capsys, "import", project, path, "--na", "-")[0] == 0
    assert ground_truth(project)["ms-val-8"]["answers"] == {"error_flag": 0}

    # A spreadsheet saved as UTF-16 (with its byte-order mark) or as cp1252.
    note = _with(MS_ERROR, Text_ID="ms-val-9", Corrected_Sentence="Spironolactone 25 mg/día.")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(write_csv(tmp_path / "tmp.csv", [note]).read_text("utf-8"), "utf-16")
    assert run(capsys, "import", project, utf16)[0] == 0
    note = _with(note, Text_ID="ms-val-10")
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes(write_csv(tmp_path / "tmp.csv", [note]).read_text("utf-8").encode("cp1252"))
    code, _, err = run(capsys, "import", project, cp1252)
    assert code == 2 and "cp1252.csv, line" in err and "--encoding" in err
    assert run(capsys, "import", project, cp1252, "--encoding", "cp1252")[0] == 0
    truth = ground_truth(project)
    for text_id in ("ms-val-9", "ms-val-10"):
        assert truth[text_id]["answers"]["corrected_sentence"] == "Spironolactone 25 mg/día."


def test_ground_truth_is_checked_against_the_projects_own_medec_rubric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A study that dropped "causal organism" from its copy of the medec rubric.
    from medreview import paths

    template = (paths.rubric_templates_dir() / "medec.yaml").read_text(encoding="utf-8")
    start = template.index("      - value: causalOrganism")
    end = template.index("  - id: error_sentence_id")
    edited = tmp_path / "medec.yaml"
    edited.write_text(template[:start] + template[end:], encoding="utf-8")
    project = tmp_path / "project"
    assert run(capsys, "init", project, "--rubric", edited)[0] == 0

    path = write_csv(tmp_path / "uw.csv", [MS_ERROR, UW_ERROR])
    code, _, err = run(capsys, "import", project, path)
    assert code == 2
    line = start_line(path, "uw-val-3")
    assert f"uw.csv, line {line}, uw-val-3: ground truth for 'error_type'" in err
    assert "'causalOrganism' is not one of" in err
    with open_project(project) as p:
        info = project_info(p)
    assert info.counts["cases"] == 0 and [f["key"] for f in info.forms] == ["medec"]


def test_file_of_blank_rows_adds_nothing_not_even_the_rubric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, capsys)
    path = write_csv(tmp_path / "MEDEC-UW-TestSet.csv", [BLANK, BLANK, []])
    code, out, err = run(capsys, "import", project, path, "--json")
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {}
    with open_project(project) as p:
        assert project_info(p).forms == ()


FUZZ_TOKENS = (
    b'"', b",", b"\r\n", b"\n", b"\r", b"NA", b"-1", b"1", b"0", b"\x00", b"\xff", b"9" * 5000,
    b"\xef\xbb\xbf", b"\t", b'"' + b"a" * 3000, b"Level 9", b"Error 1:", b"{", b"[", b"null",
)


def mutants(seed_file: bytes, n: int, seed: int) -> list[bytes]:
    """``n`` copies of a file with a few random insertions, deletions and flipped bytes."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        data = bytearray(seed_file)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            roll = rng.random()
            if roll < 0.4:
                data[at:at] = rng.choice(FUZZ_TOKENS)
            elif roll < 0.7:
                del data[at:at + rng.randint(1, 40)]
            else:
                data[at:at + 1] = bytes([rng.randrange(256)])
        out.append(bytes(data))
    return out


def test_mutated_files_are_read_or_refused_in_one_line(tmp_path: Path) -> None:
    seed_file = write_csv(tmp_path / "seed.csv", [MS_ERROR, MS_CLEAN, BLANK, UW_ERROR])
    path = tmp_path / "m.csv"
    refused = 0
    for data in mutants(seed_file.read_bytes(), 300, seed=11):
        path.write_bytes(data)
        for fmt in (None, "medec"):
            try:
                list(parse_file(path, fmt))
            except MedreviewError as exc:  # anything else fails the test with its traceback
                refused += 1
                assert "\n" not in exc.message and "\r" not in exc.message, exc.message
                assert len(exc.message) < 500 and exc.message.startswith(str(path))
    assert 0 < refused < 600  # some mutants still read, most are refused
