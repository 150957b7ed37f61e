"""Other raters' comments on an item, for the grading screen and the adjudication window.

The rule (nothing before your own judgment is submitted, then blinded; names for an
adjudicator) is ``domain.comments``; storage applies it to every read. Storage is imported
inside the function: the grading window imports this module and starts without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medreview.domain.comments import CommentsView, ShownComment

if TYPE_CHECKING:
    from medreview.storage.project import Project

__all__ = ["CommentsView", "ShownComment", "item_comments"]


def item_comments(project: Project, output_id: int, viewer_rater_id: int | None
                  ) -> CommentsView:
    """What ``viewer_rater_id`` may read of the others' comments on ``output_id``; ``None`` is
    the lead's adjudication screen."""
    from medreview.storage.comments import comments_for

    return comments_for(project, output_id, viewer_rater_id)
