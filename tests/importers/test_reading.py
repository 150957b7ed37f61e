"""The reading layer every text importer shares: encodings, hostile bytes, JSON documents,
``--map``/``--na`` and CSV layout; each bad file is one line and a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.domain.records import CaseRecord, OutputRecord
from medreview.errors import ImportFailed
from medreview.importers import _common
from medreview.importers.detect import detect_format, parse_file
from medreview.importers.jsonl_csv import parse_csv, parse_jsonl
from tests.importers.helpers import by_type, write

CSV = (
    'id,prompt,model,output\r\nc1,"Line one\r\nline two, still c1",m,A1\r\n'
    "\r\n,,,\r\nc2,Q2,m,A2\r\n"
)


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    proj = tmp_path / "proj"
    assert _run(capsys, "init", proj)[0] == 0
    return proj


def _one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-8"])
def test_csv_encodings_with_bom_read_alike(tmp_path: Path, codec: str) -> None:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    path = tmp_path / "x.csv"
    path.write_bytes(bom + CSV.replace("Q2", "Q2 café").encode(codec))
    groups = by_type(parse_csv(path))
    cases = [loc.record for loc in groups["case"] if isinstance(loc.record, CaseRecord)]
    assert [c.external_id for c in cases] == ["c1", "c2"]
    # A quoted cell keeps its \r\n; blank and all-empty padding rows are skipped.
    assert cases[0].messages[0].content == "Line one\r\nline two, still c1"
    assert cases[1].messages[0].content == "Q2 café"
    assert [loc.line for loc in groups["case"]] == [2, 6]


def test_utf16_without_bom_is_named_and_readable_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("id,prompt\na,b\n".encode("utf-16-le"))
    with pytest.raises(ImportFailed, match="--encoding utf-16-le"):
        list(parse_csv(path))
    (loc,) = parse_csv(path, encoding="utf-16-le")
    assert isinstance(loc.record, CaseRecord) and loc.record.external_id == "a"
    # Python's "utf-16" without a BOM raises a bare UnicodeError: still one clear refusal.
    path.write_bytes(b'[{"' + "x".encode("utf-16-le"))
    with pytest.raises(ImportFailed, match="utf-16-le or utf-16-be"):
        list(parse_csv(path, encoding="utf-16"))


def test_utf16_jsonl_and_detection(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(json.dumps({"id": "a", "prompt": "é"}).encode("utf-16") + b"")
    assert detect_format(path) == "jsonl"
    (loc,) = parse_jsonl(path)
    assert isinstance(loc.record, CaseRecord) and loc.record.messages[0].content == "é"


def test_non_utf8_names_line_and_byte_offset_and_encoding_option(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes("id,prompt\nc1,ok\nc2,caf\u00e9 au lait\n".encode("cp1252"))
    line = _one_line_error(*_run(capsys, "import", project, path)[::2])
    assert "line 3" in line and "byte offset 22" in line and "--encoding" in line
    code, _, err = _run(capsys, "import", project, path, "--encoding", "cp1252")
    assert code == 0, err
    line = _one_line_error(*_run(capsys, "import", project, path, "--encoding", "klingon")[::2])
    assert "unknown encoding 'klingon'" in line
    for codec in ("rot13", "base64"):
        path2 = write(tmp_path / f"{codec}.csv", "id,prompt\na,b\n")
        with pytest.raises(ImportFailed, match="not a text encoding"):
            list(parse_csv(path2, encoding=codec))


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sheet.xml", "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("img.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "this is a PNG image"),
        ("book.csv", _zip_bytes(), "this is a ZIP archive"),
        ("nul.jsonl", b'{"id": "a", "prompt": "x\x00"}\n', "NUL character"),
        ("nul.csv", b"id,prompt\na,b\x00c\n", "NUL character"),
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", "nests deeper than 100"),
        ("deep.json", b"[" + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]", "nests deeper"),
        ("deepcell.csv", b"id,prompt,meta\na,b," + b"[" * 50_000 + b"\n", "prompt"),
        ("scalar.json", b"42", "expected a JSON array or object of records"),
        ("trunc.json", b'[{"id": "a", "prompt": "x"}, {"id": "b"', "malformed JSON"),
        ("sq.jsonl", b"[1, 2]\n", "expected a JSON object per line"),
        ("blank.csv", b"", "empty file"),
    ],
)
def test_hostile_files_are_refused_in_one_line(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: bytes,
    reason: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, _, err = _run(capsys, "import", project, path)
    if name == "deepcell.csv":
        # A deep JSON-looking cell is kept as text, never a RecursionError: the file imports.
        assert code == 0, err
        return
    line = _one_line_error(code, err)
    assert str(path) in line and reason in line


def test_line_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "MAX_LINE_CHARS", 1000)
    path = write(tmp_path / "long.jsonl", '{"id": "a", "prompt": "x"}\n' + "x" * 5000 + "\n")
    with pytest.raises(ImportFailed, match="line longer than 1000 characters") as exc:
        list(parse_jsonl(path))
    assert exc.value.line == 2
    # An unclosed quote makes the rest of a CSV one huge cell: refused by the same cap.
    path = write(tmp_path / "q.csv", "id,prompt\na,\"" + ("y" * 200 + "\n") * 20)
    try:
        with pytest.raises(ImportFailed, match="a cell is longer than") as exc:
            list(parse_csv(path))
    finally:
        csv.field_size_limit(32 * 1024 * 1024)  # the limit is process-wide: put the real one back
    assert exc.value.line == 2


def test_json_array_and_dict_of_records(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    array = [
        {"question": "Q1?", "answer": "B", "options": {"A": "x", "B": "y"}, "id": "q1"},
        {"question": "Q2?", "answer": "A", "options": {"A": "x", "B": "y"}, "id": "q2"},
    ]
    path = write(tmp_path / "medqa.json", json.dumps(array, indent=2))
    assert detect_format(path) == "json"
    # "answer" is the gold letter here, not a model output: turn the default off.
    code, out, err = _run(
        capsys, "import", project, path, "--map", "output=", "--map", "reference=answer",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["files"][0]["added"] == {"cases": 2}
    records = list(parse_file(path, mapping={"output": "", "reference": "answer"}))
    assert [loc.line for loc in records] == [2, 11]
    first = records[0].record
    assert isinstance(first, CaseRecord) and first.reference_answer == "B"
    assert first.metadata == {"options": {"A": "x", "B": "y"}}

    pubmedqa = {
        "12345": {"QUESTION": "Does X cause Y?", "final_decision": "yes"},
        "67890": {"QUESTION": "Is Z safe?", "final_decision": "no"},
    }
    path = write(tmp_path / "pubmedqa.json", json.dumps(pubmedqa))
    records = list(parse_file(path, mapping={"prompt": "QUESTION"}))
    assert [loc.record.external_id for loc in records] == ["12345", "67890"]  # type: ignore[union-attr]
    code, _, err = _run(capsys, "import", project, path, "--map", "prompt=QUESTION")
    assert code == 0, err


def test_na_markers_and_repeated_map(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv",
        "Text ID,Text,Reply,Engine\nt1,Note one,NA,m\nt2,Note two,Fine,m\n",
    )
    groups = by_type(
        parse_file(
            path,
            mapping={"case_id": "Text ID", "prompt": "Text", "output": "Reply,Answer"},
            na=("NA",),
            model="fallback",
        )
    )
    assert [loc.record.external_id for loc in groups["case"]] == ["t1", "t2"]  # type: ignore[union-attr]
    (out,) = (loc.record for loc in groups["output"])
    assert isinstance(out, OutputRecord) and out.text == "Fine" and out.case_external_id == "t2"


def test_cli_map_syntax_errors_are_one_line(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "x.csv", "id,prompt\na,b\n")
    line = _one_line_error(*_run(capsys, "import", project, path, "--map", "nonsense")[::2])
    assert "--map takes FIELD=COLUMN" in line
    line = _one_line_error(*_run(capsys, "import", project, path, "--map", "colour=x")[::2])
    assert "unknown field role 'colour'" in line
    line = _one_line_error(*_run(capsys, "import", project, path, "--map", "q:a=b")[::2])
    assert "ratings files only" in line
