"""What the rater-quality statistics read: physicians' final answers with their time and the
test-retest pairs, as plain values.

A *retest* is a judgment revision written with ``source == "retest"``: the rater answered the
same output again without seeing the earlier answer. It is paired with the newest finished
revision before it that is not itself a retest. Ordinary edits never count as retests, however
far apart they are, because the rater saw their earlier answer when editing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.not_assessed import assessed_answers
from medreview.storage.check_items import not_attention
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.rating_columns import SCORE_QUESTION_ID
from medreview.storage.revisions import RevisionContent, append_revision, gc_paused
from medreview.storage.table_read import column_batches

RETEST_SOURCE = "retest"


@dataclass(frozen=True, slots=True)  # a million at 1M judgments: no __dict__ each
class FinalJudgment:
    rater: str
    output_id: int
    answers: dict[str, Any]
    time_on_task_s: float
    at: dt.datetime  # when the final revision was written


@dataclass(frozen=True)
class RetestPair:
    rater: str
    output_id: int
    first: dict[str, Any]
    second: dict[str, Any]
    first_at: dt.datetime
    second_at: dt.datetime


@dataclass(frozen=True)
class RaterRecords:
    finals: tuple[FinalJudgment, ...]
    retests: tuple[RetestPair, ...]


def _answers(rev: JudgmentRevisionRow) -> dict[str, Any]:
    return _answers_of(rev.answers, rev.overall_score)


def _answers_of(answers: Any, overall_score: float | None) -> dict[str, Any]:
    # not applicable / cannot assess are not ratings: missing here too (domain.not_assessed)
    out = dict(assessed_answers(answers)) if isinstance(answers, dict) else {}
    if overall_score is not None:
        out[SCORE_QUESTION_ID] = overall_score
    return out


def _finals(s: Session) -> list[FinalJudgment]:
    """Columns, not ORM entities (``storage.table_read``): the JSON and timestamp columns
    through their processors, column by column."""
    j, rev = JudgmentRow, JudgmentRevisionRow
    q = (select(RaterRow.name, j.output_id, rev.answers, rev.overall_score, rev.time_on_task_s,
                rev.created_at)
         .join(j, (j.id == rev.judgment_id) & (j.current_revision_no == rev.revision_no))
         .join(RaterRow, RaterRow.id == j.rater_id)
         .where(j.status == "done", RaterRow.kind == "physician",
                not_attention(s, j.output_id))  # attention items: not cases
         .order_by(RaterRow.name, j.output_id))
    return [FinalJudgment(str(name), int(oid), _answers_of(answers, score),
                          float(seconds or 0.0), at)
            for batch in column_batches(s.connection(), q)
            for name, oid, answers, score, seconds, at in batch]


def _retests(s: Session) -> list[RetestPair]:
    has_retest = (select(JudgmentRevisionRow.judgment_id)
                  .where(JudgmentRevisionRow.source == RETEST_SOURCE).distinct())
    q = (select(RaterRow.name, JudgmentRow.output_id, JudgmentRevisionRow)
         .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
         .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
         .where(RaterRow.kind == "physician", JudgmentRevisionRow.judgment_id.in_(has_retest),
                not_attention(s, JudgmentRow.output_id))
         .order_by(JudgmentRevisionRow.judgment_id, JudgmentRevisionRow.revision_no))
    out: list[RetestPair] = []
    last: tuple[int, JudgmentRevisionRow] | None = None  # newest finished non-retest revision
    for name, oid, rev in s.execute(q):
        if last is not None and last[0] != rev.judgment_id:
            last = None
        if rev.status != "done":
            continue
        if rev.source == RETEST_SOURCE:
            if last is not None:
                first = last[1]
                out.append(RetestPair(str(name), int(oid), _answers(first), _answers(rev),
                                      first.created_at, rev.created_at))
        else:
            last = (rev.judgment_id, rev)
    return out


def record_retest(project: Project, rater: str, output_id: int, answers: dict[str, Any], *,
                  time_on_task_s: float = 0.0, at: dt.datetime | None = None) -> bool:
    """Append a physician's blind re-rating of an output they finished before.

    The retest becomes the judgment's newest revision (like any later answer) with
    ``source == "retest"``; ``at`` backdates it (imports of retests made earlier). False when
    the rater has no finished judgment of the output to be retested.
    """
    with project.transaction() as s:
        row = s.execute(
            select(JudgmentRow, JudgmentRevisionRow)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .join(JudgmentRevisionRow, (JudgmentRevisionRow.judgment_id == JudgmentRow.id)
                  & (JudgmentRevisionRow.revision_no == JudgmentRow.current_revision_no))
            .where(RaterRow.name == rater, RaterRow.kind == "physician",
                   JudgmentRow.output_id == output_id, JudgmentRow.status == "done")).first()
        if row is None:
            return False
        judgment, current = row
        new = append_revision(
            s, rater_id=judgment.rater_id, output_id=output_id,
            content=RevisionContent(answers=dict(answers), time_on_task_s=time_on_task_s,
                                    status="done"),
            form_id=current.form_id, taxonomy_id=current.taxonomy_id, author=rater,
            source=RETEST_SOURCE)
        if new is not None and at is not None:
            new.created_at = at
    return True


def rater_records(project: Project) -> RaterRecords:
    """One read snapshot: final answers of physicians and their test-retest pairs."""
    with project.read() as s, gc_paused():  # (a container or two per judgment: no cycles)
        return RaterRecords(tuple(_finals(s)), tuple(_retests(s)))
