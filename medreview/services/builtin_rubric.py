"""The built-in rubric a benchmark's ground truth is stored on (MEDEC, MedVAL-Bench).

Ratings are stored under the project's active rubric, so before such an import the rubric must
be the benchmark's: a project without any rubric gets the template added (and made active); a
project that grades with another rubric is refused with the command that adds it, since
switching the form physicians grade with is the study lead's decision. The template is added in
its own transaction before the records are written; ``undo`` removes it again when that import
fails, so a refused file still leaves the project exactly as it was. The answers are checked
against the rubric version actually active (a study may have edited its copy of the template).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from medreview.domain.records import Located, RatingRecord
from medreview.domain.rubric import Form
from medreview.domain.validation import check_answer
from medreview.errors import ImportFailed
from medreview.rubrics.templates import load_template
from medreview.storage.form_lookup import delete_form, ensure_active_rubric
from medreview.storage.project import Project


def ensure_rubric(
    project: Project, key: str, source: str
) -> tuple[Form, Callable[[], None] | None]:
    """Make the built-in rubric ``key`` the active one.

    Returns the active form and, when this call added it, how to remove it again.
    """
    ensured = ensure_active_rubric(project, key, lambda: load_template(key))
    if ensured.form is None:
        grading = (f"grades with rubric {ensured.active_key!r}" if ensured.active_key is not None
                   else f"has an inactive {key!r}")
        raise ImportFailed(
            f"this project {grading}; the benchmark's ground truth is stored on the built-in "
            f"{key!r} rubric: add it first with `medreview import PROJECT --rubric {key} "
            "FILE` (it becomes the rubric physicians grade with) or import into a new project",
            source=source,
        )
    if not ensured.added:
        return ensured.form.form, None
    form_id = ensured.form.id

    def undo() -> None:
        delete_form(project, form_id)

    return ensured.form.form, undo


def checked(records: Iterable[Located], form: Form) -> Iterator[Located]:
    """``records`` with every rating's answers checked against ``form``."""
    questions = {q.id: q for q in form.questions}
    for located in records:
        rec = located.record
        if isinstance(rec, RatingRecord):
            for qid, value in rec.answers.items():
                question = questions.get(qid)
                reason = (
                    f"rubric {form.key!r} v{form.version} has no question {qid!r}"
                    if question is None
                    else check_answer(question, value)
                )
                if reason:
                    raise ImportFailed(
                        f"ground truth for {qid!r} does not fit the project's rubric: {reason}",
                        source=located.source,
                        line=located.line,
                        item=rec.case_external_id,
                    )
        yield located
