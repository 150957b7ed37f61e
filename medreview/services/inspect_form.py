"""The scorer questions an inspect-ai log's judge answers are stored on.

Imported ratings are stored under the project's active rubric (``storage.ingest``), so before
a log's records are written its scorers must be questions of that rubric:

* a project without a rubric gets ``inspect-scorers``, a rubric holding just those questions;
* a project that has one gets the missing scorer questions appended (tagged
  ``inspect-scorer``); ``register_form`` makes that a new version when judgments already
  point at the current one, so earlier judgments keep their form;
* a question of the same id with another type (a scorer that gave letters before and numbers
  now) is refused in one line before anything is written.

The log is read and checked in full first (``inspect_scorers``), so a bad log changes nothing.
``undo`` puts the forms back as they were when the import that follows fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from medreview.domain.rubric import Form, FormKind, Question
from medreview.errors import ImportFailed
from medreview.importers.inspect_ai import inspect_scorers
from medreview.progress import CancelToken
from medreview.storage.forms import active_form_rows, form_from_row, register_form
from medreview.storage.models import FormRow
from medreview.storage.project import Project

FORM_KEY = "inspect-scorers"
FORM_NAME = "inspect-ai scorers"


def _compatible(old: Question, new: Question) -> str:
    """Why ``new`` cannot reuse the stored question ``old`` ('' when it can)."""
    if old.kind != new.kind:
        return f"is a {old.kind.value} question but this log's scores make it {new.kind.value}"
    if old.option_values() != new.option_values():
        return "has other options than this log's scores"
    return ""


def ensure_scorer_questions(
    project: Project, path: Path, token: CancelToken | None = None
) -> Callable[[], None] | None:
    """Add the log's scorer questions to the project; return how to undo it (None: no change)."""
    questions = [q for s in inspect_scorers(path, token) for q in s.questions()]
    if not questions:
        return None
    with project.transaction() as s:
        active, _ = active_form_rows(s)
        if active is None:
            form = Form(
                key=FORM_KEY,
                version=1,
                name=FORM_NAME,
                kind=FormKind.RUBRIC,
                questions=tuple(questions),
                description="Questions created from the scorers of imported inspect-ai logs.",
            )
        else:
            current = form_from_row(active)
            have = {q.id: q for q in current.questions}
            for q in questions:
                reason = _compatible(have[q.id], q) if q.id in have else ""
                if reason:
                    raise ImportFailed(
                        f"rubric {current.key!r} question {q.id!r} {reason}; import this log "
                        "into another project",
                        source=str(path),
                    )
            added = tuple(q for q in questions if q.id not in have)
            if not added:
                return None
            form = replace(current, questions=current.questions + added)
        before: list[dict[str, Any]] = [
            {"id": r.id, "active": r.active, "definition": r.definition, "sha256": r.sha256,
             "name": r.name}
            for r in s.scalars(select(FormRow))
        ]
        register_form(s, form)

    def undo() -> None:
        with project.transaction() as s:
            kept = {b["id"]: b for b in before}
            for row in s.scalars(select(FormRow)):
                old = kept.get(row.id)
                if old is None:
                    s.delete(row)
                    continue
                row.active = old["active"]
                row.definition = old["definition"]
                row.sha256 = old["sha256"]
                row.name = old["name"]

    return undo
