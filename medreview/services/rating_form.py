"""What imported ratings are checked against: the active rubric, taxonomy and case criteria."""

from __future__ import annotations

from medreview.errors import ImportFailed
from medreview.importers.prior_ratings import RatingForm
from medreview.storage.case_lookup import case_criterion_keys
from medreview.storage.form_lookup import active_forms
from medreview.storage.project import Project


def rating_form(project: Project, source: str) -> RatingForm:
    """The project's active rubric (and taxonomy) plus every case's criterion keys.

    Ratings files never create cases, so the criteria are those already stored; a project
    without a rubric cannot hold ratings, which is said before a single row is read.
    """
    rubric, taxonomy = active_forms(project)
    if rubric is None:
        raise ImportFailed(
            "the project has no rubric yet; add one before importing ratings "
            "(medreview import PROJECT --rubric KEY_OR_FILE)",
            source=source,
        )
    return RatingForm(
        form=rubric.form,
        case_criteria=case_criterion_keys(project),
        taxonomy=taxonomy.form if taxonomy is not None else None,
    )
