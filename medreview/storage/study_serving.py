"""What the study design changes in a rater's queue and grading screen (issue #18): the
qualification round gates the queue, due retests come back blank. ``storage/judgments.py``
calls these from its queue, item, save, undo and history paths, inside their own
transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.consensus import blind_label
from medreview.storage.models import CaseRow, JudgmentRevisionRow, JudgmentRow, OutputRow
from medreview.storage.qualification import status_in
from medreview.storage.read_models import QueueRow
from medreview.storage.retests import RetestState, is_open, open_retests
from medreview.storage.revisions import RETEST_SOURCE


def _extra_rows(s: Session, rater_id: int, output_ids: Sequence[int]) -> dict[int, QueueRow]:
    """Queue rows for qualification items the rater was not assigned."""
    if not output_ids:
        return {}
    rows = s.execute(
        select(OutputRow.id, OutputRow.case_id, CaseRow.external_id, CaseRow.title,
               OutputRow.model, CaseRow.tags, JudgmentRow.status, JudgmentRow.flagged,
               JudgmentRow.updated_at)
        .join(CaseRow, CaseRow.id == OutputRow.case_id)
        .outerjoin(JudgmentRow, (JudgmentRow.output_id == OutputRow.id)
                   & (JudgmentRow.rater_id == rater_id))
        .where(OutputRow.id.in_(list(output_ids)))).all()
    case_ids = sorted({int(r[1]) for r in rows})
    siblings: dict[int, list[int]] = {}
    for cid, oid in s.execute(select(OutputRow.case_id, OutputRow.id)
                              .where(OutputRow.case_id.in_(case_ids)).order_by(OutputRow.id)):
        siblings.setdefault(int(cid), []).append(int(oid))
    return {int(r[0]): QueueRow(
        output_id=int(r[0]), case_id=int(r[1]), case_external_id=r[2], case_title=r[3] or r[2],
        model=r[4], blind_label=blind_label(siblings[int(r[1])].index(int(r[0]))),
        status=r[6] or "todo", flagged=bool(r[7]), tags=tuple(r[5] or ()), position=0,
        updated_at=r[8]) for r in rows}


def arrange_queue(s: Session, rater_id: int, rows: list[QueueRow]) -> list[QueueRow]:
    """The queue as served: only the qualification items until the rater passed (then those
    first, the rest after), open retests as todo (draft once the retest has a draft)."""
    status = status_in(s, rater_id, gate_only=True)
    if status is not None:
        qual = status.items
        present = {r.output_id: r for r in rows if r.output_id in set(qual)}
        extra = _extra_rows(s, rater_id, [o for o in qual if o not in present])
        first = [present.get(o) or extra[o] for o in qual if o in present or o in extra]
        rest = [r for r in rows if r.output_id not in set(qual)] if status.is_open else []
        rows = [dataclasses.replace(r, position=i) for i, r in enumerate(first + rest)]
    due = open_retests(s, rater_id)
    if due:
        rows = [_as_retest(r, due[r.output_id]) if r.output_id in due else r for r in rows]
    return rows


def _as_retest(row: QueueRow, state: RetestState) -> QueueRow:
    status = "draft" if state.newest_retest_status == "draft" else "todo"
    return dataclasses.replace(row, status=status, flagged=False)


def retest_draft(s: Session, rater_id: int, output_id: int
                 ) -> tuple[JudgmentRevisionRow | None, str] | None:
    """For an open retest: the retest's own newest revision (None: a blank form) and the
    status to show; None when the item is no open retest."""
    state = is_open(s, rater_id, output_id)
    if state is None:
        return None
    if state.newest_retest_no is None:
        return None, "todo"
    rev = s.scalars(
        select(JudgmentRevisionRow)
        .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
        .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id,
               JudgmentRevisionRow.revision_no == state.newest_retest_no)).first()
    return rev, (rev.status if rev is not None else "todo")


def save_source(s: Session, rater_id: int, output_id: int, source: str) -> str:
    """The source a grading save is written with: ``retest`` while the item's retest is open."""
    return RETEST_SOURCE if is_open(s, rater_id, output_id) is not None else source


def retest_in_progress(s: Session, rater_id: int, output_id: int) -> bool:
    return is_open(s, rater_id, output_id) is not None
