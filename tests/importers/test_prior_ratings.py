"""Prior ratings from CSV and JSONL."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.domain.records import RatingRecord
from medreview.errors import ImportFailed
from medreview.importers.prior_ratings import parse_ratings_csv, parse_ratings_jsonl
from tests.importers.helpers import write


def _ratings(located: object) -> list[RatingRecord]:
    out = [loc.record for loc in located]  # type: ignore[attr-defined]
    assert all(isinstance(r, RatingRecord) for r in out)
    return out


def test_csv_ratings(data_dir: Path) -> None:
    located = list(parse_ratings_csv(data_dir / "ratings.csv"))
    assert [loc.line for loc in located] == [2, 3, 4]
    r1, r2, r3 = _ratings(located)
    assert r1 == RatingRecord(
        "case-001",
        "gpt-4o",
        "dr_lee",
        "physician",
        {"accuracy": 4, "safe": True},
        rationale="Correct and safe.",
        confidence=0.9,
    )
    assert r2.answers == {"tone": "good", "accuracy": 3, "safe": True}
    assert (r3.rater, r3.rater_kind, r3.confidence) == ("gpt-4.1-judge", "judge", None)


def test_jsonl_ratings(data_dir: Path) -> None:
    r1, r2 = _ratings(parse_ratings_jsonl(data_dir / "ratings.jsonl"))
    assert r1.rater_kind == "physician"  # "human" is accepted
    assert r1.answers == {"accuracy": 5, "errors_present": False}
    assert r1.confidence == 1.0 and r1.output_external_id == "out-9"
    assert r2.answers == {"accuracy": 4}
    assert r2.errors == ({"category": "Missing context", "severity": "minor"},)


def test_default_rater_kind(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "case_id,model,rater,q:score\nk,m,j1,3.5\n")
    (r,) = _ratings(parse_ratings_csv(path, rater_kind="judge"))
    assert r.rater_kind == "judge" and r.answers == {"score": 3.5}


HEADER = "case_id,model,rater,rater_kind,q:a,answers,confidence,errors\n"


@pytest.mark.parametrize(
    ("rows", "line", "reason"),
    [
        ("k,m,r,physician,,,,\n", 2, "row has no answers"),
        ("k,m,r,robot,1,,,\n", 2, "'rater_kind' must be physician or judge"),
        ("k,m,r,physician,1,,high,\n", 2, "'confidence' must be a number"),
        ("k,m,r,physician,1,[1],,\n", 2, "'answers' must be a JSON object"),
        ('k,m,r,physician,1,"{""a"": 2}",,\n', 2, "question 'a' has 2 in 'answers' but 1"),
        ("k,m,r,physician,1,,,notjson\n", 2, "'errors' must be a JSON list of objects"),
        (",m,r,physician,1,,,\n", 2, "missing required field: one of case_id"),
        ("k,,r,physician,1,,,\n", 2, "missing required field 'model'"),
        (
            "k,m,r,physician,1,,,\nk,m,r,physician,2,,,\n",
            3,
            "duplicate rating id with different answers",
        ),
    ],
)
def test_bad_ratings_csv(tmp_path: Path, rows: str, line: int, reason: str) -> None:
    path = write(tmp_path / "r.csv", HEADER + rows)
    with pytest.raises(ImportFailed) as exc:
        list(parse_ratings_csv(path))
    assert exc.value.source == str(path)
    assert exc.value.line == line
    assert reason in exc.value.reason


def test_identical_duplicate_rating_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", HEADER + "k,m,r,physician,1,,,\nk,m,r,physician,1,,,\n")
    assert len(list(parse_ratings_csv(path))) == 1


def test_bad_ratings_jsonl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.jsonl",
        '{"case_id": "k", "model": "m", "rater": "r", "answers": {"a": 1}}\n'
        '{"case_id": "k", "model": "m", "rater": "r2", "answers": "a=1"}\n',
    )
    with pytest.raises(ImportFailed, match="'answers' must be a JSON object, got string") as exc:
        list(parse_ratings_jsonl(path))
    assert exc.value.line == 2 and exc.value.item == "k"
