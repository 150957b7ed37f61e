"""Write a stream of import records into a project in one transaction, idempotently.

Identity rules (why importing the same file twice adds nothing):
- case: ``external_id``; the same id with different content is refused, never overwritten;
- output: (case, model, sha256 of the text);
- attachment: (case, sha256 of the file);
- rating: a revision whose uid is a hash of (rater, output, content): the same rating again is
  skipped, a changed one becomes a new revision of that rater's judgment.
A bad record aborts the whole import: the transaction rolls back and blobs copied for it are
removed, so the project is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    Located,
    OutputRecord,
    RatingRecord,
)
from medreview.errors import ImportFailed, MedreviewError
from medreview.progress import CancelToken, Progress, no_progress
from medreview.storage.forms import active_form_rows
from medreview.storage.models import (
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    ImportLogRow,
    OutputRow,
    SeriesRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision


@dataclass
class ImportSummary:
    added: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"added": dict(self.added), "skipped": dict(self.skipped)}


def canonical_sha(obj: Any) -> str:
    payload = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _case_content(rec: CaseRecord) -> dict[str, Any]:
    return {
        "messages": [asdict(m) for m in rec.messages],
        "context": [asdict(c) for c in rec.context],
        "criteria": [asdict(c) for c in rec.criteria],
        "reference": rec.reference_answer,
        "title": rec.title,
    }


class _Ingest:
    def __init__(self, project: Project, session: Session, summary: ImportSummary) -> None:
        self.project = project
        self.s = session
        self.summary = summary
        self.case_ids: dict[str, int] = {}
        self.new_blobs: list[str] = []

    def case_id(self, external_id: str, where: Located) -> int:
        cid = self.case_ids.get(external_id)
        if cid is None:
            cid = self.s.scalar(select(CaseRow.id).where(CaseRow.external_id == external_id))
            if cid is None:
                raise ImportFailed(
                    f"refers to case {external_id!r}, which is neither in this file before it "
                    "nor in the project",
                    source=where.source,
                    line=where.line,
                    item=external_id,
                )
            self.case_ids[external_id] = cid
        return cid

    def add_case(self, rec: CaseRecord, where: Located) -> None:
        content = _case_content(rec)
        sha = canonical_sha(content)
        row = self.s.scalars(select(CaseRow).where(CaseRow.external_id == rec.external_id)).first()
        if row is not None:
            if row.content_sha256 != sha:
                raise ImportFailed(
                    "case id already exists in the project with different content "
                    "(prompt, context or criteria); give it a new id or fix the file",
                    source=where.source,
                    line=where.line,
                    item=rec.external_id,
                )
            self.case_ids[rec.external_id] = row.id
            self.summary.skipped["cases"] += 1
            return
        row = CaseRow(
            external_id=rec.external_id,
            title=rec.title,
            messages=content["messages"],
            context=content["context"],
            tags=list(rec.tags),
            meta=rec.metadata,
            reference_answer=rec.reference_answer,
            content_sha256=sha,
            source=where.source,
        )
        self.s.add(row)
        self.s.flush()
        keys = set()
        for pos, c in enumerate(rec.criteria):
            if c.key in keys:
                raise ImportFailed(
                    f"duplicate criterion key {c.key!r}",
                    source=where.source,
                    line=where.line,
                    item=rec.external_id,
                )
            keys.add(c.key)
            self.s.add(
                CaseCriterionRow(
                    case_id=row.id,
                    position=pos,
                    key=c.key,
                    text=c.text,
                    points=float(c.points),
                    tags=list(c.tags),
                )
            )
        self.case_ids[rec.external_id] = row.id
        self.summary.added["cases"] += 1
        if rec.criteria:
            self.summary.added["criteria"] += len(rec.criteria)

    def add_output(self, rec: OutputRecord, where: Located) -> None:
        cid = self.case_id(rec.case_external_id, where)
        sha = text_sha(rec.text)
        exists = self.s.scalar(
            select(OutputRow.id).where(
                OutputRow.case_id == cid, OutputRow.model == rec.model, OutputRow.text_sha256 == sha
            )
        )
        if exists is not None:
            self.summary.skipped["outputs"] += 1
            return
        self.s.add(
            OutputRow(
                case_id=cid,
                external_id=rec.external_id,
                model=rec.model,
                text=rec.text,
                text_sha256=sha,
                meta=rec.metadata,
                source=where.source,
            )
        )
        self.s.flush()
        self.summary.added["outputs"] += 1

    def add_attachment(self, rec: AttachmentRecord, where: Located) -> None:
        cid = self.case_id(rec.case_external_id, where)
        path = Path(rec.path)
        had = None
        try:
            from medreview.storage.media import sha256_file

            had = self.project.media.has(sha256_file(path))
            digest, size = self.project.media.add(path)
        except OSError as exc:
            raise ImportFailed(
                f"cannot read attachment: {exc.strerror or exc}",
                source=where.source,
                line=where.line,
                item=str(path),
            ) from exc
        except MedreviewError as exc:
            raise ImportFailed(
                exc.reason, source=where.source, line=where.line, item=str(path)
            ) from exc
        if not had:
            self.new_blobs.append(digest)
        exists = self.s.scalar(
            select(AttachmentRow.id).where(
                AttachmentRow.case_id == cid, AttachmentRow.sha256 == digest
            )
        )
        if exists is not None:
            self.summary.skipped["attachments"] += 1
            return
        series_id = None
        if rec.series_uid:
            series = self.s.scalars(
                select(SeriesRow).where(
                    SeriesRow.case_id == cid, SeriesRow.series_uid == rec.series_uid
                )
            ).first()
            if series is None:
                series = SeriesRow(
                    case_id=cid,
                    study_uid=rec.study_uid,
                    series_uid=rec.series_uid,
                    modality=rec.modality,
                    description=rec.series_description or "",
                )
                self.s.add(series)
                self.s.flush()
                self.summary.added["series"] += 1
            series_id = series.id
        mime = (
            rec.mime
            or mimetypes.guess_type(path.name)[0]
            or ("application/dicom" if rec.kind == "dicom" else "application/octet-stream")
        )
        self.s.add(
            AttachmentRow(
                case_id=cid,
                series_id=series_id,
                kind=rec.kind,
                sha256=digest,
                size=size,
                filename=rec.filename or path.name,
                mime=mime,
                sop_uid=rec.sop_uid,
                instance_number=rec.instance_number,
                sort_index=rec.sort_index,
                frame_count=rec.frame_count,
                meta=rec.metadata,
            )
        )
        self.s.flush()
        self.summary.added["attachments"] += 1

    def add_rating(self, rec: RatingRecord, where: Located) -> None:
        cid = self.case_id(rec.case_external_id, where)
        q = select(OutputRow.id).where(OutputRow.case_id == cid, OutputRow.model == rec.model)
        if rec.output_external_id:
            q = q.where(OutputRow.external_id == rec.output_external_id)
        ids = self.s.scalars(q).all()
        if not ids:
            raise ImportFailed(
                f"no output of model {rec.model!r} for this case",
                source=where.source,
                line=where.line,
                item=rec.case_external_id,
            )
        if len(ids) > 1:
            raise ImportFailed(
                f"case has {len(ids)} outputs of model {rec.model!r}; "
                "give the output id to say which one was rated",
                source=where.source,
                line=where.line,
                item=rec.case_external_id,
            )
        rubric, taxonomy = active_form_rows(self.s)
        if rubric is None:
            raise ImportFailed(
                "the project has no rubric yet; add one before importing ratings",
                source=where.source,
                line=where.line,
            )
        rater = get_or_create_rater(self.s, rec.rater, rec.rater_kind)
        content = RevisionContent(
            answers=dict(rec.answers),
            annotations=[dict(e) for e in rec.errors],
            rationale=rec.rationale,
            confidence=rec.confidence,
            status="done",
        )
        added = append_revision(
            self.s,
            rater_id=rater.id,
            output_id=ids[0],
            content=content,
            form_id=rubric.id,
            taxonomy_id=taxonomy.id if taxonomy else None,
            author=rec.rater,
            source="import",
            dedupe=True,
        )
        if added:
            self.summary.added["ratings"] += 1
        else:
            self.summary.skipped["ratings"] += 1


def ingest(
    project: Project,
    records: Iterable[Located],
    *,
    source: str,
    importer: str,
    source_sha256: str = "",
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ImportSummary:
    """Write ``records`` in one transaction; on any error nothing stays behind."""
    summary = ImportSummary()
    state: _Ingest | None = None
    try:
        with project.transaction() as s:
            state = _Ingest(project, s, summary)
            for n, located in enumerate(records, start=1):
                if token is not None:
                    token.raise_if_cancelled()
                rec = located.record
                if isinstance(rec, CaseRecord):
                    state.add_case(rec, located)
                elif isinstance(rec, OutputRecord):
                    state.add_output(rec, located)
                elif isinstance(rec, AttachmentRecord):
                    state.add_attachment(rec, located)
                elif isinstance(rec, RatingRecord):
                    state.add_rating(rec, located)
                if n % 200 == 0:
                    progress(n, None, f"{n} records")
            if summary.added:
                s.add(
                    ImportLogRow(
                        source=source,
                        sha256=source_sha256,
                        importer=importer,
                        counts=summary.to_dict(),
                    )
                )
    except BaseException:
        if state is not None:
            for digest in state.new_blobs:
                state.project.media.path_for(digest).unlink(missing_ok=True)
        raise
    return summary
