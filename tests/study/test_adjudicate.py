"""Adjudication: disagreement rules per question kind, ordering, gold labels and their history."""

from __future__ import annotations

import pytest

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.errors import InputError
from medreview.services import grading
from medreview.services.projects import add_rater
from medreview.storage.audit import gold_history, judgment_history
from medreview.storage.project import Project
from medreview.study.adjudicate import (
    DisagreementRules,
    accept_majority,
    adjudication_queue,
    auto_gold,
    gold_labels,
    set_gold,
)


def _rate(project: Project, rater: str, output_id: int, answers: dict[str, object],
          errors: tuple[Annotation, ...] = ()) -> None:
    rid = add_rater(project, rater).id
    grading.save_revision(project, rid, output_id,
                          JudgmentDraft(answers=answers, annotations=errors), status="done")


@pytest.fixture
def rated(study: Project) -> Project:
    # output 1: binary criterion split 2-1, ordinal 1 vs 4 (spread 3)
    _rate(study, "A", 1, {"criterion:dx": True, "overall": 1})
    _rate(study, "B", 1, {"criterion:dx": True, "overall": 4})
    _rate(study, "C", 1, {"criterion:dx": False, "overall": 4})
    # output 2: ordinal spread 1 (below threshold 2), same criterion; different error category
    _rate(study, "A", 2, {"criterion:dx": True, "overall": 3},
          (Annotation("errors", "factual", 2),))
    _rate(study, "B", 2, {"criterion:dx": True, "overall": 4},
          (Annotation("errors", "omission", 2),))
    # output 3: only severity differs
    _rate(study, "A", 3, {"overall": 5}, (Annotation("errors", "factual", 1),))
    _rate(study, "B", 3, {"overall": 5}, (Annotation("errors", "factual", 3),))
    # output 4: single rater
    _rate(study, "A", 4, {"overall": 2, "criterion:abx": False})
    return study


def test_queue_applies_rules_per_kind_and_sorts_by_disagreement(rated: Project) -> None:
    queue = adjudication_queue(rated)
    keys = [(d.output_id, d.question_id) for d in queue]
    assert set(keys) == {(1, "criterion:dx"), (1, "overall"), (2, "errors"), (3, "errors")}
    assert (2, "overall") not in keys  # spread 1 < threshold 2
    assert [d.score for d in queue] == sorted((d.score for d in queue), reverse=True)
    by = {(d.output_id, d.question_id): d for d in queue}
    assert by[(1, "overall")].score == pytest.approx(3 / 4)  # spread 3 on a 1..5 scale
    assert by[(1, "criterion:dx")].score == pytest.approx(1 / 3)
    assert by[(1, "criterion:dx")].majority is True and by[(1, "criterion:dx")].has_majority
    assert by[(2, "errors")].score == pytest.approx(1.0)  # disjoint categories
    assert by[(3, "errors")].ratings == {"A": [{"category": "factual", "severity": 1}],
                                         "B": [{"category": "factual", "severity": 3}]}
    strict = adjudication_queue(rated, DisagreementRules(ordinal_threshold=1))
    assert (2, "overall") in {(d.output_id, d.question_id) for d in strict}


def test_gold_labels_are_appended_with_provenance_and_leave_the_queue(rated: Project) -> None:
    g1 = set_gold(rated, 1, "overall", 3, rationale="Dose is wrong but safe.",
                  adjudicator="Dr Lead")
    g2 = set_gold(rated, 1, "overall", 2, rationale="On reflection: incomplete.",
                  adjudicator="Dr Lead")
    assert (g1.revision_no, g2.revision_no) == (1, 2)
    assert gold_labels(rated)[1]["overall"].value == 2
    hist = gold_history(rated, output_id=1)
    assert [(h["value"], h["provenance"], h["adjudicator"]) for h in hist] == [
        (3, "adjudicated", "Dr Lead"), (2, "adjudicated", "Dr Lead")]
    remaining = {(d.output_id, d.question_id) for d in adjudication_queue(rated)}
    assert (1, "overall") not in remaining and (1, "criterion:dx") in remaining
    maj = accept_majority(rated, 1, "criterion:dx", adjudicator="Dr Lead")
    assert maj.value is True and maj.provenance == "adjudicated"
    with pytest.raises(InputError, match="no majority"):
        accept_majority(rated, 2, "errors", adjudicator="Dr Lead")
    with pytest.raises(InputError, match="not a valid gold answer"):
        set_gold(rated, 1, "overall", 9, adjudicator="Dr Lead")
    with pytest.raises(InputError, match="adjudicator"):
        set_gold(rated, 1, "overall", 3)


def test_auto_gold_settles_agreement_only_and_never_overrides(rated: Project) -> None:
    set_gold(rated, 1, "overall", 3, rationale="x", adjudicator="Dr Lead")
    summary = auto_gold(rated)
    gold = gold_labels(rated)
    assert gold[1]["overall"].provenance == "adjudicated" and gold[1]["overall"].value == 3
    assert gold[1]["criterion:dx"].provenance == "majority"
    assert gold[2]["criterion:dx"].provenance == "unanimous"
    assert gold[3]["overall"].provenance == "unanimous"
    assert gold[4]["overall"].provenance == "single_rater"
    assert "errors" not in gold.get(2, {})  # 1 vs 1: no majority, left to a person
    assert summary.skipped_disagreements >= 2
    assert auto_gold(rated).added == {}  # idempotent


