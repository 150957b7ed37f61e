"""Grading use-cases on a real SQLite file: queue, load, save (append-only), undo, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.domain.judgment import Annotation, JudgmentDraft, TextSpan
from medreview.rubrics.templates import load_template
from medreview.services import grading
from medreview.services.projects import add_form, add_rater, open_project
from medreview.storage.ingest import ingest
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output


@pytest.fixture
def graded(empty_project: Project) -> Project:
    add_form(empty_project, load_template("healthbench"))
    add_form(empty_project, load_template("medval_errors"))
    ingest(
        empty_project,
        located(
            [
                case("a"),
                output("a", "m1", "Give 10 mg."),
                output("a", "m2", "Give 5 mg."),
                case("b"),
                output("b", "m1", "Rest."),
            ]
        ),
        source="t",
        importer="t",
    )
    return empty_project


def test_queue_lists_every_output_blinded_in_case_order(graded: Project) -> None:
    rater = add_rater(graded, "Dr A")
    queue = grading.load_queue(graded, rater.id)
    assert [(q.case_external_id, q.blind_label, q.status) for q in queue] == [
        ("a", "Response A", "todo"),
        ("a", "Response B", "todo"),
        ("b", "Response A", "todo"),
    ]


def test_save_appends_revisions_and_identical_saves_write_nothing(graded: Project) -> None:
    rater = add_rater(graded, "Dr A")
    out_id = grading.load_queue(graded, rater.id)[0].output_id
    item = grading.load_item(graded, rater.id, out_id)
    assert item.draft is None
    assert [q.id for q in item.questions()] == [
        "overall_comment",
        "criterion:c0",
        "criterion:c1",
        "errors",
    ]
    assert item.shown_model == "Response A"
    draft = JudgmentDraft(
        answers={"criterion:c0": True},
        annotations=(Annotation("errors", "fabricated_claim", "major", TextSpan(5, 10, "10 mg")),),
    )
    first = grading.save_revision(graded, rater.id, out_id, draft)
    assert first.revision_no == 1
    assert first.changes.judgments == {out_id}
    again = grading.save_revision(graded, rater.id, out_id, draft)
    assert again.revision_no is None and not again.changes
    done = grading.save_revision(
        graded,
        rater.id,
        out_id,
        JudgmentDraft(answers={"criterion:c0": True, "criterion:c1": False}),
        status="done",
    )
    assert done.revision_no == 2 and done.status == "done"
    hist = grading.history(graded, rater.id, out_id)
    assert [h.revision_no for h in hist] == [1, 2]
    assert hist[0].draft.annotations[0].span == TextSpan(5, 10, "10 mg")
    assert hist[0].form_key == "healthbench"
    assert grading.load_queue(graded, rater.id)[0].status == "done"


def test_undo_restores_previous_state_as_a_new_revision(graded: Project) -> None:
    rater = add_rater(graded, "Dr A")
    out_id = grading.load_queue(graded, rater.id)[0].output_id
    grading.save_revision(graded, rater.id, out_id, JudgmentDraft(answers={"criterion:c0": True}))
    grading.save_revision(graded, rater.id, out_id, JudgmentDraft(answers={"criterion:c0": False}))
    result, restored = grading.undo_last(graded, rater.id, out_id)
    assert result.revision_no == 3
    assert restored is not None and restored.answers == {"criterion:c0": True}
    item = grading.load_item(graded, rater.id, out_id)
    assert item.draft is not None and item.draft.answers == {"criterion:c0": True}
    assert [h.source for h in grading.history(graded, rater.id, out_id)] == ["ui", "ui", "undo"]


def test_saved_work_survives_closing_and_reopening(graded: Project, project_path: Path) -> None:
    rater = add_rater(graded, "Dr A")
    out_id = grading.load_queue(graded, rater.id)[1].output_id
    grading.save_revision(
        graded,
        rater.id,
        out_id,
        JudgmentDraft(answers={"criterion:c1": True}, rationale="half done"),
    )
    graded.close()
    with open_project(project_path) as reopened:
        item = grading.load_item(reopened, rater.id, out_id)
        assert item.draft is not None
        assert item.draft.rationale == "half done"
        assert item.status == "draft"


def test_editing_a_used_rubric_creates_a_new_version(graded: Project) -> None:
    import dataclasses

    rater = add_rater(graded, "Dr A")
    out_id = grading.load_queue(graded, rater.id)[0].output_id
    grading.save_revision(graded, rater.id, out_id, JudgmentDraft(answers={"criterion:c0": True}))
    form = load_template("healthbench")
    edited = dataclasses.replace(form, name="HealthBench (edited)")
    assert add_form(graded, edited) == ("healthbench", 2)
    grading.save_revision(graded, rater.id, out_id, JudgmentDraft(answers={"criterion:c0": False}))
    hist = grading.history(graded, rater.id, out_id)
    assert [(h.form_key, h.form_version) for h in hist] == [("healthbench", 1), ("healthbench", 2)]
    # Re-adding identical content is not a new version.
    assert add_form(graded, edited) == ("healthbench", 2)
