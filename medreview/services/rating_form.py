"""What imported ratings are checked against: the active rubric, taxonomy and case criteria."""

from __future__ import annotations

from sqlalchemy import select

from medreview.errors import ImportFailed
from medreview.importers.prior_ratings import RatingForm
from medreview.storage.forms import active_form_rows, form_from_row
from medreview.storage.models import CaseCriterionRow, CaseRow
from medreview.storage.project import Project


def rating_form(project: Project, source: str) -> RatingForm:
    """The project's active rubric (and taxonomy) plus every case's criterion keys.

    Ratings files never create cases, so the criteria are those already stored; a project
    without a rubric cannot hold ratings, which is said before a single row is read.
    """
    with project.read() as s:
        rubric, taxonomy = active_form_rows(s)
        if rubric is None:
            raise ImportFailed(
                "the project has no rubric yet; add one before importing ratings "
                "(medreview import PROJECT --rubric KEY_OR_FILE)",
                source=source,
            )
        criteria: dict[str, set[str]] = {}
        rows = s.execute(
            select(CaseRow.external_id, CaseCriterionRow.key).join(
                CaseCriterionRow, CaseCriterionRow.case_id == CaseRow.id
            )
        )
        for external_id, key in rows:
            criteria.setdefault(external_id, set()).add(key)
        return RatingForm(
            form=form_from_row(rubric),
            case_criteria={k: frozenset(v) for k, v in criteria.items()},
            taxonomy=form_from_row(taxonomy) if taxonomy is not None else None,
        )
