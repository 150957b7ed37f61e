""""Not applicable" per question and "cannot assess" per item: validation, completeness,
scoring, the rubric option and the consensus read (``domain.not_assessed``)."""

from __future__ import annotations

import pytest

from medreview.domain import consensus
from medreview.domain.not_assessed import (
    ALL_QUESTIONS,
    CANNOT_ASSESS_KEY,
    NOT_APPLICABLE,
    REASONS,
    NotAssessedTally,
    assessed_answers,
    cannot_assess_of,
    cannot_assess_value,
    check_cannot_assess,
    na_allowed,
)
from medreview.domain.rubric import Form, FormKind, Option, Question, QuestionKind
from medreview.domain.scoring import form_score, judgment_score
from medreview.domain.validation import check_answer, invalid_answers, is_complete, missing_required
from medreview.errors import RubricError
from medreview.rubrics.load import parse_form

LIKERT = tuple(Option(v, str(v)) for v in (1, 2, 3))
C1 = Question("c1", QuestionKind.CRITERION, "Calls 911", required=True, points=6)
C2 = Question("c2", QuestionKind.CRITERION, "Mentions aspirin", required=True, points=4)
PEN = Question("pen", QuestionKind.CRITERION, "Diagnoses outright", required=True, points=-5)
LIK = Question("lik", QuestionKind.ORDINAL, "Accuracy", required=True, options=LIKERT)
LIK_NA = Question("lik_na", QuestionKind.ORDINAL, "Empathy", options=LIKERT, allow_na=True)
FORM = Form("hb", 1, "HB", FormKind.RUBRIC, (C1, C2, PEN, LIK, LIK_NA), scoring="healthbench")


def test_na_is_allowed_for_criteria_and_where_the_rubric_says_so() -> None:
    assert na_allowed(C1) and not na_allowed(LIK) and na_allowed(LIK_NA)
    assert not na_allowed(Question("x", QuestionKind.CRITERION, "p", points=1, allow_na=False))
    assert check_answer(C1, NOT_APPLICABLE) is None
    assert check_answer(LIK_NA, NOT_APPLICABLE) is None
    assert check_answer(LIK, NOT_APPLICABLE) == "not applicable (N/A) is not allowed here"
    # the old free-text spellings are not the marker
    assert check_answer(C1, "N/A") is not None


def test_na_answers_a_required_question() -> None:
    answers = {"c1": True, "c2": NOT_APPLICABLE, "pen": False, "lik": 2}
    assert missing_required(FORM, answers) == []
    assert is_complete(FORM, answers)
    assert missing_required(FORM, {"c1": True, "pen": False, "lik": 2}) == ["c2"]


def test_cannot_assess_completes_an_item_without_its_answers() -> None:
    answers = {CANNOT_ASSESS_KEY: cannot_assess_value("outside_specialty")}
    assert missing_required(FORM, answers) == []
    assert invalid_answers(FORM, answers) == {}
    assert is_complete(FORM, answers)
    assert cannot_assess_of(answers) is not None
    assert cannot_assess_of(answers).label == "Outside my specialty"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "reason"), [
    ({"reason": "bored"}, "cannot assess reason 'bored' is not one of"),
    ({"reason": "other"}, "needs a note"),
    ({"reason": "other", "note": "   "}, "needs a note"),
    ({"reason": "missing_context", "note": 3}, "note must be text"),
    ({"reason": "missing_context", "extra": 1}, "unknown field(s) 'extra'"),
    ({"reason": "missing_context", "note": "x" * 2001}, "longer than 2000"),
    ("missing_context", "must be a mapping"),
])
def test_a_bad_cannot_assess_entry_is_one_line(value: object, reason: str) -> None:
    problem = check_cannot_assess(value)
    assert problem is not None and reason in problem and "\n" not in problem
    assert reason in invalid_answers(FORM, {CANNOT_ASSESS_KEY: value})[CANNOT_ASSESS_KEY]


def test_every_reason_is_accepted_other_with_a_note() -> None:
    for reason in REASONS:
        note = "no images attached" if reason == "other" else ""
        assert check_cannot_assess(cannot_assess_value(reason, note)) is None
    assert cannot_assess_value("other", " why ")["note"] == "why"
    with pytest.raises(ValueError, match="needs a note"):
        cannot_assess_value("other")
    with pytest.raises(ValueError, match="not one of"):
        cannot_assess_value("bored")


def test_na_criteria_are_out_of_numerator_and_denominator() -> None:
    # all answered: (6 + 4) met, penalty not met -> 10 / 10
    assert form_score(FORM, {"c1": True, "c2": True, "pen": False}) == 1.0
    # c2 not met: 6 / 10; c2 not applicable: 6 / 6 (not 6 / 10)
    assert form_score(FORM, {"c1": True, "c2": False, "pen": False}) == pytest.approx(0.6)
    assert form_score(FORM, {"c1": True, "c2": NOT_APPLICABLE, "pen": False}) == 1.0
    # a not-applicable penalty takes nothing off
    assert form_score(FORM, {"c1": True, "c2": True, "pen": NOT_APPLICABLE}) == 1.0
    assert form_score(FORM, {"c1": True, "c2": True, "pen": True}) == pytest.approx(0.5)
    # every positive criterion not applicable: nothing possible, no score
    assert form_score(FORM, {"c1": NOT_APPLICABLE, "c2": NOT_APPLICABLE}) is None


