"""Frozen values read from a project: what storage hands out instead of ORM rows.

The use-cases in ``medreview.services`` return these to the screens and the command line
(``services/views.py`` re-exports them), so no session or row ever leaves the storage layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.records import ContextDocument, Message
from medreview.domain.rubric import Form, Question


@dataclass(frozen=True)
class RaterView:
    id: int
    name: str
    kind: str
    pseudonym: str
    is_adjudicator: bool = False


@dataclass(frozen=True)
class QueueRow:
    """One line of a rater's queue (kept small: 100k of these are held in memory)."""

    output_id: int
    case_id: int
    case_external_id: str
    case_title: str
    model: str
    blind_label: str
    status: str  # todo | draft | done | skipped
    flagged: bool
    tags: tuple[str, ...]
    position: int
    updated_at: dt.datetime | None
    cannot_assess: str = ""  # a done item marked "cannot assess": the reason (and note)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    kind: str  # image | dicom | document
    filename: str
    path: Path  # inside the project's media store
    sha256: str
    series_id: int | None
    sort_index: int
    frame_count: int


@dataclass(frozen=True)
class SeriesView:
    id: int | None  # None: the case's plain images grouped together
    series_uid: str
    modality: str
    description: str
    attachments: tuple[AttachmentView, ...]


@dataclass(frozen=True)
class CaseView:
    id: int
    external_id: str
    title: str
    messages: tuple[Message, ...]
    context: tuple[ContextDocument, ...]
    tags: tuple[str, ...]
    criteria: tuple[Question, ...]  # per-case criterion questions (``criterion:<key>``)
    reference_answer: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemView:
    """Everything the grading window shows for one output."""

    output_id: int
    case: CaseView
    answer: str
    model: str
    blind_label: str
    reveal_model: bool
    series: tuple[SeriesView, ...]
    documents: tuple[AttachmentView, ...]
    form: Form | None
    taxonomy: Form | None
    draft: JudgmentDraft | None  # the rater's newest revision, if any
    status: str
    revision_no: int
    escalation_reason: str = ""  # why an escalation rule gave this rater the item (one line)

    @property
    def shown_model(self) -> str:
        return self.model if self.reveal_model else self.blind_label

    def questions(self) -> tuple[Question, ...]:
        """Form questions, then the case's criteria, then taxonomy questions (panel order).

        Scorer-only questions (an imported automatic scorer's) are not asked of physicians.
        """
        qs: list[Question] = []
        if self.form is not None:
            qs.extend(q for q in self.form.questions if not q.is_scorer_only)
            if self.form.per_case_criteria:
                qs.extend(self.case.criteria)
        if self.taxonomy is not None:
            qs.extend(self.taxonomy.questions)
        return tuple(qs)


@dataclass(frozen=True)
class RevisionView:
    revision_no: int
    created_at: dt.datetime
    author: str
    source: str
    status: str
    draft: JudgmentDraft
    form_key: str
    form_version: int


@dataclass(frozen=True)
class ProjectInfo:
    path: str
    name: str
    uid: str
    schema_revision: str | None
    counts: dict[str, int]
    models: dict[str, int]
    raters: tuple[RaterView, ...]
    forms: tuple[dict[str, Any], ...]
    data_may_leave: bool


@dataclass(frozen=True)
class GoldView:
    """The newest gold label of one question of an output."""

    value: Any
    provenance: str
    revision_no: int
    rationale: str
    adjudicator: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class RaterLoad:
    """A physician with their assignment count and finished judgments."""

    name: str
    pseudonym: str
    assigned: int
    done: int
    is_adjudicator: bool = False
