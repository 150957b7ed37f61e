"""ORM tables: the project's whole data model (see docs/ARCHITECTURE.md for the diagram).

Append-only where history matters: judgments keep every revision (``JudgmentRevision``) and
gold labels every adjudication (``GoldLabel`` rows per output x question, newest wins). Rows
that are merged between copies of a project (revisions, gold labels) carry a ``uid`` so that
merging is idempotent. Nothing here uses dialect-specific SQL: the same model runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medreview.storage.base import Base, utcnow


class ProjectRow(Base):
    """The one row describing this project (a project is a folder holding one database)."""

    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Explicit, recorded consent that case data may be sent off this machine (LLM judge).
    data_may_leave: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_by: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[dt.datetime | None]
    reveal_models: Mapped[bool] = mapped_column(Boolean, default=False)


class FormRow(Base):
    """A rubric or taxonomy at one version; editing a used form adds a new version."""

    __tablename__ = "form"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JudgeRunRow(Base):
    """One LLM-judge run: model, endpoint (never a secret), template hash, parameters, usage."""

    __tablename__ = "judge_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    template_key: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int] = mapped_column(Integer, default=1)
    template_hash: Mapped[str] = mapped_column(String(64))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("form.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="created")
    images_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    n_requests: Mapped[int] = mapped_column(Integer, default=0)
    n_cached: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    notes: Mapped[str] = mapped_column(Text, default="")


class RaterRow(Base):
    """A physician, or a judge (then ``judge_run_id`` names its run)."""

    __tablename__ = "rater"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # physician | judge
    pseudonym: Mapped[str] = mapped_column(String(50), unique=True)
    judge_run_id: Mapped[int | None] = mapped_column(ForeignKey("judge_run.id"))
    is_adjudicator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Schema 0008: the PostgreSQL login of this physician (row-level security maps
    # current_user to the rater through it; storage/team.py); always empty on SQLite.
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True, index=True)


class CaseRow(Base):
    __tablename__ = "case"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    messages: Mapped[list[Any]] = mapped_column(default=list)  # [{role, content}]
    context: Mapped[list[Any]] = mapped_column(default=list)  # [{title, text, kind}]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    reference_answer: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    criteria: Mapped[list[CaseCriterionRow]] = relationship(
        back_populates="case", order_by="CaseCriterionRow.position"
    )


class CaseCriterionRow(Base):
    """A per-case rubric criterion (HealthBench): question id ``criterion:<key>``."""

    __tablename__ = "case_criterion"
    __table_args__ = (UniqueConstraint("case_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    points: Mapped[float] = mapped_column(Float)
    tags: Mapped[list[Any]] = mapped_column(default=list)

    case: Mapped[CaseRow] = relationship(back_populates="criteria")


class SeriesRow(Base):
    """A DICOM series (or a group of plain images) attached to a case."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("case_id", "series_uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    study_uid: Mapped[str | None] = mapped_column(String(128))
    series_uid: Mapped[str] = mapped_column(String(128))
    modality: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")


