"""Other raters' comments on an item, read only through the visibility rule
(``domain.comments.visible_comments``): a rater sees none before submitting their own judgment,
then the others' submitted comments blinded; an adjudicator sees all with names.

On a PostgreSQL project a physician's login reads no other rater's judgment at all (row-level
security, schema 0008), so there the rule is met by the server and a rater sees no comment of
anyone else even after submitting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.comments import CommentsView, RaterComment, Viewer, visible_comments
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.study_serving import retest_in_progress

MAX_NOTES = 200  # notes per judgment shown; a hostile package cannot flood the screen


def _notes(annotations: Any) -> tuple[str, ...]:
    if not isinstance(annotations, list):
        return ()
    out = [a["note"] for a in annotations[:MAX_NOTES * 4]
           if isinstance(a, dict) and isinstance(a.get("note"), str) and a["note"].strip()
           and not isinstance(a.get("judge"), dict)]
    return tuple(out[:MAX_NOTES])


def _comments(s: Session, output_id: int) -> list[RaterComment]:
    rows = s.execute(
        select(JudgmentRow.rater_id, RaterRow.name, JudgmentRow.status,
               JudgmentRevisionRow.rationale, JudgmentRevisionRow.annotations)
        .join(JudgmentRevisionRow, (JudgmentRevisionRow.judgment_id == JudgmentRow.id)
              & (JudgmentRevisionRow.revision_no == JudgmentRow.current_revision_no))
        .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
        .where(JudgmentRow.output_id == output_id, RaterRow.kind == "physician")
        .order_by(JudgmentRow.rater_id)).all()
    return [RaterComment(int(r[0]), r[1], r[2], r[3] or "", _notes(r[4])) for r in rows]


def comments_for(project: Project, output_id: int, viewer_rater_id: int | None
                 ) -> CommentsView:
    """The comments on ``output_id`` that the rater ``viewer_rater_id`` may read; ``None``
    is the lead's adjudication screen (every comment, with names)."""
    with project.read() as s:
        comments = _comments(s, output_id)
        if viewer_rater_id is None:
            viewer = Viewer(None, adjudicator=True, submitted=True)
        else:
            adjudicator = bool(s.scalar(select(RaterRow.is_adjudicator)
                                        .where(RaterRow.id == viewer_rater_id)))
            status = s.scalar(select(JudgmentRow.status).where(
                JudgmentRow.rater_id == viewer_rater_id, JudgmentRow.output_id == output_id))
            # A retest served again is not submitted until the retest is: it stays independent.
            submitted = status == "done" and not retest_in_progress(s, viewer_rater_id,
                                                                    output_id)
            viewer = Viewer(viewer_rater_id, adjudicator, submitted)
    return visible_comments(viewer, comments)
