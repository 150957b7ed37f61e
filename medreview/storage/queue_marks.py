"""Which done items of a rater's queue were marked "cannot assess", and why.

The mark lives in the current revision's answers (``domain.not_assessed``: the reserved key
``_cannot_assess``), so the queue reads it with one query over the rater's done judgments
whose answers mention the key at all (a text match the database does without decoding the
JSON); only those few answers are decoded, here, by the same reader the exports use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY
from medreview.domain.queue_mark import queue_mark
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow
from medreview.storage.read_models import QueueRow


def cannot_assess_marks(s: Session, rater_id: int) -> dict[int, str]:
    """output id -> reason, for the rater's done items marked "cannot assess"."""
    rev = JudgmentRevisionRow
    rows = s.execute(
        select(JudgmentRow.output_id, rev.answers)
        .join(rev, (rev.judgment_id == JudgmentRow.id)
              & (rev.revision_no == JudgmentRow.current_revision_no))
        .where(JudgmentRow.rater_id == rater_id, JudgmentRow.status == "done",
               cast(rev.answers, Text).contains(CANNOT_ASSESS_KEY, autoescape=True)))
    marks = {int(oid): queue_mark(answers) for oid, answers in rows}
    return {oid: mark for oid, mark in marks.items() if mark}


def with_marks(s: Session, rater_id: int, rows: Sequence[QueueRow]) -> list[QueueRow]:
    """``rows`` with the cannot-assess reason on the done ones that have it (an open retest,
    shown as to do, keeps none)."""
    marks = cannot_assess_marks(s, rater_id)
    if not marks:
        return list(rows)
    return [dataclasses.replace(r, cannot_assess=marks[r.output_id])
            if r.status == "done" and r.output_id in marks else r for r in rows]