class AttachmentRow(Base):
    """A file in the content-addressed media store, linked to a case."""

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # image | dicom | document
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500))
    mime: Mapped[str] = mapped_column(String(100), default="")
    sop_uid: Mapped[str | None] = mapped_column(String(128))
    instance_number: Mapped[int | None] = mapped_column(Integer)
    sort_index: Mapped[int] = mapped_column(Integer, default=0)
    frame_count: Mapped[int] = mapped_column(Integer, default=1)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutputRow(Base):
    """A model's answer to a case. Identity: (case, model, text hash)."""

    __tablename__ = "output"
    __table_args__ = (UniqueConstraint("case_id", "model", "text_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    source: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AssignmentRow(Base):
    """Rater x output, with the rater's order and the blinded label shown instead of the model."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("rater_id", "output_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("rater.id"), index=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("output.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    blind_label: Mapped[str] = mapped_column(String(50), default="Response A")
    seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JudgmentRow(Base):
    """One rater's judgment of one output; its content lives in append-only revisions.

    ``status``, ``flagged`` and ``current_revision_no`` mirror the newest revision so that a
    queue of 100k outputs is read without touching revision payloads.
    """

    __tablename__ = "judgment"
    __table_args__ = (UniqueConstraint("rater_id", "output_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("rater.id"), index=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("output.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | done | skipped
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    current_revision_no: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JudgmentRevisionRow(Base):
    """An immutable snapshot of a judgment. Never updated, never deleted."""

    __tablename__ = "judgment_revision"
    __table_args__ = (UniqueConstraint("judgment_id", "revision_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    judgment_id: Mapped[int] = mapped_column(ForeignKey("judgment.id"), index=True)
    revision_no: Mapped[int] = mapped_column(Integer)
    form_id: Mapped[int] = mapped_column(ForeignKey("form.id"))
    taxonomy_id: Mapped[int | None] = mapped_column(ForeignKey("form.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[list[Any]] = mapped_column(default=list)
    rationale: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    overall_score: Mapped[float | None] = mapped_column(Float)
    time_on_task_s: Mapped[float] = mapped_column(Float, default=0.0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    author: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default="ui")  # ui|import|judge|merge|undo
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Schema 0006: the grading guideline version (of the rubric's key) the grading screen
    # showed when this revision was written; None for imports, judges, and older revisions.
    guideline_version: Mapped[int | None] = mapped_column(Integer)


class GoldLabelRow(Base):
    """An adjudicated (or unanimous / majority / imported) answer; newest revision wins."""

    __tablename__ = "gold_label"
    __table_args__ = (
        UniqueConstraint("output_id", "question_id", "revision_no"),
        Index("ix_gold_label_output_question", "output_id", "question_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("output.id"))
    question_id: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON)
    provenance: Mapped[str] = mapped_column(String(20))  # adjudicated|unanimous|majority|imported
    rationale: Mapped[str] = mapped_column(Text, default="")
    adjudicator_id: Mapped[int | None] = mapped_column(ForeignKey("rater.id"))
    revision_no: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImportLogRow(Base):
    """Which source files were imported, with their hash and what they added."""

    __tablename__ = "import_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    importer: Mapped[str] = mapped_column(String(50))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- Added in schema revision 0002: the judge's request ledger and response cache. ---


class JudgeItemRow(Base):
    """One unit of judge work (output x item key), for resuming and for failure reasons."""

    __tablename__ = "judge_item"
    __table_args__ = (UniqueConstraint("run_id", "output_id", "item_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("judge_run.id"), index=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("output.id"))
    item_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # done | failed
    error: Mapped[str] = mapped_column(Text, default="")
    raw_text: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JudgeCacheRow(Base):
    """Parsed replies keyed by sha256(prompt hash, model, parameters): a re-run pays nothing."""

    __tablename__ = "judge_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- Added in schema revision 0003: the rater packages this project issued. ---


class IssuedPackageRow(Base):
    """A rater package this project wrote: who it is for, what it holds, its seal key.

    Merge accepts a package only if it is one of these, for this rater, and sealed with this
    key. ``outputs`` maps the package's opaque tokens to this project's outputs (the map never
    leaves the project, so a package does not reveal model order); ``attachments`` maps the
    package database's attachment ids to this project's.
    """

    __tablename__ = "issued_package"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("rater.id"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    secret: Mapped[str] = mapped_column(String(64))  # hex of 32 random bytes (HMAC key)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # token -> {output_id, sha}
    attachments: Mapped[dict[str, Any]] = mapped_column(default=dict)  # package id -> ours


# --- Added in schema revision 0005: media imported before their cases. ---


class PendingMediaRow(Base):
    """A media file whose case is not in the project yet, waiting under its case key.

    The blob is already in the media store; the row keeps what an ``AttachmentRow`` and its
    ``SeriesRow`` need. The import that adds the case ``case_key`` turns it into those rows
    and deletes it (storage.pending_media).
    """

    __tablename__ = "pending_media"
    __table_args__ = (UniqueConstraint("case_key", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_key: Mapped[str] = mapped_column(String(200), index=True)  # a case's external_id
    kind: Mapped[str] = mapped_column(String(20))  # image | dicom | document
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500))
    mime: Mapped[str] = mapped_column(String(100), default="")
    study_uid: Mapped[str | None] = mapped_column(String(128))
    series_uid: Mapped[str | None] = mapped_column(String(128))
    sop_uid: Mapped[str | None] = mapped_column(String(128))
    modality: Mapped[str | None] = mapped_column(String(16))
    series_description: Mapped[str] = mapped_column(String(500), default="")
    instance_number: Mapped[int | None] = mapped_column(Integer)
    sort_index: Mapped[int] = mapped_column(Integer, default=0)
    frame_count: Mapped[int] = mapped_column(Integer, default=1)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    source: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- Added in schema revision 0006: grading guidelines per form, versioned. ---


class GuidelineRow(Base):
    """Grading guidelines (Markdown) for the form ``form_key``; every save is a new version.

    Keyed by form key, not form version: guidelines explain how to apply a rubric and outlive
    its edits. Rows are never updated; a judgment revision records the version it was made with.
    """

    __tablename__ = "guideline"
    __table_args__ = (UniqueConstraint("form_key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- Added in schema revision 0007: media stored in the database (PostgreSQL projects). ---


class MediaBlobRow(Base):
    """A medium in a database-backed project, named by its sha256; written in one transaction
    with all its chunks, so a row that exists is whole. Empty in SQLite projects (media/)."""

    __tablename__ = "media_blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MediaChunkRow(Base):
    """The ``seq``-th piece (1 MiB) of a blob's bytes: streamed, never held whole in memory."""

    __tablename__ = "media_chunk"
    sha256: Mapped[str] = mapped_column(
        String(64), ForeignKey("media_blob.sha256", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# --- Added in schema revision 0009: leases of open items (team work, storage/leases.py). ---


class ItemLeaseRow(Base):
    """A rater has this output open until ``expires_at`` (seconds since the epoch by the
    database's clock, so raters' own clocks never matter); renewed while they work on it,
    deleted when they submit or leave it, ignored once expired."""

    __tablename__ = "item_lease"
    rater_id: Mapped[int] = mapped_column(
        ForeignKey("rater.id", ondelete="CASCADE"), primary_key=True)
    output_id: Mapped[int] = mapped_column(
        ForeignKey("output.id", ondelete="CASCADE"), primary_key=True, index=True)
    taken_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


# --- Added in schema revision 0010: why an assignment is more than an ordinary one (#18). ---


class StudyItemRow(Base):
    """A rater's output that is part of the study's quality design: a qualification gold item,
    a hidden gold check or attention item, a retest due from ``due_at``, or an escalation
    (``reason`` says which rule). Check and attention rows are never shown to the rater nor
    written into a package; on PostgreSQL a rater cannot read them (migration 0010)."""

    __tablename__ = "study_item"
    __table_args__ = (UniqueConstraint("rater_id", "output_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("rater.id"), index=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("output.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # qualification|check|attention|retest|escalation
    due_at: Mapped[dt.datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
