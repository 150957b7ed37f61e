"""The questions a project's judgments answer: form questions plus every per-case criterion."""

from __future__ import annotations

from sqlalchemy import func, select

from medreview.domain.rubric import Question, QuestionKind, case_criterion_question
from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, FormRow
from medreview.storage.project import Project
from medreview.storage.rating_columns import SCORE_QUESTION_ID
from medreview.storage.table_read import column_rows

SCORE_QUESTION = Question(
    id=SCORE_QUESTION_ID,
    kind=QuestionKind.NUMBER,
    prompt="Rubric score (points met over positive points, per output)",
)


def project_questions(project: Project, *, include_score: bool = False) -> dict[str, Question]:
    """Question id → question, from every form version (newest wins) and case criteria.

    ``include_score`` adds the numeric pseudo-question ``score`` (a judgment's rubric score),
    which the statistics treat like any other question.

    Criteria with one key in several cases are one question: the row with the highest id
    gives it (it overwrote the others when every row was read in id order), at the place of
    the key's first row. The database picks those rows, so one question is built per key, not
    per row (200,000 rows at 100,000 outputs).
    """
    out: dict[str, Question] = {}
    c = CaseCriterionRow
    by_key = (select(c.key, func.min(c.id).label("first"), func.max(c.id).label("last"))
              .group_by(c.key).subquery())
    newest = (select(c.key, c.text, c.points, c.tags)
              .join(by_key, by_key.c.last == c.id).order_by(by_key.c.first))
    with project.read() as s:
        for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
            for q in form_from_row(row).questions:
                out[q.id] = q
        for key, text, points, tags in column_rows(s.connection(), newest):
            q = case_criterion_question(key, text, points, tuple(tags))
            out[q.id] = q
    if include_score:
        out[SCORE_QUESTION_ID] = SCORE_QUESTION
    return out
