"""Shared by the study screen tests: the disagreeing physicians and how they rate."""

from __future__ import annotations

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.services import grading
from medreview.services.projects import Project, add_rater

# Distinctive names, so a test can prove they never appear while hidden.
RATERS = ("Alice Quill", "Bruno Vasquez", "Chiara Lindqvist")


def rate(project: Project, rater: str, output_id: int, answers: dict[str, object],
         errors: tuple[Annotation, ...] = ()) -> None:
    """A finished judgment by ``rater`` (created if new)."""
    rid = add_rater(project, rater).id
    grading.save_revision(project, rid, output_id,
                          JudgmentDraft(answers=answers, annotations=errors), status="done")
