"""Neutral records that importers produce and the storage layer ingests.

Parsers (``medreview.importers``) turn files into these records, streaming, with the line or
record number they came from; ``medreview.storage.ingest`` writes a whole stream in one
transaction. Keeping the two apart means every format is parsed and tested without a database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool", "developer"]


@dataclass(frozen=True)
class Message:
    """One turn of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class ContextDocument:
    """A clinical context document shown beside the case (note, lab report, history)."""

    title: str
    text: str
    kind: str = "note"


@dataclass(frozen=True)
class CriterionRecord:
    """A per-case rubric criterion (HealthBench style): met / not met, signed points."""

    key: str
    text: str
    points: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseRecord:
    """A case: the prompt or conversation, its context, tags and per-case criteria."""

    external_id: str
    messages: tuple[Message, ...]
    title: str = ""
    context: tuple[ContextDocument, ...] = ()
    tags: tuple[str, ...] = ()
    criteria: tuple[CriterionRecord, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    reference_answer: str | None = None


# The last text hashed and its digest: the importer hashes an output's text for its duplicate
# check and the ingest hashes the very same ``str`` object right after for ``text_sha256``;
# remembering one (by identity: strings are immutable) hashes each output once. One tuple,
# swapped in one assignment, so concurrent imports in threads at worst miss the memo.
_last_text: tuple[str, str] = ("", hashlib.sha256(b"").hexdigest())


def text_sha256(text: str) -> str:
    """The sha256 (hex) of ``text`` in UTF-8: an output's identity with its case and model."""
    global _last_text
    last = _last_text
    if last[0] is text:
        return last[1]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    _last_text = (text, digest)
    return digest


@dataclass(frozen=True)
class OutputRecord:
    """A model's answer to a case."""

    case_external_id: str
    model: str
    text: str
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachmentRecord:
    """A file to copy into the project's media store and link to a case.

    For DICOM, the ``dicom_*`` fields carry the grouping worked out by
    ``medreview.imaging.dicom_series``: one record per file, ordered within its series by
    ``sort_index``.
    """

    case_external_id: str
    path: str
    kind: Literal["image", "dicom", "document"]
    filename: str = ""
    mime: str = ""
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None
    modality: str | None = None
    series_description: str | None = None
    instance_number: int | None = None
    sort_index: int = 0
    frame_count: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RatingRecord:
    """A prior rating (human or judge) brought in from a spreadsheet or JSONL.

    ``answers`` maps question ids (or ``criterion:<key>`` for per-case criteria) to values.
    """

    case_external_id: str
    model: str
    rater: str
    rater_kind: Literal["physician", "judge"]
    answers: dict[str, Any]
    rationale: str = ""
    confidence: float | None = None
    output_external_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    created_at: str | None = None


ImportRecord = CaseRecord | OutputRecord | AttachmentRecord | RatingRecord


@dataclass(frozen=True)
class Located:
    """A record with where it came from, so the ingest can name the line of a bad record."""

    record: ImportRecord
    source: str
    line: int
