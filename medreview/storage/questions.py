"""The questions a project's judgments answer: form questions plus every per-case criterion."""

from __future__ import annotations

from sqlalchemy import select

from medreview.domain.rubric import Question, QuestionKind, case_criterion_question
from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, FormRow
from medreview.storage.project import Project
from medreview.storage.rating_columns import SCORE_QUESTION_ID

SCORE_QUESTION = Question(
    id=SCORE_QUESTION_ID,
    kind=QuestionKind.NUMBER,
    prompt="Rubric score (points met over positive points, per output)",
)


def project_questions(project: Project, *, include_score: bool = False) -> dict[str, Question]:
    """Question id → question, from every form version (newest wins) and case criteria.

    ``include_score`` adds the numeric pseudo-question ``score`` (a judgment's rubric score),
    which the statistics treat like any other question.
    """
    out: dict[str, Question] = {}
    with project.read() as s:
        for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
            for q in form_from_row(row).questions:
                out[q.id] = q
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.id)):
            q = case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
            out[q.id] = q
    if include_score:
        out[SCORE_QUESTION_ID] = SCORE_QUESTION
    return out
