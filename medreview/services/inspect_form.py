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

``onto_stored_outputs`` handles a second run of the same task: the project keeps one output
per (case, model, text), so an answer this log shares with an output already stored (a
deterministic model, an earlier import of another run) is that output, and this log's scores
are recorded on it (a changed score becomes a new revision of that judge's judgment).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from medreview.domain.records import Located, OutputRecord, RatingRecord
from medreview.domain.rubric import Form, FormKind, Question
from medreview.errors import ImportFailed
from medreview.importers.inspect_ai import inspect_scorers
from medreview.progress import CancelToken
from medreview.storage.case_lookup import output_ids_by_identity
from medreview.storage.form_lookup import change_active_rubric, restore_forms
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

    def with_scorers(current: Form | None) -> Form | None:
        if current is None:
            return Form(
                key=FORM_KEY,
                version=1,
                name=FORM_NAME,
                kind=FormKind.RUBRIC,
                questions=tuple(questions),
                description="Questions created from the scorers of imported inspect-ai logs.",
            )
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
        return replace(current, questions=current.questions + added)

    before = change_active_rubric(project, with_scorers)
    if before is None:
        return None

    def undo() -> None:
        restore_forms(project, before)

    return undo


def onto_stored_outputs(project: Project, records: Iterable[Located]) -> Iterator[Located]:
    """``records`` with each rating pointed at the stored output that has its output's text."""
    stored = output_ids_by_identity(project)
    moved: dict[str, str] = {}  # this log's output id -> the stored output's id
    for located in records:
        rec = located.record
        if isinstance(rec, OutputRecord) and rec.external_id:
            sha = hashlib.sha256(rec.text.encode("utf-8")).hexdigest()
            ext = stored.get((rec.case_external_id, rec.model, sha))
            if ext and ext != rec.external_id:
                moved[rec.external_id] = ext
        elif isinstance(rec, RatingRecord) and rec.output_external_id in moved:
            located = Located(
                replace(rec, output_external_id=moved[rec.output_external_id]),
                located.source,
                located.line,
            )
        yield located