def test_judgment_history_keeps_every_revision_with_who_and_when(rated: Project) -> None:
    rid = add_rater(rated, "A").id
    grading.save_revision(rated, rid, 1, JudgmentDraft(answers={"overall": 2}), status="done")
    hist = judgment_history(rated, output_id=1, rater="A")
    assert [(h["revision_no"], h["answers"].get("overall"), h["is_current"]) for h in hist] == [
        (1, 1, False), (2, 2, True)]
    assert all(h["author"] == "A" and h["created_at"] is not None for h in hist)
    pseudo = judgment_history(rated, output_id=1, rater="A", pseudonymise=True)
    assert {h["rater"] for h in pseudo} == {h["author"] for h in pseudo} != {"A"}


def test_disagreement_scores_for_numbers_and_multi_choice() -> None:
    from medreview.domain.rubric import Option, Question, QuestionKind
    from medreview.study.adjudicate import disagreement_score

    num = Question("minutes", QuestionKind.NUMBER, "m")
    assert disagreement_score(num, [10, 10], DisagreementRules()) is None
    assert disagreement_score(num, [5, 10], DisagreementRules()) == pytest.approx(0.5)
    assert disagreement_score(num, [5, 10], DisagreementRules(number_threshold=10)) is None
    multi = Question("issues", QuestionKind.MULTI_CHOICE, "i",
                     options=(Option("a", "A"), Option("b", "B")))
    assert disagreement_score(multi, [["a", "b"], ["b", "a"]], DisagreementRules()) is None
    assert disagreement_score(multi, [["a"], ["a", "b"]], DisagreementRules()) == \
        pytest.approx(0.5)
    text = Question("comment", QuestionKind.TEXT, "c")
    assert disagreement_score(text, ["x", "y"], DisagreementRules()) is None


def test_auto_gold_writes_the_rows_the_per_label_path_wrote(rated: Project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``add_missing_gold`` inserts new labels in batches; the reference is the per-label
    ``_append`` (a read of the highest revision and a flush each), kept here."""
    import shutil

    from sqlalchemy import select

    from medreview.storage import adjudication
    from medreview.storage.models import GoldLabelRow
    from medreview.storage.project import open_project

    set_gold(rated, 1, "overall", 3, rationale="x", adjudicator="Dr Lead")
    rated.close()
    copy = tmp_path / "copy"
    shutil.copytree(rated.path, copy)

    def per_label(project, decide):  # type: ignore[no-untyped-def]
        with project.transaction() as s:
            have = frozenset((g.output_id, g.question_id)
                             for g in s.scalars(select(GoldLabelRow)))
            taken, added = set(have), []
            for g in decide(have):
                if (g.output_id, g.question_id) in taken:
                    continue
                taken.add((g.output_id, g.question_id))
                added.append(adjudication._append(s, g.output_id, g.question_id, g.value,
                                                  g.provenance, g.rationale, None))
            return added

    def rows(project: Project) -> list[tuple[object, ...]]:
        with project.read() as s:
            return [(g.id, g.output_id, g.question_id, g.value, g.provenance, g.rationale,
                     g.adjudicator_id, g.revision_no)
                    for g in s.scalars(select(GoldLabelRow).order_by(GoldLabelRow.id))]

    with open_project(rated.path) as fast, open_project(copy) as slow:
        want = per_label(slow, lambda have: _decisions(slow, have))
        got = adjudication.add_missing_gold(fast, lambda have: _decisions(fast, have))
        assert got == want and len(got) >= 5
        assert rows(fast) == rows(slow)
        assert adjudication.add_missing_gold(fast, lambda have: _decisions(fast, have)) == []


def _decisions(project: Project, have: frozenset[tuple[int, str]]) -> list:  # type: ignore[type-arg]
    """What auto gold decides (its own ``decide``), plus a label named twice."""
    from medreview.storage.adjudication import NewGold

    out = [NewGold(o, q, v, "unanimous") for o, q, v in
           ((1, "criterion:dx", True), (2, "criterion:dx", True), (3, "overall", 5),
            (4, "overall", 2), (4, "criterion:abx", False), (1, "overall", 4),
            (3, "overall", 4))]
    return [g for g in out if (g.output_id, g.question_id) not in have]


def test_a_tampered_multi_choice_answer_is_one_choice_not_a_crash() -> None:
    """SQLite keeps any type: a multi-choice answer stored as a number or a text (a project
    edited outside the app) is scored as one choice; the queue used to stop with TypeError."""
    from medreview.domain.rubric import Option, Question, QuestionKind
    from medreview.study.adjudicate import disagreement_score

    multi = Question("issues", QuestionKind.MULTI_CHOICE, "i",
                     options=(Option("a", "A"), Option("b", "B")))
    assert disagreement_score(multi, [["a"], 7], DisagreementRules()) == pytest.approx(1.0)
    # a text is one choice (it used to be read as a set of its letters), None no choice
    assert disagreement_score(multi, [["ab"], "ab"], DisagreementRules()) == 0.0
    assert disagreement_score(multi, [["a", "b"], "ab"], DisagreementRules()) == 1.0
    assert disagreement_score(multi, [None, ["a"]], DisagreementRules()) == 1.0
