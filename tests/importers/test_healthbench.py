"""HealthBench shapes: main, simple-evals results, Professional, meta-eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.records import (
    CaseRecord,
    CriterionRecord,
    Message,
    OutputRecord,
    RatingRecord,
)
from medreview.errors import ImportFailed
from medreview.importers.healthbench import (
    GRADER,
    criterion_key,
    model_from_filename,
    parse_healthbench,
)
from tests.importers.helpers import by_type, write

ALLRESULTS = "healthbench_gpt-4.1-2025-04-14_20250510_101010_allresults.json"


def _raw_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_main_shape_counts_and_rubric_preserved_exactly(data_dir: Path) -> None:
    path = data_dir / "healthbench.jsonl"
    groups = by_type(parse_healthbench(path))
    assert len(groups["case"]) == 2
    assert len(groups["output"]) == 5  # four reference completions + one model completion
    assert groups["rating"] == []

    raw = _raw_lines(path)
    for loc, row in zip(groups["case"], raw, strict=True):
        case = loc.record
        assert isinstance(case, CaseRecord)
        assert case.external_id == row["prompt_id"]
        assert case.messages == tuple(Message(m["role"], m["content"]) for m in row["prompt"])
        assert case.tags == tuple(row["example_tags"])
        assert [(c.text, c.points, c.tags) for c in case.criteria] == [
            (r["criterion"], r["points"], tuple(r["tags"])) for r in row["rubrics"]
        ]
        assert [c.key for c in case.criteria] == [
            criterion_key(i, r["criterion"]) for i, r in enumerate(row["rubrics"])
        ]
    first = groups["case"][0].record
    assert isinstance(first, CaseRecord)
    assert first.criteria[2] == CriterionRecord(
        first.criteria[2].key,
        "Recommends stopping breastfeeding before any treatment.",
        -6.0,
        ("level:example", "axis:accuracy"),
    )
    assert first.criteria[3].tags == (
        "level:cluster",
        "cluster:context_seeking_enough-context_helpful_safe",
        "axis:context_awareness",
    )
    assert first.reference_answer == raw[0]["ideal_completions_data"]["ideal_completion"]
    assert first.metadata == {"ideal_completions_group": "Group 2"}

    outs = [loc.record for loc in groups["output"]]
    assert all(isinstance(o, OutputRecord) for o in outs)
    assert [o.model for o in outs if isinstance(o, OutputRecord)] == [
        "reference-1",
        "reference-2",
        "reference-3",
        "reference-4",
        "gpt-4o-mini",
    ]
    last = outs[-1]
    assert isinstance(last, OutputRecord)
    assert last.text == "Please take her to the emergency department now."


def test_criterion_keys_are_stable_and_distinct() -> None:
    assert criterion_key(0, "A") == criterion_key(0, "A")
    assert criterion_key(0, "A") != criterion_key(1, "A")
    assert criterion_key(0, "A") != criterion_key(0, "B")
    assert criterion_key(3, "A").startswith("c03-")


def test_allresults_json_gives_case_output_and_grader_rating(data_dir: Path) -> None:
    path = data_dir / ALLRESULTS
    groups = by_type(parse_healthbench(path))
    assert (len(groups["case"]), len(groups["output"]), len(groups["rating"])) == (1, 1, 1)
    case = groups["case"][0].record
    out = groups["output"][0].record
    rating = groups["rating"][0].record
    assert isinstance(case, CaseRecord) and isinstance(out, OutputRecord)
    assert isinstance(rating, RatingRecord)
    assert [c.points for c in case.criteria] == [7.0, 5.0, 10.0, -6.0]
    assert out.model == "gpt-4.1-2025-04-14"
    assert out.external_id == "3f1a9c"
    assert out.metadata["score"] == 0.5
    assert rating.rater == GRADER and rating.rater_kind == "judge"
    assert rating.output_external_id == "3f1a9c"
    keys = [c.key for c in case.criteria]
    assert rating.answers == {
        f"criterion:{keys[0]}": True,
        f"criterion:{keys[1]}": False,
        f"criterion:{keys[2]}": True,
        f"criterion:{keys[3]}": True,
    }
    assert f"[{keys[1]}] No question asked." in rating.rationale


def test_result_rows_as_jsonl(tmp_path: Path, data_dir: Path) -> None:
    data = json.loads((data_dir / ALLRESULTS).read_text(encoding="utf-8"))
    row = data["metadata"]["example_level_metadata"][0]
    path = write(tmp_path / "rows.jsonl", json.dumps(row) + "\n")
    with pytest.raises(ImportFailed, match="no 'model' field"):
        list(parse_healthbench(path))
    groups = by_type(parse_healthbench(path, model="o3"))
    assert (len(groups["case"]), len(groups["output"]), len(groups["rating"])) == (1, 1, 1)
    assert groups["output"][0].record.model == "o3"  # type: ignore[union-attr]


def test_model_from_filename() -> None:
    assert model_from_filename(ALLRESULTS) == "gpt-4.1-2025-04-14"
    assert model_from_filename("healthbench_hard_o3_20250101_120000_DEBUG_allresults.json") == "o3"


def test_professional_shape(data_dir: Path) -> None:
    groups = by_type(parse_healthbench(data_dir / "healthbench_professional.jsonl"))
    assert len(groups["case"]) == 2 and groups["output"] == []
    case = groups["case"][0].record
    assert isinstance(case, CaseRecord)
    assert case.external_id == "hbp-0001"
    assert [(c.text, c.points) for c in case.criteria] == [
        ("Lists the antibiotics given and their duration.", 8.0),
        ("Invents laboratory values not given in the prompt.", -7.0),
    ]
    assert case.tags == (
        "use_case:writing",
        "type:standard",
        "difficulty:medium",
        "specialty:internal_medicine",
    )
    assert case.metadata["specialty"] == "internal_medicine"


def test_meta_eval_shape(data_dir: Path) -> None:
    located = list(parse_healthbench(data_dir / "healthbench_meta.jsonl"))
    groups = by_type(located)
    assert len(groups["case"]) == 2
    assert len(groups["output"]) == 3  # comp_001 appears on two rows
    # one rating per (completion, physician):
    # comp_001 × doc1..3, comp_002 × doc3, comp_003 × doc2 and doc4
    assert len(groups["rating"]) == 6
    # each case comes before any output or rating of it
    order = [type(loc.record).__name__ for loc in located]
    assert order.index("OutputRecord") > order.index("CaseRecord")
    case1 = groups["case"][0].record
    assert isinstance(case1, CaseRecord)
    assert len(case1.criteria) == 2  # both criteria gathered before the case was emitted
    cats = sorted(c.tags[0] for c in case1.criteria)
    assert cats == [
        "cluster:context_seeking_not-enough-context_context_seeking",
        "cluster:emergency_referrals_emergent_emergency_behavior",
    ]
    ratings = {
        (r.record.output_external_id, r.record.rater): r.record.answers  # type: ignore[union-attr]
        for r in groups["rating"]
    }
    emerg = next(c.key for c in case1.criteria if "emergency" in c.tags[0])
    ctx = next(c.key for c in case1.criteria if "context" in c.tags[0])
    assert ratings[("comp_001", "doc1")] == {f"criterion:{emerg}": True, f"criterion:{ctx}": False}
    assert ratings[("comp_001", "doc3")] == {f"criterion:{emerg}": False}
    assert ratings[("comp_002", "doc3")] == {f"criterion:{emerg}": False}
    assert all(r.record.rater_kind == "physician" for r in groups["rating"])  # type: ignore[union-attr]


def _main_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prompt_id": "p1",
        "prompt": [{"role": "user", "content": "Q"}],
        "rubrics": [{"criterion": "Does X.", "points": 5, "tags": ["axis:accuracy"]}],
        "example_tags": ["theme:hedging"],
        "ideal_completions_data": None,
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("rows", "line", "item", "reason"),
    [
        (
            [_main_row(), _main_row(prompt_id="p2", rubrics=[{"criterion": "X", "tags": []}])],
            2,
            "p2 rubrics[0]",
            "no 'points'",
        ),
        (
            [_main_row(rubrics=[{"criterion": "X", "points": "5", "tags": []}])],
            1,
            "p1 rubrics[0]",
            "'points' must be a number, got string",
        ),
        (
            [_main_row(rubrics=[{"criterion": "X", "points": True, "tags": []}])],
            1,
            "p1 rubrics[0]",
            "got boolean",
        ),
        (
            [_main_row(rubrics=[{"criterion": 3, "points": 1, "tags": []}])],
            1,
            "p1 rubrics[0]",
            "'criterion' must be a string",
        ),
        (
            [_main_row(rubrics=[{"criterion": "X", "points": 1, "tags": "axis:x"}])],
            1,
            "p1 rubrics[0]",
            "'tags' must be a list",
        ),
        ([_main_row(rubrics={"a": 1})], 1, "p1", "'rubrics' must be a list"),
        ([_main_row(prompt="hello")], 1, "p1", "'prompt' must be a non-empty list"),
        (
            [_main_row(), _main_row(prompt=[{"role": "user", "content": "other"}])],
            2,
            "p1",
            "duplicate case id",
        ),
        ([_main_row(), {"foo": 1}], 2, None, "does not have the HealthBench 'main' shape"),
        ([_main_row(completion="A")], 1, "p1", "no 'model' field"),
    ],
)
def test_bad_healthbench_rows(
    tmp_path: Path, rows: list[dict[str, Any]], line: int, item: str | None, reason: str
) -> None:
    path = write(tmp_path / "hb.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ImportFailed) as exc:
        list(parse_healthbench(path))
    assert exc.value.source == str(path)
    assert exc.value.line == line
    assert exc.value.item == item
    assert reason in exc.value.reason


def test_identical_repeated_case_is_one_record(tmp_path: Path) -> None:
    path = write(tmp_path / "hb.jsonl", (json.dumps(_main_row()) + "\n") * 3)
    assert len(list(parse_healthbench(path))) == 1


def test_meta_eval_label_count_mismatch(tmp_path: Path, data_dir: Path) -> None:
    rows = _raw_lines(data_dir / "healthbench_meta.jsonl")
    rows[1]["anonymized_physician_ids"] = ["doc1"]
    path = write(tmp_path / "meta.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ImportFailed, match="2 binary_labels but 1 anonymized_physician_ids") as exc:
        list(parse_healthbench(path))
    assert exc.value.line == 2


def test_allresults_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "x_allresults.json", '{"score": 1, "metadata": {}}')
    with pytest.raises(ImportFailed, match=r"no metadata\.example_level_metadata"):
        list(parse_healthbench(path))
    path = write(tmp_path / "y_allresults.json", '{"score": 1,\n "metadata": ')
    with pytest.raises(ImportFailed, match="malformed JSON") as exc:
        list(parse_healthbench(path))
    assert exc.value.line == 2
