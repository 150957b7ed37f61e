"""The use-cases behind the grading keys: queue, load an item, save a revision, undo, history.

Each call is one unit of work on the project (one transaction for writes, in
``storage/judgments.py``) and returns frozen views plus a ``Changes`` value that tells the
screens what to refresh.

The storage layer (SQLAlchemy, Alembic) is imported by the first call, on the database thread,
not with this module: the grading window imports it, and must start without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medreview.domain.changes import Changes
from medreview.domain.judgment import JudgmentDraft
from medreview.services.views import ItemView, QueueRow, RevisionView, SaveResult

if TYPE_CHECKING:
    from medreview.storage.project import Project


def _changed(output_id: int) -> Changes:
    return Changes(judgments=frozenset({output_id}), queue=frozenset({output_id}))


def load_queue(project: Project, rater_id: int) -> list[QueueRow]:
    """The rater's queue in order: their assignments if any, else every output."""
    from medreview.storage import judgments

    return judgments.queue_rows(project, rater_id)


def load_item(project: Project, rater_id: int, output_id: int) -> ItemView:
    from medreview.storage import judgments

    return judgments.load_item(project, rater_id, output_id)


def save_revision(
    project: Project,
    rater_id: int,
    output_id: int,
    draft: JudgmentDraft,
    *,
    status: str = "draft",
    source: str = "ui",
    guideline_version: int | None = None,
    uid: str | None = None,
) -> SaveResult:
    """Append a revision (unless identical to the newest); commit once; report what changed.
    ``uid`` names the save: sent again after a lost connection, a save that landed adds nothing.

    ``guideline_version``: the grading guidelines versions the screen showed, the rubric's and
    the error taxonomy's as one number (``domain.guideline_versions.recorded_versions``).
    """
    from medreview.storage import judgments

    saved = judgments.save_draft(
        project, rater_id, output_id, judgments.content_from_draft(draft, status), source=source,
        guideline_version=guideline_version, uid=uid,
    )
    if saved.revision_no is None:
        return SaveResult(None, saved.status, Changes())
    changes = _changed(output_id)
    if saved.status == "done":  # after the commit, a short write of its own if a rule fires
        from medreview.services.escalation import after_ratings

        changes |= after_ratings(project, (output_id,))
    return SaveResult(saved.revision_no, saved.status, changes)


def undo_last(
    project: Project, rater_id: int, output_id: int
) -> tuple[SaveResult, JudgmentDraft | None]:
    """Append a revision restoring the one before the newest (history keeps both)."""
    from medreview.storage import judgments

    undone = judgments.undo_last(project, rater_id, output_id)
    if undone.revision_no is None:
        return SaveResult(None, undone.status, Changes()), None
    return SaveResult(undone.revision_no, undone.status, _changed(output_id)), undone.draft


def history(project: Project, rater_id: int, output_id: int) -> list[RevisionView]:
    from medreview.storage import judgments

    return judgments.revision_history(project, rater_id, output_id)
