"""Format detection and the parse_file dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.domain.records import OutputRecord
from medreview.errors import ImportFailed
from medreview.importers.detect import detect_format, parse_file
from medreview.importers.jsonl_csv import FieldMapping
from tests.importers.helpers import by_type, write


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("cases.jsonl", "jsonl"),
        ("cases.csv", "csv"),
        ("wide.csv", "csv"),
        ("healthbench.jsonl", "healthbench"),
        ("healthbench_meta.jsonl", "healthbench"),
        ("healthbench_professional.jsonl", "healthbench"),
        ("healthbench_gpt-4.1-2025-04-14_20250510_101010_allresults.json", "healthbench"),
        ("inspect_medqa.json", "inspect-eval"),
        ("inspect_medqa.eval", "inspect-eval"),
        ("inspect_legacy.eval", "inspect-eval"),
        ("ratings.csv", "ratings-csv"),
        ("ratings.jsonl", "ratings-jsonl"),
    ],
)
def test_detect_fixture_formats(data_dir: Path, name: str, fmt: str) -> None:
    assert detect_format(data_dir / name) == fmt


def test_detect_folder_and_unknown(tmp_path: Path) -> None:
    assert detect_format(tmp_path) == "media-folder"
    with pytest.raises(ImportFailed, match=r"unknown file type \.txt"):
        detect_format(write(tmp_path / "a.txt", "x"))
    with pytest.raises(ImportFailed, match="no such file"):
        detect_format(tmp_path / "missing.csv")
    with pytest.raises(ImportFailed, match="unrecognised JSON file"):
        detect_format(write(tmp_path / "a.json", json.dumps({"x": 1})))
    with pytest.raises(ImportFailed, match="malformed JSON") as exc:
        detect_format(write(tmp_path / "b.jsonl", "\n{bad\n"))
    assert exc.value.line == 2


def test_parse_file_dispatches(data_dir: Path) -> None:
    groups = by_type(parse_file(data_dir / "inspect_medqa.eval"))
    assert (len(groups["case"]), len(groups["output"]), len(groups["rating"])) == (3, 4, 4)
    groups = by_type(parse_file(data_dir / "ratings.csv"))
    assert len(groups["rating"]) == 3
    groups = by_type(
        parse_file(data_dir / "wide.csv", "wide-csv", model_columns=["gpt-4o", "claude-3-5-sonnet"])
    )
    assert (len(groups["case"]), len(groups["output"])) == (2, 3)


def test_parse_file_model_becomes_default_model(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "id,prompt,output\nk,Q,A\n")
    outs = [
        loc.record for loc in parse_file(path, model="m9") if isinstance(loc.record, OutputRecord)
    ]
    assert [o.model for o in outs] == ["m9"]
    mapping = FieldMapping(output=("output",), model=("engine",))
    outs = [
        loc.record
        for loc in parse_file(path, mapping=mapping, model="m8")
        if isinstance(loc.record, OutputRecord)
    ]
    assert [o.model for o in outs] == ["m8"]


def test_parse_file_unknown_format(data_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="unknown format 'xml'"):
        parse_file(data_dir / "cases.csv", "xml")


def test_parse_file_accepts_cli_style_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "uid,body,engine,text\nk,Q,m1,A\n")
    recs = [
        loc.record
        for loc in parse_file(
            path, mapping={"id": "uid", "question": "body", "model": "engine", "response": "text"}
        )
    ]
    assert [type(r).__name__ for r in recs] == ["CaseRecord", "OutputRecord"]
    with pytest.raises(ImportFailed, match="unknown field role 'colour'"):
        parse_file(path, mapping={"colour": "x"})
