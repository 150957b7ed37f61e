"""Other raters' comments are hidden until the viewer has submitted their own judgment, then
shown blinded; an adjudicator (and the lead's adjudication screen) sees them all with names.
Each test would fail if a comment (rationale or a note on a mark) leaked before submit."""

from __future__ import annotations

import pytest

from medreview.domain.comments import HIDDEN_UNTIL_SUBMIT
from medreview.domain.judgment import Annotation, JudgmentDraft, TextSpan
from medreview.rubrics.templates import load_template
from medreview.services import grading
from medreview.services.comments import item_comments
from medreview.services.projects import add_form, add_rater
from medreview.services.study import set_gold
from medreview.storage.ingest import ingest
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output


@pytest.fixture
def project(empty_project: Project) -> Project:
    add_form(empty_project, load_template("healthbench"))
    add_form(empty_project, load_template("medval_errors"))
    ingest(empty_project, located([case("a"), output("a", "m1", "Give 10 mg.")]),
           source="t", importer="t")
    return empty_project


def _save(project: Project, rater: str, status: str, why: str, note: str = "") -> int:
    rid = add_rater(project, rater).id
    oid = grading.load_queue(project, rid)[0].output_id
    notes = (Annotation("errors", "fabricated_claim", "major", TextSpan(5, 10, "10 mg"),
                        note=note),) if note else ()
    grading.save_revision(project, rid, oid, JudgmentDraft(
        answers={"criterion:c0": True, "criterion:c1": False}, annotations=notes,
        rationale=why), status=status)
    return oid


def _texts(view: object) -> str:
    return repr(view)


def test_nothing_before_submit_then_blinded_after(project: Project) -> None:
    oid = _save(project, "Dr Early", "done", "EARLY-RATIONALE", note="EARLY-NOTE")
    _save(project, "Dr Drafting", "draft", "DRAFT-RATIONALE")
    me = add_rater(project, "Dr Me").id
    # Not started, then a draft, then skipped: nothing of anyone else's.
    for status in (None, "draft", "skipped"):
        if status:
            _save(project, "Dr Me", status, "MY-RATIONALE")
        view = item_comments(project, oid, me)
        assert view.comments == () and view.hidden == HIDDEN_UNTIL_SUBMIT
        assert "EARLY" not in _texts(view) and "DRAFT" not in _texts(view)
    _save(project, "Dr Me", "done", "MY-RATIONALE")
    view = item_comments(project, oid, me)
    assert view.hidden == ""
    assert [(c.label, c.rationale, c.notes) for c in view.comments] == [
        ("Rater 1", "EARLY-RATIONALE", ("EARLY-NOTE",))]
    # Never a name, never another's draft, never one's own comment.
    shown = _texts(view)
    assert "Dr Early" not in shown and "DRAFT" not in shown and "MY-RATIONALE" not in shown


def test_an_adjudicator_sees_every_comment_with_names(project: Project) -> None:
    oid = _save(project, "Dr Early", "done", "EARLY-RATIONALE")
    _save(project, "Dr Drafting", "draft", "DRAFT-RATIONALE")
    lead = item_comments(project, oid, None)  # the adjudication window
    assert [(c.label, c.status, c.rationale) for c in lead.comments] == [
        ("Dr Early", "done", "EARLY-RATIONALE"), ("Dr Drafting", "draft", "DRAFT-RATIONALE")]
    # A physician who adjudicated gold before sees them too, before grading it themselves.
    set_gold(project, oid, "criterion:c0", True, rationale="checked", adjudicator="Dr Chief")
    chief = add_rater(project, "Dr Chief").id
    view = item_comments(project, oid, chief)
    assert [c.label for c in view.comments] == ["Dr Early", "Dr Drafting"]


def test_a_retest_served_again_hides_the_comments_until_it_is_done(project: Project) -> None:
    """Submitted once, then the item comes back as a retest: not submitted for the rule."""
    from medreview.services.study import AssignmentDesign, assign
    from medreview.storage.retests import choose_retests

    assign(project, AssignmentDesign(raters=("Dr Me",), per_output=1))
    oid = _save(project, "Dr Early", "done", "EARLY-RATIONALE")
    _save(project, "Dr Me", "done", "MY-RATIONALE")
    me = add_rater(project, "Dr Me").id
    assert item_comments(project, oid, me).comments
    assert choose_retests(project, fraction=1.0, delay_days=0, raters=["Dr Me"]) == {"Dr Me": 1}
    view = item_comments(project, oid, me)
    assert view.comments == () and view.hidden == HIDDEN_UNTIL_SUBMIT
