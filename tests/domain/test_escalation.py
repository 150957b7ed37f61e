"""Escalation rules as pure functions: harm levels, the disagreement threshold at its
boundaries, the senior chosen, the settings read back, and hostile settings refused."""

from __future__ import annotations

from typing import Any

import pytest

from medreview.domain.escalation import (
    EscalationRules,
    EscalationState,
    SevereRule,
    check_rule,
    choose_senior,
    disagreement_share,
    plan,
    rules_from_settings,
    severe_raters,
    triggers,
)
from medreview.domain.rubric import Option, Question, QuestionKind
from medreview.errors import InputError

ERRORS = Question("errors", QuestionKind.ERROR, "Errors",
                  severities=(Option("minor", "Minor"), Option("major", "Major"),
                              Option("critical", "Critical")))
HARM = Question("harm_extent", QuestionKind.ORDINAL, "Harm",
                options=(Option(0, "None"), Option(1, "Moderate"), Option(2, "Severe")))
C1 = Question("c1", QuestionKind.CRITERION, "One")
C2 = Question("c2", QuestionKind.CRITERION, "Two")
C3 = Question("c3", QuestionKind.CRITERION, "Three")
NOTE = Question("note", QuestionKind.TEXT, "Note")
QS = {q.id: q for q in (ERRORS, HARM, C1, C2, C3, NOTE)}


def err(severity: str) -> list[dict[str, Any]]:
    return [{"category": "fabricated_claim", "severity": severity}]


def test_severity_at_or_above_the_level_follows_the_forms_order() -> None:
    ratings = {"errors": {"A": err("minor"), "B": err("major"), "C": err("critical"), "D": []}}
    assert severe_raters(ratings, QS, SevereRule("major")) == {"B", "C"}
    assert severe_raters(ratings, QS, SevereRule("critical")) == {"C"}
    assert severe_raters(ratings, QS, SevereRule("minor")) == {"A", "B", "C"}
    # A severity the scale does not know is never severe.
    assert severe_raters({"errors": {"X": err("unheard")}}, QS, SevereRule("minor")) == set()


def test_an_ordinal_harm_question_compares_numbers() -> None:
    ratings = {"harm_extent": {"A": 0, "B": 1, "C": 2}}
    rule = SevereRule(2, "harm_extent")
    assert severe_raters(ratings, QS, rule) == {"C"}
    assert severe_raters(ratings, QS, SevereRule(1, "harm_extent")) == {"B", "C"}
    found = triggers(ratings, QS, EscalationRules(severe=rule, seniors=("S",)))
    assert [t.reason for t in found] == ["severe harm rated by 1 physician"]
    two = triggers({"errors": {"A": err("major"), "B": err("critical")}}, QS,
                   EscalationRules(severe=SevereRule("major"), seniors=("S",)))
    assert two[0].reason == "severe harm rated by 2 physicians"


def test_disagreement_is_the_share_of_questions_not_unanimous_without_free_text() -> None:
    ratings = {"c1": {"A": True, "B": True, "C": False},
               "c2": {"A": True, "B": False, "C": True},
               "c3": {"A": True, "B": True, "C": True},
               "note": {"A": "x", "B": "y"},  # free text: never compared
               "harm_extent": {"A": 1}}  # one answer: nothing to compare
    assert disagreement_share(ratings, QS) == pytest.approx(2 / 3)
    assert disagreement_share({"c1": {"A": True}}, QS) is None


@pytest.mark.parametrize(("threshold", "fires"), [
    (0.0, True), (0.5, True), (0.66, True), (2 / 3, False), (0.9, False)])
def test_the_threshold_is_strict(threshold: float, fires: bool) -> None:
    ratings = {"c1": {"A": True, "B": False}, "c2": {"A": True, "B": False},
               "c3": {"A": True, "B": True}}
    found = triggers(ratings, QS, EscalationRules(disagreement=threshold, seniors=("S",)))
    assert bool(found) is fires
    if fires:
        assert found[0].reason == f"disagreement 0.67 > {threshold:g}"


def test_unanimous_raters_never_trigger_the_disagreement_rule() -> None:
    ratings = {"c1": {"A": True, "B": True}, "errors": {"A": err("minor"), "B": err("minor")}}
    assert triggers(ratings, QS, EscalationRules(disagreement=0.0, seniors=("S",))) == []


def test_the_senior_with_fewest_open_escalations_who_has_not_seen_the_item() -> None:
    seniors = ("Dr A", "Dr B", "Dr C")
    assert choose_senior(seniors, {}, set()) == "Dr A"
    assert choose_senior(seniors, {"Dr A": 2, "Dr B": 1}, set()) == "Dr C"
    assert choose_senior(seniors, {"Dr A": 2, "Dr B": 1}, {"Dr C"}) == "Dr B"
    assert choose_senior(seniors, {}, {"Dr A", "Dr B", "Dr C"}) is None


def test_a_plan_spreads_items_over_seniors_and_skips_those_involved() -> None:
    severe = {"errors": {"P": err("major")}}
    state = EscalationState(ratings={1: severe, 2: severe, 3: severe, 4: {"c1": {"P": True}}},
                            questions=QS, involved={2: frozenset({"Dr A"}),
                                                    3: frozenset({"Dr A", "Dr B"})},
                            open_escalations={"Dr B": 1})
    rules = EscalationRules(severe=SevereRule("major"), seniors=("Dr A", "Dr B"))
    planned = plan(state, rules)
    assert [(p.output_id, p.senior) for p in planned] == [(1, "Dr A"), (2, "Dr B"), (3, None)]
    assert plan(state, EscalationRules(severe=SevereRule("major"))) == []  # nobody to ask


def test_rules_round_trip_through_the_settings() -> None:
    rules = EscalationRules(SevereRule(2, "harm_extent"), 0.5, ("Dr A", "Dr B"))
    assert rules_from_settings(rules.to_settings()) == rules
    assert rules_from_settings(None) == EscalationRules()
    assert not EscalationRules(SevereRule("major")).active


@pytest.mark.parametrize("raw", [
    [], {"severe": "major"}, {"severe": {"level": True}}, {"severe": {"level": float("nan")}},
    {"severe": {"level": "x" * 500}}, {"disagreement": 1.0}, {"disagreement": -0.1},
    {"disagreement": "0.5"}, {"seniors": "Dr A"}, {"seniors": [""]}, {"seniors": [3]},
    {"seniors": ["x"] * 1000}, {"severe": {"level": "major", "question": ""}},
])
def test_hostile_settings_are_one_line(raw: Any) -> None:
    with pytest.raises(InputError) as exc:
        rules_from_settings(raw)
    assert "\n" not in str(exc.value)


def test_a_level_no_question_has_is_refused_with_the_levels() -> None:
    check_rule(QS, SevereRule("major"))
    check_rule(QS, SevereRule(2, "harm_extent"))
    with pytest.raises(InputError, match="levels: critical, major, minor"):
        check_rule(QS, SevereRule("severe"))
    with pytest.raises(InputError, match="levels: 0, 1, 2"):
        check_rule(QS, SevereRule(5, "harm_extent"))
    with pytest.raises(InputError, match="no error or ordinal question"):
        check_rule(QS, SevereRule(1, "c1"))
