"""Pure tests: tolerant JSON extraction, value coercion, confidences, templates."""

from __future__ import annotations

import json

import pytest

from medreview.domain.rubric import Option, Question, QuestionKind, case_criterion_question
from medreview.judge.confidence import Sample, decide
from medreview.judge.parse import ReplyParseError, coerce_value, extract_json
from medreview.judge.templates import (
    HEALTHBENCH,
    TEMPLATES,
    CaseContext,
    PromptTemplate,
    plan_tasks,
    style_hash,
)
from medreview.judge.testing_server import tokens_of
from medreview.rubrics.templates import load_template

CASE = CaseContext((("user", "Is {this} urgent?"),))


def test_extract_json_tolerates_wrapping() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure!\n```json\n{"a": 2}\n```\nbye') == {"a": 2}
    assert extract_json('<think>{"a": 0} hmm</think>The answer: {"a": 3} done') == {"a": 3}
    assert extract_json('prefix {"a": {"b": [1, 2]}} suffix {"c": 1}') == {"a": {"b": [1, 2]}}


@pytest.mark.parametrize("text,reason", [
    ("", "empty"), ("I think it is fine.", "not JSON"),
    ('{"criteria_met": tr', "truncated"), ("[1, 2]", "not JSON"),
])
def test_extract_json_refuses(text: str, reason: str) -> None:
    with pytest.raises(ReplyParseError, match=reason):
        extract_json(text)


def test_coerce_values_to_physician_conventions() -> None:
    crit = case_criterion_question("k", "Advises X", 5)
    assert coerce_value(crit, "True") is True
    ordinal = Question("q", QuestionKind.ORDINAL, "Quality",
                       options=(Option(1, "Poor"), Option(2, "Good")))
    assert coerce_value(ordinal, "2") == 2
    assert coerce_value(ordinal, "poor") == 1
    with pytest.raises(ReplyParseError, match="not one of"):
        coerce_value(ordinal, 7)
    with pytest.raises(ReplyParseError, match="true or false"):
        coerce_value(crit, "maybe")
    errors_q = load_template("medval").question("errors")
    value = coerce_value(errors_q, [{"category": "Fabricated claim", "severity": "major",
                                     "quote": "small effusion", "explanation": "not in input"}],
                         "Impression: small effusion.")
    assert value == [{"category": "fabricated_claim", "severity": "major", "note": "not in input",
                      "span": {"start": 12, "end": 26, "text": "small effusion"}}]
    with pytest.raises(ReplyParseError, match="category"):
        coerce_value(errors_q, [{"category": "typo", "severity": "minor"}])


def test_confidence_sources_in_order() -> None:
    q = case_criterion_question("k", "Advises X", 5)
    task = plan_tasks("healthbench", CASE, "answer", (q,))[0]
    text = json.dumps({"explanation": "e", "criteria_met": True, "confidence": 0.9})
    toks = tuple((t["token"], t["logprob"]) for t in tokens_of(text))
    with_lp = decide(task, [Sample(text, toks)])
    assert with_lp["confidence_source"][q.id] == "logprobs"
    assert with_lp["confidence"][q.id] == pytest.approx(0.8, abs=1e-6)
    stated = decide(task, [Sample(text)])
    assert (stated["confidence_source"][q.id], stated["confidence"][q.id]) == ("stated", 0.9)
    no = json.dumps({"explanation": "e", "criteria_met": False, "confidence": 0.5})
    agree = decide(task, [Sample(text), Sample(no), Sample(text), Sample("garbage")])
    assert agree["answers"][q.id] is True
    assert agree["confidence_source"][q.id] == "agreement"
    assert agree["confidence"][q.id] == pytest.approx(2 / 3, abs=1e-6)
    assert agree["unparsed"] == 1
    with pytest.raises(ReplyParseError):
        decide(task, [Sample("garbage"), Sample('{"explanation": "x"}')])


def test_plan_tasks_per_style() -> None:
    medval = load_template("medval")
    crit = (case_criterion_question("a", "A", 1), case_criterion_question("b", "B", -1))
    qs = medval.questions + crit
    keys = [t.item_key for t in plan_tasks("auto", CASE, "ans", qs)]
    assert keys == ["criterion:a", "criterion:b", "medval"]
    assert [t.item_key for t in plan_tasks("healthbench", CASE, "ans", qs)] == keys[:2]
    assert [t.item_key for t in plan_tasks("form", CASE, "ans", qs)] == ["form"]
    quality = load_template("quality_harm").questions
    form_task = plan_tasks("auto", CASE, "ans", quality)[0]
    assert form_task.item_key == "form"
    assert set(form_task.schema["properties"]["answers"]["properties"]) == {
        "overall_quality", "harm_extent", "harm_likelihood"}  # text is never judged
    pair = Question("pref", QuestionKind.PAIRWISE, "Which is better?")
    [pt] = plan_tasks("auto", CASE, "first", (pair,), other_answer="second")
    assert pt.item_key == "pairwise:pref" and "second" in pt.messages[1]["content"]
    with pytest.raises(ValueError, match="unknown judge template"):
        plan_tasks("nope", CASE, "ans", qs)


def test_templates_are_versioned_by_content_hash() -> None:
    assert len({t.sha256 for t in TEMPLATES.values()}) == len(TEMPLATES)
    edited = PromptTemplate(HEALTHBENCH.key, HEALTHBENCH.version, HEALTHBENCH.system,
                            HEALTHBENCH.instructions + " ")
    assert edited.sha256 != HEALTHBENCH.sha256
    assert style_hash("healthbench") == (1, HEALTHBENCH.sha256)
    q = case_criterion_question("k", "Advises X", 5)
    t1 = plan_tasks("healthbench", CASE, "answer", (q,))[0]
    t2 = plan_tasks("healthbench", CASE, "answer 2", (q,))[0]
    assert t1.request_hash != t2.request_hash
    assert t1.request_hash == plan_tasks("healthbench", CASE, "answer", (q,))[0].request_hash
    assert "+5" in t1.messages[1]["content"]  # the grader sees the signed points
