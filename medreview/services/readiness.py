"""What a project needs before raters, packages or a judge can work on it.

One rule, asked at the entry of the use-cases that hand work out (assign raters, build a rater
package, run an LLM judge), so the command line and the screens refuse alike and say how to
fix it. A project without a rubric would give raters nothing to answer but a rationale box,
and every grade saved later would be refused ("the project has no rubric to grade with").
"""

from __future__ import annotations

from medreview.errors import MedreviewError
from medreview.storage.forms import has_active_rubric
from medreview.storage.project import Project

__all__ = ["HOW_TO_ADD_RUBRIC", "NotReady", "has_rubric", "no_rubric_message", "require_rubric"]

HOW_TO_ADD_RUBRIC = (
    "add one in the app with Study → Edit rubric and guidelines… or Project → Import… "
    "(\"Add a rubric or taxonomy\"), "
    "or with `medreview import PROJECT --rubric KEY_OR_FILE`; a new project gets one in "
    "Project → New project… or with `medreview init PATH --rubric KEY_OR_FILE`"
)


class NotReady(MedreviewError):
    """A use-case asked of a project that lacks something it needs; nothing was changed."""


def no_rubric_message(action: str) -> str:
    """The one line that refuses ``action`` (e.g. "assigning raters") for want of a rubric."""
    return f"{action} needs a rubric and this project has none: {HOW_TO_ADD_RUBRIC}"


def has_rubric(project: Project) -> bool:
    """True when the project has an active rubric (the form raters and judges answer)."""
    return has_active_rubric(project)


def require_rubric(project: Project, action: str) -> None:
    """Raise ``NotReady`` naming ``action`` and how to add a rubric when there is none."""
    if not has_rubric(project):
        raise NotReady(no_rubric_message(action), source=str(project.path))
