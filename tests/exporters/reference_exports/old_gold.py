# ruff: noqa  (a verbatim reference: see __init__.py)
"""What the training exports read: newest gold labels, physicians' labels, project questions.

Plain storage reads (this layer may not import ``medreview.study``, where gold labels are
*made*; here they are only read).
"""

from __future__ import annotations

from typing import Any

from medreview.domain import consensus
from medreview.storage import tables
from medreview.storage.gold import StoredGold, project_gold
from medreview.storage.project import Project
from medreview.storage.questions import project_questions


def gold_labels(project: Project) -> dict[int, dict[str, StoredGold]]:
    """Output -> question -> the newest gold label (highest revision)."""
    return project_gold(project)


def physician_labels(project: Project, *, pseudonymise: bool = True
                     ) -> dict[tuple[int, str], dict[str, Any]]:
    """(output, question) -> {rater: answer} from physicians' finished judgments.

    The same answers the adjudication queue compares (``domain.consensus.physician_ratings``:
    error annotations included, choices sorted); ids that are not project questions are kept
    as they were written.
    """
    return consensus.physician_ratings(tables.current_revisions(project, rater_kind="physician"),
                                       project_questions(project), pseudonymise=pseudonymise,
                                       keep_unknown=True)
