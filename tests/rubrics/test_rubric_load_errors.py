"""Bad form definitions: each raises RubricError naming the field path and the reason."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medreview.errors import RubricError
from medreview.rubrics.load import load_form, loads_form, parse_form


def valid() -> dict[str, Any]:
    return {
        "format": "medreview-form/1",
        "key": "demo",
        "version": 1,
        "name": "Demo",
        "kind": "rubric",
        "questions": [
            {"id": "crit", "type": "criterion", "prompt": "Mentions X", "points": 5},
            {"id": "likert", "type": "ordinal", "prompt": "Quality",
             "options": [{"value": 1, "label": "Bad"}, {"value": 2, "label": "Good"}]},
            {"id": "choice", "type": "single_choice", "prompt": "Pick",
             "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
            {"id": "errs", "type": "error", "prompt": "Errors",
             "categories": [{"id": "fab", "label": "Fabricated"}],
             "severities": [{"value": "minor", "label": "Minor"}]},
            {"id": "num", "type": "number", "prompt": "Count", "minimum": 0, "maximum": 10},
        ],
    }


def test_the_base_document_is_valid() -> None:
    form = parse_form(valid(), "base")
    assert [q.id for q in form.questions] == ["crit", "likert", "choice", "errs", "num"]


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = _steps(path)
        target: Any = d
        for step in parents:
            target = target[step]
        target[last] = value
    return mutate


def _del(path: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = _steps(path)
        target: Any = d
        for step in parents:
            target = target[step]
        del target[last]
    return mutate


def _both(first: Mutation, second: Mutation) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        first(d)
        second(d)
    return mutate


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("[", ".").replace("]", "").split("."):
        steps.append(int(part) if part.isdigit() else part)
    return steps


CASES: list[tuple[str, Mutation, str, str]] = [
    ("unknown type", _set("questions[1].type", "ordinl"), "questions[1].type",
     "unknown question type 'ordinl' (did you mean 'ordinal'?)"),
    ("missing prompt", _del("questions[0].prompt"), "questions[0].prompt",
     "missing required field 'prompt'"),
    ("missing key", _del("key"), "key", "missing required field 'key'"),
    ("duplicate question id", _set("questions[2].id", "crit"), "questions[2].id",
     "duplicate question id 'crit' (also questions[0])"),
    ("criterion without points", _del("questions[0].points"), "questions[0].points",
     "a criterion needs points"),
    ("criterion with zero points", _set("questions[0].points", 0), "questions[0].points",
     "points must not be 0"),
    ("points as text", _set("questions[0].points", "5"), "questions[0].points",
     "must be a number, not text"),
    ("ordinal text value", _set("questions[1].options[1].value", "good"),
     "questions[1].options[1].value", "ordinal scale values must be numbers"),
    ("ordinal not increasing", _set("questions[1].options[1].value", 1),
     "questions[1].options[1].value", "duplicate value 1"),
    ("ordinal decreasing", _set("questions[1].options[1].value", 0),
     "questions[1].options[1].value", "must increase strictly: 0 follows 1"),
    ("empty options", _set("questions[2].options", []), "questions[2].options",
     "must not be empty"),
    ("one ordinal option", _set("questions[1].options", [{"value": 1, "label": "x"}]),
     "questions[1].options", "needs at least 2 options, has 1"),
    ("duplicate choice", _set("questions[2].options[1].value", "a"),
     "questions[2].options[1].value", "duplicate value 'a' (also questions[2].options[0])"),
    ("boolean choice (YAML yes)", _set("questions[2].options[0].value", True),
     "questions[2].options[0].value", "quote yes/no"),
    ("option without label", _del("questions[2].options[0].label"),
     "questions[2].options[0].label", "missing required field 'label'"),
    ("min > max", _set("questions[4].minimum", 11), "questions[4].minimum",
     "minimum 11 is greater than maximum 10"),
    ("unknown form key", _set("descripton", "x"), "descripton",
     "unknown field 'descripton' (did you mean 'description'?)"),
    ("unknown question key", _set("questions[1].optoins", []), "questions[1].optoins",
     "did you mean 'options'?"),
    ("key of another kind", _set("questions[1].points", 3), "questions[1].points",
     "'points' does not apply to questions of type 'ordinal' (it is for: criterion)"),
    ("wrong version type", _set("version", "1"), "version", "must be a whole number"),
    ("version zero", _set("version", 0), "version", "must be a whole number from 1"),
    ("required not bool", _set("questions[0].required", "yes"), "questions[0].required",
     "must be true or false, not text"),
    ("questions not a list", _set("questions", {"a": 1}), "questions", "must be a list"),
    ("question not a mapping", _set("questions[0]", "crit"), "questions[0]",
     "must be a mapping of fields, not text"),
    ("bad id", _set("questions[0].id", "has space"), "questions[0].id",
     "is not a valid identifier"),
    ("reserved id", _set("questions[0].id", "criterion:x"), "questions[0].id",
     "reserved for per-case criteria"),
    ("no categories", _set("questions[3].categories", []), "questions[3].categories",
     "needs at least one category"),
    ("duplicate category", _set("questions[3].categories",
                                [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]),
     "questions[3].categories[1].id", "duplicate category id 'a'"),
    ("empty severities", _set("questions[3].severities", []), "questions[3].severities",
     "must not be empty"),
    ("unknown kind", _set("kind", "taxonomie"), "kind", "did you mean 'taxonomy'?"),
    ("unknown scoring", _set("scoring", "healthbnch"), "scoring", "did you mean 'healthbench'?"),
    ("wrong format", _set("format", "medreview-form/2"), "format", "unsupported format"),
    ("tags not text", _set("questions[0].tags", ["ok", 3]), "questions[0].tags[1]",
     "must be non-empty text, not a number"),
    ("empty name", _set("name", "  "), "name", "must not be empty"),
    ("bad pairwise value", _set("questions[2]", {
        "id": "pw", "type": "pairwise", "prompt": "Which?",
        "options": [{"value": "A", "label": "A"}, {"value": "C", "label": "C"}]}),
     "questions[2].options[1].value", "pairwise values must be one of A, B, tie"),
    ("pairwise without B", _set("questions[2]", {
        "id": "pw", "type": "pairwise", "prompt": "Which?",
        "options": [{"value": "A", "label": "A"}, {"value": "tie", "label": "Tie"}]}),
     "questions[2].options", "needs the options 'A' and 'B'"),
    ("taxonomy without error question", _both(_set("kind", "taxonomy"), _del("questions[3]")),
     "questions", "a taxonomy needs at least one question of type error"),
    ("healthbench without criteria", _both(_set("scoring", "healthbench"), _del("questions[0]")),
     "scoring", "needs criterion questions or per_case_criteria"),
    ("no questions", _set("questions", []), "questions", "needs at least one question"),
]


@pytest.mark.parametrize(("mutate", "item", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_field_is_named(mutate: Mutation, item: str, reason: str) -> None:
    data = copy.deepcopy(valid())
    mutate(data)
    with pytest.raises(RubricError) as info:
        parse_form(data, "bad.yaml")
    err = info.value
    assert err.item == item
    assert reason in err.reason
    assert err.source == "bad.yaml"
    assert str(err).startswith(f"bad.yaml, {item}: ")


def test_yaml_syntax_error_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("key: demo\nversion: 1\nname: [unclosed\nkind: rubric\n", encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_form(path)
    assert info.value.source == str(path)
    assert info.value.line is not None and info.value.line >= 3
    assert "not valid YAML" in info.value.reason


def test_yaml_field_error_reports_line_of_the_field() -> None:
    text = (
        "key: demo\n"
        "version: 1\n"
        "name: Demo\n"
        "kind: rubric\n"
        "questions:\n"
        "  - id: q1\n"
        "    type: ordinal\n"
        "    prompt: Scale\n"
        "    options:\n"
        "      - {value: 1, label: Low}\n"
        "      - {value: x, label: High}\n"
    )
    with pytest.raises(RubricError) as info:
        loads_form(text, "yaml", source="f.yaml")
    assert info.value.item == "questions[0].options[1].value"
    assert info.value.line == 11


def test_missing_field_reports_line_of_its_parent() -> None:
    text = (
        "key: demo\nversion: 1\nname: Demo\nkind: rubric\n"
        "questions:\n  - id: q1\n    type: text\n"
    )
    with pytest.raises(RubricError) as info:
        loads_form(text, "yaml")
    assert info.value.item == "questions[0].prompt"
    assert info.value.line == 6


def test_yaml_unquoted_no_is_explained() -> None:
    text = (
        "key: demo\nversion: 1\nname: Demo\nkind: rubric\nquestions:\n"
        "  - id: q\n    type: single_choice\n    prompt: P\n    options:\n"
        "      - {value: yes, label: 'Yes'}\n      - {value: no, label: 'No'}\n"
    )
    with pytest.raises(RubricError, match="quote yes/no"):
        loads_form(text, "yaml")


def test_duplicate_yaml_key_is_refused() -> None:
    text = "key: demo\nversion: 1\nname: Demo\nname: Other\nkind: rubric\n"
    with pytest.raises(RubricError) as info:
        loads_form(text, "yaml")
    assert info.value.line == 4
    assert "duplicate field 'name'" in info.value.reason


def test_duplicate_json_key_is_refused() -> None:
    with pytest.raises(RubricError, match="duplicate field 'key'"):
        loads_form('{"key": "a", "key": "b"}', "json")


def test_json_syntax_error_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "key": "demo",\n  "version": 1,\n}\n', encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_form(path)
    assert info.value.line == 4
    assert "not valid JSON" in info.value.reason


def test_unsafe_yaml_tag_is_refused() -> None:
    with pytest.raises(RubricError, match="not valid YAML"):
        loads_form("key: !!python/object/apply:os.system ['echo hi']\n", "yaml")


def test_empty_and_non_mapping_documents(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="the file is empty"):
        loads_form("", "yaml")
    with pytest.raises(RubricError, match="must be a mapping of fields, not a list"):
        loads_form("[1, 2]", "yaml")


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match=r"unknown file extension '\.txt'"):
        load_form(tmp_path / "form.txt")
    with pytest.raises(RubricError, match="cannot read the file"):
        load_form(tmp_path / "absent.yaml")


def test_json_file_with_bad_field(tmp_path: Path) -> None:
    data = valid()
    data["questions"][0]["points"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_form(path)
    assert (info.value.source, info.value.item) == (str(path), "questions[0].points")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RubricError, match="not UTF-8"):
        load_form(path)


def test_extra_must_be_json_compatible() -> None:
    text = "key: demo\nversion: 1\nname: Demo\nkind: rubric\nper_case_criteria: true\n" \
        "extra:\n  study: {started: 2024-05-01}\n"
    with pytest.raises(RubricError) as info:
        loads_form(text, "yaml")
    assert info.value.item == "extra.study.started"
    assert "quote dates" in info.value.reason
    assert info.value.line == 7
    ok = loads_form(text.replace("2024-05-01", "'2024-05-01'"), "yaml")
    assert ok.extra == {"study": {"started": "2024-05-01"}}