def test_sum_and_mean_rules_skip_na() -> None:
    summed = Form("s", 1, "S", FormKind.RUBRIC, (C1, C2, LIK_NA), scoring="sum")
    assert form_score(summed, {"c1": True, "c2": NOT_APPLICABLE, "lik_na": NOT_APPLICABLE}) == 6
    mean = Form("m", 1, "M", FormKind.RUBRIC, (LIK, LIK_NA), scoring="mean")
    assert form_score(mean, {"lik": 3, "lik_na": NOT_APPLICABLE}) == 3


def test_a_cannot_assess_item_has_no_score() -> None:
    answers = {"c1": True, "c2": True, CANNOT_ASSESS_KEY: cannot_assess_value("missing_context")}
    assert form_score(FORM, answers) is None
    assert judgment_score(FORM, answers) is None
    assert judgment_score(FORM, {"c1": True, "c2": True, "pen": False}) == 1.0


def test_rubric_files_carry_allow_na_and_reserve_the_marker() -> None:
    base = {"format": "medreview-form/1", "key": "k", "version": 1, "name": "K",
            "kind": "rubric"}
    likert = [{"value": 1, "label": "bad"}, {"value": 2, "label": "good"}]
    form = parse_form({**base, "questions": [
        {"id": "q", "type": "ordinal", "prompt": "Q", "options": likert, "allow_na": True},
        {"id": "c", "type": "criterion", "prompt": "C", "points": 1, "allow_na": False},
        {"id": "d", "type": "criterion", "prompt": "D", "points": 1}]})
    assert [q.allow_na for q in form.questions] == [True, False, None]
    assert parse_form(form.to_dict()) == form
    old = parse_form({**base, "questions": [{"id": "d", "type": "criterion", "prompt": "D",
                                             "points": 1}]})
    assert "allow_na" not in old.to_dict()["questions"][0]  # existing forms hash the same
    with pytest.raises(RubricError, match="reserved for 'not applicable'"):
        parse_form({**base, "questions": [{"id": "s", "type": "single_choice", "prompt": "S",
                                           "options": [{"value": "_n/a", "label": "x"},
                                                       {"value": "b", "label": "y"}]}]})
    with pytest.raises(RubricError, match="cannot be answered 'not applicable'"):
        parse_form({**base, "questions": [{"id": "t", "type": "text", "prompt": "T",
                                           "allow_na": True}]})
    with pytest.raises(RubricError, match="allow_na"):
        parse_form({**base, "questions": [{"id": "d", "type": "criterion", "prompt": "D",
                                           "points": 1, "allow_na": "yes"}]})


def test_assessed_answers_and_the_tally() -> None:
    plain = {"c1": True}
    assert assessed_answers(plain) is plain
    assert assessed_answers({"c1": True, "c2": NOT_APPLICABLE}) == {"c1": True}
    assert assessed_answers({"c1": True, CANNOT_ASSESS_KEY: {"reason": "other"}}) == {}
    tally = NotAssessedTally(marks=True)
    tally.take({"c1": True, "c2": NOT_APPLICABLE}, "physician", (1, "A"))
    tally.take({"c2": NOT_APPLICABLE}, "judge", (1, "J"))
    tally.take({CANNOT_ASSESS_KEY: cannot_assess_value("ambiguous_question")}, "physician",
               (2, "A"))
    tally.take({"c1": True}, "physician", (3, "A"))
    assert tally.marks == {(1, "A"): frozenset({"c2"}), (2, "A"): ALL_QUESTIONS}
    rows = {(r["what"], r["rater_kind"], r["question_id"], r["reason"]): r["count"]
            for r in tally.rows()}
    assert rows == {("not_applicable", "physician", "c2", ""): 1,
                    ("not_applicable", "judge", "c2", ""): 1,
                    ("cannot_assess", "physician", "", "ambiguous_question"): 1}


def test_consensus_reads_na_and_cannot_assess_as_missing() -> None:
    questions = {q.id: q for q in FORM.questions}

    def rev(rater: str, answers: dict[str, object]) -> dict[str, object]:
        return {"rater_kind": "physician", "rater": rater, "rater_pseudonym": rater,
                "output_id": 1, "answers": answers, "annotations": []}

    ratings = consensus.physician_ratings([
        rev("A", {"c1": True, "c2": NOT_APPLICABLE}),
        rev("B", {"c1": False, "c2": True}),
        rev("C", {"c1": True, "c2": True,
                  CANNOT_ASSESS_KEY: cannot_assess_value("missing_context")}),
    ], questions)
    assert ratings[(1, "c1")] == {"A": True, "B": False}
    assert ratings[(1, "c2")] == {"B": True}
