"""storage.judgments: the grading queue, one item, save, undo and history as plain values,
read from and written to a real SQLite project."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.domain.judgment import JudgmentDraft
from medreview.errors import MedreviewError
from medreview.services.sample_project import build_sample_project
from medreview.storage import judgments
from medreview.storage.project import Project
from medreview.storage.read_models import ItemView, QueueRow, RevisionView
from tests.storage.study_helpers import assert_plain, assign_all, small_study


def _save(project: Project, rater_id: int, output_id: int, overall: int,
          status: str = "draft") -> judgments.Saved:
    content = judgments.content_from_draft(JudgmentDraft(answers={"overall": overall}), status)
    return judgments.save_draft(project, rater_id, output_id, content)


def test_queue_without_assignments_is_every_output_labelled_per_case(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        rows = judgments.queue_rows(project, 1)
        assert_plain(rows)
        assert [type(r) for r in rows] == [QueueRow] * 4
        assert [r.position for r in rows] == [0, 1, 2, 3]
        assert [(r.case_id, r.output_id) for r in rows] == sorted(
            (r.case_id, r.output_id) for r in rows)
        # labels restart per case: A, B for each case's two answers
        assert [r.blind_label for r in rows] == ["Response A", "Response B"] * 2
        assert {r.status for r in rows} == {"todo"} and not any(r.flagged for r in rows)
        assert all(r.case_title and r.case_external_id and r.tags for r in rows)


def test_queue_with_assignments_follows_positions_and_judgment_status(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr Lead")
        lead = 1
        assert _save(project, lead, ids[2], 4, "done").revision_no == 1
        rows = judgments.queue_rows(project, lead)
        assert [r.output_id for r in rows] == ids
        assert [r.blind_label for r in rows] == ["Response A", "Response B"] * 2
        assert [r.status for r in rows] == ["todo", "todo", "done", "todo"]
        assert rows[2].updated_at is not None and rows[0].updated_at is None
        # another rater without assignments still sees every output, none graded
        assert [r.status for r in judgments.queue_rows(project, 99)] == ["todo"] * 4


def test_load_item_gives_case_media_forms_and_newest_draft(tmp_path: Path) -> None:
    project, me = build_sample_project(tmp_path / "p", n_cases=1, outputs_per_case=2,
                                       with_dicom=True, rater="Dr Lead")
    with project:
        first = judgments.queue_rows(project, me.id)[0].output_id
        empty = judgments.load_item(project, me.id, first)
        assert_plain(empty)
        assert isinstance(empty, ItemView)
        assert (empty.draft, empty.status, empty.revision_no) == (None, "todo", 0)
        assert empty.form is not None and empty.form.key == "sample-healthbench"
        assert empty.taxonomy is not None and empty.case.criteria
        assert empty.case.messages and empty.answer and empty.blind_label == "Response A"
        dicom = [s for s in empty.series if s.id is not None]
        assert len(dicom) == 1 and len(dicom[0].attachments) == 3
        assert all(a.path.is_file() for a in dicom[0].attachments)  # in the media store
        _save(project, me.id, first, 2)
        _save(project, me.id, first, 5, "done")
        item = judgments.load_item(project, me.id, first)
        assert item.draft is not None and item.draft.answers == {"overall": 5}
        assert (item.status, item.revision_no) == ("done", 2)
        with pytest.raises(MedreviewError, match="no such output"):
            judgments.load_item(project, me.id, 10_000)


def test_save_skips_identical_content_and_refuses_unknown_raters(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        oid = judgments.queue_rows(project, 1)[0].output_id
        saved = _save(project, 1, oid, 3)
        assert saved == judgments.Saved(1, "draft")
        assert _save(project, 1, oid, 3) == judgments.Saved(None, "draft")  # nothing written
        skipped = judgments.content_from_draft(JudgmentDraft(skipped=True), "done")
        assert skipped.status == "skipped"
        with pytest.raises(MedreviewError, match="no such rater"):
            _save(project, 42, oid, 3)
        assert len(judgments.revision_history(project, 1, oid)) == 1


def test_undo_restores_the_previous_content_and_undo_of_undo_goes_further(
        tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        oid = judgments.queue_rows(project, 1)[0].output_id
        assert judgments.undo_last(project, 1, oid) == judgments.Undone(None, "todo", None)
        for overall in (1, 2, 3):
            _save(project, 1, oid, overall)
        undone = judgments.undo_last(project, 1, oid)
        assert_plain(undone)
        assert undone.revision_no == 4 and undone.draft is not None
        assert undone.draft.answers == {"overall": 2}
        again = judgments.undo_last(project, 1, oid)
        assert again.draft is not None and again.draft.answers == {"overall": 1}
        # back at the first state: nothing further to undo, and nothing is written
        assert judgments.undo_last(project, 1, oid) == judgments.Undone(None, "draft", None)
        history = judgments.revision_history(project, 1, oid)
        assert_plain(history)
        assert [type(h) for h in history] == [RevisionView] * 5
        assert [h.revision_no for h in history] == [1, 2, 3, 4, 5]
        assert [h.source for h in history] == ["ui", "ui", "ui", "undo", "undo"]
        assert [h.draft.answers["overall"] for h in history] == [1, 2, 3, 2, 1]
        assert {(h.form_key, h.form_version) for h in history} == {("sample-healthbench", 1)}
        assert all(h.author == "Dr Lead" for h in history)


def test_workload_counts_assignments_and_judgments_per_status(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        assert judgments.workload(project) == (0, {})
        ids = assign_all(project, "Dr Lead")
        _save(project, 1, ids[0], 4, "done")
        _save(project, 1, ids[1], 2)
        assert judgments.workload(project) == (4, {"done": 1, "draft": 1})
