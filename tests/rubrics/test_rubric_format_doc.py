"""docs/RUBRIC_FORMAT.md stays true: its complete example loads, its question examples parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from medreview.domain.rubric import QuestionKind
from medreview.domain.validation import check_answer, is_complete
from medreview.rubrics.load import loads_form, parse_form

DOC = Path(__file__).resolve().parents[2] / "docs" / "RUBRIC_FORMAT.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_complete_example_loads_and_its_judgment_is_complete() -> None:
    full = [b for b in _blocks("yaml") if b.startswith("format: medreview-form/1")]
    assert len(full) == 1
    form = loads_form(full[0], "yaml", source="RUBRIC_FORMAT.md")
    assert {q.kind for q in form.questions} == set(QuestionKind)
    judgment = next(json.loads(b) for b in _blocks("json") if "mentions_follow_up" in b)
    assert is_complete(form, judgment)


def test_every_question_example_is_valid() -> None:
    singles = [b for b in _blocks("yaml") if b.startswith("- id:")]
    assert len(singles) == len(QuestionKind)
    for block in singles:
        question = yaml.safe_load(block)[0]
        form = parse_form({"key": "doc", "version": 1, "name": "Doc", "kind": "rubric",
                           "questions": [question]}, "RUBRIC_FORMAT.md")
        assert form.questions[0].kind.value == question["type"]


def test_error_answer_example_is_valid_for_the_error_example() -> None:
    block = next(b for b in _blocks("yaml") if b.startswith("- id: errors"))
    form = parse_form({"key": "doc", "version": 1, "name": "Doc", "kind": "taxonomy",
                       "questions": yaml.safe_load(block)}, "RUBRIC_FORMAT.md")
    entries = next(json.loads(b) for b in _blocks("json") if b.startswith("[{"))
    assert len(entries) == 2
    assert check_answer(form.question("errors"), entries) is None
