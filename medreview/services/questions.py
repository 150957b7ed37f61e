"""The questions the screens and statistics work with (including the rubric score)."""

from __future__ import annotations

from medreview.domain.rubric import Question
from medreview.storage.project import Project
from medreview.storage.questions import SCORE_QUESTION
from medreview.storage.questions import project_questions as _stored_questions

__all__ = ["SCORE_QUESTION", "project_questions"]


def project_questions(project: Project) -> dict[str, Question]:
    return _stored_questions(project, include_score=True)
