"""Escalation on a real project: finished ratings saved through the grading use-case escalate an
item once, to a senior who has not rated it, with its reason on the senior's item; a re-run
adds nothing; the disagreement threshold at its boundaries; rules checked before they are
stored; imports and runs without rules change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from medreview.domain.escalation import EscalationRules, SevereRule
from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.errors import InputError
from medreview.rubrics.templates import load_template
from medreview.services import escalation, grading
from medreview.services.projects import add_form, add_rater
from medreview.storage.ingest import ingest
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output

SENIORS = ("Dr Senior One", "Dr Senior Two")


@pytest.fixture
def project(empty_project: Project) -> Project:
    add_form(empty_project, load_template("healthbench"))
    add_form(empty_project, load_template("medval_errors"))
    ingest(empty_project, located([case("a"), output("a", "m1", "Give 10 mg."),
                                   output("a", "m2", "Give 5 mg."), case("b"),
                                   output("b", "m1", "Rest.")]), source="t", importer="t")
    return empty_project


def _outputs(project: Project) -> list[int]:
    rater = add_rater(project, "Dr Reader")
    return [r.output_id for r in grading.load_queue(project, rater.id)]


def _rate(project: Project, rater: str, output_id: int, *, c0: bool = True, c1: bool = True,
          severity: str | None = None, status: str = "done") -> Any:
    rid = add_rater(project, rater).id
    notes = (Annotation("errors", "fabricated_claim", severity),) if severity else ()
    draft = JudgmentDraft(answers={"criterion:c0": c0, "criterion:c1": c1}, annotations=notes,
                          rationale=f"{rater} says why")
    return grading.save_revision(project, rid, output_id, draft, status=status)


def _rules(project: Project, **kw: Any) -> None:
    escalation.set_rules(project, EscalationRules(seniors=SENIORS, **kw))


def test_severe_harm_escalates_once_to_a_senior_who_has_not_rated_it(project: Project) -> None:
    first, second, third = _outputs(project)
    _rules(project, severe=SevereRule("major"))
    # Senior One rated the item themselves: it must go to Senior Two.
    _rate(project, SENIORS[0], first)
    _rate(project, "Dr Plain", first, severity="minor")
    assert escalation.escalated_items(project) == []  # minor is below the level
    result = _rate(project, "Dr Sharp", first, severity="major", status="draft")
    assert escalation.escalated_items(project) == []  # a draft is not a finished rating
    result = _rate(project, "Dr Sharp", first, severity="major")
    items = escalation.escalated_items(project)
    assert [(i.output_id, i.senior, i.reason, i.status) for i in items] == [
        (first, SENIORS[1], "severe harm rated by 1 physician", "todo")]
    assert result.changes.raters and first in result.changes.queue
    # The senior finds it in their queue, with the reason on the item, under the same label.
    senior = add_rater(project, SENIORS[1])
    queue = grading.load_queue(project, senior.id)
    assert [r.output_id for r in queue] == [first]
    item = grading.load_item(project, senior.id, first)
    assert item.escalation_reason == "severe harm rated by 1 physician"
    assert grading.load_item(project, add_rater(project, "Dr Sharp").id, first) \
        .escalation_reason == ""
    # More severe ratings, a re-run, a run from the CLI's use-case: nothing more.
    _rate(project, "Dr Third", first, severity="major")
    report, changes = escalation.run_escalation(project)
    assert report.escalated == () and not changes
    assert len(escalation.escalated_items(project)) == 1
    # Other items were not touched.
    assert {i.output_id for i in escalation.escalated_items(project)} == {first}
    assert {second, third}.isdisjoint(i.output_id for i in escalation.escalated_items(project))


def test_load_is_spread_and_no_senior_twice(project: Project) -> None:
    first, second, third = _outputs(project)
    _rules(project, severe=SevereRule("major"))
    for oid in (first, second, third):
        _rate(project, "Dr Sharp", oid, severity="major")
    items = {i.output_id: i.senior for i in escalation.escalated_items(project)}
    # Fewest open escalations first, ties in the lead's order: One, Two, then One again.
    assert items == {first: SENIORS[0], second: SENIORS[1], third: SENIORS[0]}
    # A senior finishing an escalated item frees them up.
    senior_one = add_rater(project, SENIORS[0])
    open_before = sum(1 for i in escalation.escalated_items(project)
                      if i.senior == SENIORS[0] and i.status != "done")
    assert open_before == 2
    _rate(project, SENIORS[0], first)
    assert [i.status for i in escalation.escalated_items(project)
            if i.output_id == first] == ["done"]
    assert senior_one.id


@pytest.mark.parametrize(("threshold", "escalated"), [(0.66, True), (2 / 3, False)])
def test_disagreement_threshold_boundaries(project: Project, threshold: float,
                                           escalated: bool) -> None:
    first, *_ = _outputs(project)
    _rules(project, disagreement=threshold)
    _rate(project, "Dr A", first, c0=True, c1=True)
    assert escalation.escalated_items(project) == []  # one rater: nothing to compare
    # c0 split, c1 the same, the error question split (none vs a minor error): 2 of 3.
    _rate(project, "Dr B", first, c0=False, c1=True, severity="minor")
    items = escalation.escalated_items(project)
    assert bool(items) is escalated
    if escalated:
        assert items[0].reason == "disagreement 0.67 > 0.66"


def test_exact_boundary_half(project: Project) -> None:
    """Two raters split on c0 only (c1 and errors agree): 1 of 3 = 0.33; on c0 and c1 with
    errors agreeing: 2 of 3. A threshold equal to the share never fires."""
    first, second, _ = _outputs(project)
    _rules(project, disagreement=1 / 3)
    _rate(project, "Dr A", first)
    _rate(project, "Dr B", first, c0=False)
    assert escalation.escalated_items(project) == []
    _rate(project, "Dr A", second)
    _rate(project, "Dr B", second, c0=False, c1=False)
    assert [(i.output_id, i.reason) for i in escalation.escalated_items(project)] == [
        (second, "disagreement 0.67 > 0.333333")]


def test_dry_run_writes_nothing_and_the_run_applies_it(project: Project) -> None:
    first, *_ = _outputs(project)
    _rate(project, "Dr Sharp", first, severity="major")  # before any rule: nothing
    assert escalation.escalated_items(project) == []
    _rules(project, severe=SevereRule("major"))
    report, changes = escalation.run_escalation(project, dry_run=True)
    assert [(p.output_id, p.senior) for p in report.escalated] == [(first, SENIORS[0])]
    assert not report.applied and not changes
    assert escalation.escalated_items(project) == []
    report, changes = escalation.run_escalation(project)
    assert report.applied and [p.output_id for p in report.escalated] == [first]
    assert escalation.escalated_items(project)[0].created_by == "lead"
    again, _ = escalation.run_escalation(project)
    assert again.planned == ()


def test_rules_are_checked_against_the_project(project: Project) -> None:
    with pytest.raises(InputError, match="levels: major, minor"):
        escalation.set_rules(project, EscalationRules(SevereRule("severe"), seniors=SENIORS))
    with pytest.raises(InputError, match="no error or ordinal question"):
        escalation.set_rules(project, EscalationRules(SevereRule(1, "criterion:c0"),
                                                      seniors=SENIORS))
    assert escalation.current_rules(project) == EscalationRules()
    rules = escalation.parse_rule_text('severe=major,disagreement=0.5,senior="Dr A;Dr B"')
    assert rules == EscalationRules(SevereRule("major"), 0.5, ("Dr A", "Dr B"))
    escalation.set_rules(project, rules)
    assert escalation.current_rules(project) == rules
    cleared = escalation.parse_rule_text("severe=none", escalation.current_rules(project))
    assert cleared == EscalationRules(None, 0.5, ("Dr A", "Dr B"))
    for bad in ("severe", "speed=3", "disagreement=1", "disagreement=x"):
        with pytest.raises(InputError):
            escalation.parse_rule_text(bad)


def test_a_ratings_import_escalates_after_it_commits(project: Project, tmp_path: Any) -> None:
    from medreview.services.importing import import_file

    _rules(project, disagreement=0.4)
    path = tmp_path / "ratings.csv"
    path.write_text("case_id,model,rater,rater_kind,q:criterion:c0,q:criterion:c1\n"
                    "a,m1,Dr A,physician,true,true\n"
                    "a,m1,Dr B,physician,false,false\n"
                    "b,m1,Dr A,physician,true,true\n"
                    "b,m1,Dr B,physician,true,true\n", encoding="utf-8")
    _fmt, summary = import_file(project, path)
    assert summary.added["ratings"] == 4
    items = escalation.escalated_items(project)
    assert [(i.case_external_id, i.model, i.senior, i.reason) for i in items] == [
        ("a", "m1", SENIORS[0], "disagreement 0.67 > 0.4")]  # errors agree: none
    _fmt, again = import_file(project, path)  # the same file again adds nothing, escalates none
    assert not again.added["ratings"] and len(escalation.escalated_items(project)) == 1


def test_an_attention_item_is_never_escalated(project: Project) -> None:
    from medreview.storage.check_items import write_attention_gold

    first, second, _ = _outputs(project)
    write_attention_gold(project, [first], [("criterion:c0", True)])
    _rules(project, severe=SevereRule("major"))
    _rate(project, "Dr Sharp", first, severity="major")
    _rate(project, "Dr Sharp", second, severity="major")
    assert [i.output_id for i in escalation.escalated_items(project)] == [second]


def test_hostile_stored_rules_never_fail_a_save(project: Project) -> None:
    """Rules written into the project file by someone else are input: a done save still
    succeeds (nothing escalated), and reading them is one line naming the field."""
    from medreview.storage.escalations import write_rules

    first, *_ = _outputs(project)
    write_rules(project, {"severe": {"level": ["x"] * 10}, "seniors": "Dr A"})
    result = _rate(project, "Dr Sharp", first, severity="major")
    assert result.revision_no is not None and escalation.escalated_items(project) == []
    with pytest.raises(InputError, match="severity level must be a number or a word") as exc:
        escalation.current_rules(project)
    assert "\n" not in str(exc.value)
