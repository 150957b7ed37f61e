"""Write a stream of import records into a project in short batches, all-or-nothing, idempotently.

Identity rules (why importing the same file twice adds nothing):
- case: ``external_id``; the same id with different content is refused, never overwritten;
- output: (case, model, sha256 of the text);
- attachment: (case, sha256 of the file); an attachment whose case is not in the project yet
  waits under the case id (``storage.pending_media``, same identity) and is attached in the
  last batch of the import that adds the case;
- rating: a revision whose uid is a hash of (rater, output, content): the same rating again is
  skipped, a changed one becomes a new revision of that rater's judgment.
Cases and outputs, the bulk of every file, are collected per batch and written together on
SQLAlchemy Core (``storage.bulk_ingest``: lookups against sets, executemany); media and prior
ratings are written one by one as they come (ratings through ``revisions.append_revision``,
which scores them), after the cases and outputs collected before them.
A bad record aborts the whole import: the open batch rolls back, the batches already committed
are deleted again and blobs copied for them are removed, so the project is left as it was.
A run killed outright leaves its batches and an import-log row marked ``partial``; importing
the same file again skips what is there, adds the rest and marks the row ``complete``.
"""

from __future__ import annotations

import gc
import mimetypes
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, event, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
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
from medreview.storage.base import Base
from medreview.storage.bulk_ingest import CaseOutputBatch
from medreview.storage.forms import active_form_rows
from medreview.storage.models import (
    AttachmentRow,
    CaseRow,
    ImportLogRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    PendingMediaRow,
    SeriesRow,
)
from medreview.storage.pending_media import add_waiting, attach_waiting, blobs_in_use
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision, latest_revision

# Summary keys of media kept for cases not in the project yet (read as "added 2 series ...").
WAITING_SERIES = "series waiting for their cases"
WAITING_FILES = "files waiting for their cases"


@dataclass
class ImportSummary:
    added: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"added": dict(self.added), "skipped": dict(self.skipped)}


class _Ingest:
    def __init__(
        self, project: Project, session: Session, summary: ImportSummary, inserted: _Inserted
    ) -> None:
        self.project = project
        self.s = session
        self.summary = summary
        self.inserted = inserted
        self.case_ids: dict[str, int] = {}
        self.new_blobs: list[str] = []
        # Cases and outputs wait here until the batch is written (storage.bulk_ingest).
        self.batch = CaseOutputBatch()

    def write_batch(self) -> None:
        """Check and insert the collected cases and outputs (before anything that reads them)."""
        if not self.batch:
            return
        self.s.flush()
        ids = self.batch.write(
            self.s.connection(), (self.summary.added, self.summary.skipped), self.inserted.add
        )
        self.case_ids.update(ids)

    def check_batch(self) -> None:
        """Raise the error of a collected record, if one has one: it came before the error
        being raised now. Any other failure here leaves that first error to be reported."""
        if not self.batch:
            return
        try:
            self.batch.check(self.s.connection(), (Counter(), Counter()))
        except ImportFailed:
            raise
        except Exception:  # e.g. the database went away: keep the error we had
            return

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

    def known_case_id(self, external_id: str) -> int | None:
        cid = self.case_ids.get(external_id)
        if cid is None:
            cid = self.s.scalar(select(CaseRow.id).where(CaseRow.external_id == external_id))
            if cid is not None:
                self.case_ids[external_id] = cid
        return cid

    def add_attachment(self, rec: AttachmentRecord, where: Located) -> None:
        """Copy the file in and link it to its case, or, if the case is not in the project yet,
        keep it waiting under the case key (``storage.pending_media``)."""
        cid = self.known_case_id(rec.case_external_id)
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
        mime = (
            rec.mime
            or mimetypes.guess_type(path.name)[0]
            or ("application/dicom" if rec.kind == "dicom" else "application/octet-stream")
        )
        row = PendingMediaRow(
            case_key=rec.case_external_id,
            kind=rec.kind,
            sha256=digest,
            size=size,
            filename=rec.filename or path.name,
            mime=mime,
            study_uid=rec.study_uid,
            series_uid=rec.series_uid,
            sop_uid=rec.sop_uid,
            modality=rec.modality,
            series_description=rec.series_description or "",
            instance_number=rec.instance_number,
            sort_index=rec.sort_index,
            frame_count=rec.frame_count,
            meta=rec.metadata,
            source=where.source,
        )
        if cid is not None:
            self.link(cid, row)
            return
        if self.s.scalar(select(PendingMediaRow.id).where(
                PendingMediaRow.case_key == row.case_key,
                PendingMediaRow.series_uid == row.series_uid)) is None and row.series_uid:
            self.summary.added[WAITING_SERIES] += 1
        if add_waiting(self.s, row):
            self.summary.added[WAITING_FILES] += 1
        else:
            self.summary.skipped[WAITING_FILES] += 1

    def link(self, cid: int, rec: PendingMediaRow) -> None:
        """An ``AttachmentRow`` (and its ``SeriesRow`` if new) for a file already in the store;
        ``rec`` is not added to the session."""
        exists = self.s.scalar(
            select(AttachmentRow.id).where(
                AttachmentRow.case_id == cid, AttachmentRow.sha256 == rec.sha256
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
        self.s.add(
            AttachmentRow(
                case_id=cid,
                series_id=series_id,
                kind=rec.kind,
                sha256=rec.sha256,
                size=rec.size,
                filename=rec.filename,
                mime=rec.mime,
                sop_uid=rec.sop_uid,
                instance_number=rec.instance_number,
                sort_index=rec.sort_index,
                frame_count=rec.frame_count,
                meta=rec.meta,
            )
        )
        self.s.flush()
        self.summary.added["attachments"] += 1

    def attach_waiting(self) -> None:
        """Attach the media that waited for a case that exists now (this import's or older);
        they count as added attachments and series."""
        attach_waiting(self.s, self.link)

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


# A batch ends after this many records or this much time, whichever comes first, so other
# writers (a save, a judge run, another import) wait at most about this long for their turn.
# The write lock is taken only when the batch is written (storage.bulk_ingest): 5,000 cases
# and outputs hold it ~70 ms (2,000: ~27 ms; measured at 100k on a loaded 2-core machine);
# each commit is an fsync, and 2.5x fewer of them took ~5 % off an import's CPU time.
BATCH_RECORDS = 5000
BATCH_SECONDS = 0.5

PARTIAL = "partial"
COMPLETE = "complete"


class _Inserted:
    """Rows this import inserted, in committed batches only (what an undo may delete).

    Ids are kept per table in machine-integer arrays: a million outputs cost 8 MB here.
    """

    def __init__(self) -> None:
        self.pending: dict[str, array[int]] = {}
        self.committed: dict[str, array[int]] = {}
        self.touched_judgments: set[int] = set()

    def add(self, table: str, ids: Sequence[int]) -> None:
        """Rows written with Core (``storage.bulk_ingest``), which the ORM event never sees."""
        self.pending.setdefault(table, array("q")).extend(ids)

    def on_persistent(self, _session: Session, obj: object) -> None:
        identity = sa_inspect(obj).identity
        table = getattr(obj, "__tablename__", None)
        if identity and table:
            self.pending.setdefault(table, array("q")).append(int(identity[0]))
        if isinstance(obj, JudgmentRevisionRow):
            self.touched_judgments.add(obj.judgment_id)

    def commit(self) -> None:
        for table, ids in self.pending.items():
            self.committed.setdefault(table, array("q")).extend(ids)
        self.pending.clear()


def _find_partial_log(
    s: Session, source: str, source_sha256: str, mine: ImportLogRow | None = None
) -> ImportLogRow | None:
    """The log row of an earlier run of this same file that never finished (killed): one with
    the same digest, or from the same path with no digest (a run killed before its parser had
    read the whole file, so before its digest was known; see ``ingest``)."""
    q = select(ImportLogRow)
    same_path = (ImportLogRow.source == source) & (ImportLogRow.sha256 == "")
    q = q.where((ImportLogRow.sha256 == source_sha256) | same_path) if source_sha256 else q.where(
        ImportLogRow.source == source
    )
    for row in s.scalars(q.order_by(ImportLogRow.id.desc())):
        if row is not mine and (row.counts or {}).get("state") == PARTIAL:
            return row
    return None


def _earlier_partial_log(
    s: Session, mine: ImportLogRow | None, source: str, source_sha256: str
) -> ImportLogRow | None:
    """The log row the end of an import marks complete: an earlier killed run's row of the
    same file, if there is one (this run's own partial row, if any, is dropped then), else
    this run's own."""
    earlier = _find_partial_log(s, source, source_sha256, mine)
    if earlier is None:
        return mine
    if mine is not None:
        s.execute(delete(_LOG).where(_LOG.c.id == _log_id(mine)))
    return earlier


def incomplete_imports(project: Project) -> list[tuple[str, str]]:
    """(source, started) of imports whose run was killed before the end: import them again."""
    with project.read() as s:
        return [
            (row.source, row.created_at.isoformat(timespec="seconds"))
            for row in s.scalars(select(ImportLogRow).order_by(ImportLogRow.id))
            if (row.counts or {}).get("state") == PARTIAL
        ]


def _write_log(
    s: Session,
    log: ImportLogRow | None,
    *,
    summary: ImportSummary,
    state: str,
    source: str,
    source_sha256: str,
    importer: str,
) -> ImportLogRow:
    counts: dict[str, Any] = {**summary.to_dict(), "state": state}
    if log is None:
        log = ImportLogRow(source=source, sha256=source_sha256, importer=importer, counts=counts)
        s.add(log)
        s.flush()
        return log
    # A plain UPDATE by the row's id (known without reloading the expired row); the ORM's
    # flush of the changed row cost a few times more.
    s.execute(update(_LOG).where(_LOG.c.id == _log_id(log))
              .values(counts=counts, sha256=source_sha256))
    return log


_LOG: Table = ImportLogRow.__table__  # type: ignore[assignment]


def _log_id(log: ImportLogRow) -> int:
    identity = sa_inspect(log).identity
    assert identity is not None  # flushed in an earlier batch, or read from the database
    return int(identity[0])


def _undo(project: Project, inserted: _Inserted, blobs: list[str]) -> bool:
    """Delete the committed rows of a failed import (children first); False if they are in
    use by now (another writer referred to them between batches) — then they stay."""
    if not inserted.committed:
        _remove_unused_blobs(project, blobs)
        return True
    by_table = inserted.committed
    try:
        with project.transaction() as s:
            for table in reversed(Base.metadata.sorted_tables):
                ids = by_table.get(table.name, array("q"))
                for at in range(0, len(ids), 500):
                    s.execute(delete(table).where(table.c.id.in_(list(ids[at : at + 500]))))
            for jid in inserted.touched_judgments:
                judgment = s.get(JudgmentRow, jid)
                if judgment is None:
                    continue
                latest = latest_revision(s, jid)
                if latest is None:
                    s.delete(judgment)
                else:
                    judgment.current_revision_no = latest.revision_no
                    judgment.status = latest.status
                    judgment.flagged = latest.flagged
    except IntegrityError:
        return False
    _remove_unused_blobs(project, blobs)
    return True


def _remove_unused_blobs(project: Project, blobs: list[str]) -> None:
    if not blobs:
        return
    with project.read() as s:
        used = set(s.scalars(select(AttachmentRow.sha256).where(AttachmentRow.sha256.in_(blobs))))
        used |= blobs_in_use(s, blobs)
    for digest in blobs:
        if digest not in used:
            project.media.remove(digest)  # the folder store deletes the file, a server its rows


@contextmanager
def _old_objects_frozen() -> Iterator[Callable[[], None]]:
    """Keep the garbage collector off the import's path; yields what to call between batches.

    An import allocates a few objects per record and keeps a batch of them alive, so the
    collector ran every ~700 allocations, each young pass walking the open batch again and
    every full pass every object of the process (SQLAlchemy's, the app's): a tenth to a fifth
    of an import's CPU time. Instead the automatic collector is off for the import and
    ``gc.freeze`` sets the objects that existed before it aside; between batches (when the
    batch's records are freed) one young collection takes the cycles the batch left (a few
    hundred objects) and the survivors are frozen too. Everything frozen is handed back to
    the collector when the import ends, however it ends.
    """
    was_on = gc.isenabled()
    gc.freeze()
    gc.disable()

    def between_batches() -> None:
        gc.collect(1)
        gc.freeze()

    try:
        yield between_batches
    finally:
        gc.unfreeze()
        if was_on:
            gc.enable()


def ingest(
    project: Project,
    records: Iterable[Located],
    *,
    source: str,
    importer: str,
    source_sha256: str | Callable[[], str] = "",
    progress: Progress = no_progress,
    token: CancelToken | None = None,
    batch_records: int = BATCH_RECORDS,
    batch_seconds: float = BATCH_SECONDS,
) -> ImportSummary:
    """Write ``records`` in short batches; all of the file, or (on any error) none of it.

    Batches commit every ``batch_records`` records or ``batch_seconds``, so other writers
    save in between. The import log row says ``partial`` from the first batch that adds
    something until the last batch marks it ``complete`` (with the counts) in the same
    commit. On an error or cancel the committed batches are deleted again; a killed run
    leaves ``partial`` rows that importing the same file again completes (every row is found
    by its content and skipped). See docs/ARCHITECTURE.md.

    ``source_sha256`` is the source file's digest, or what gives it once ``records`` are
    exhausted (the importer hashes the file in the pass that parses it): then the log row has
    no digest until the last batch, and the partial row of an earlier killed run of the same
    file is looked for at the end.
    """
    summary = ImportSummary()
    inserted = _Inserted()
    state: _Ingest | None = None
    log: ImportLogRow | None = None
    known_sha = "" if callable(source_sha256) else source_sha256
    common = {"source": source, "source_sha256": known_sha, "importer": importer}
    with project.writer(f"import of {Path(source).name}"), _old_objects_frozen() as collect:
        try:
            with project.write_session() as s:
                event.listen(s, "pending_to_persistent", inserted.on_persistent)
                state = _Ingest(project, s, summary, inserted)
                if not callable(source_sha256):
                    log = _find_partial_log(s, source, known_sha)
                batch_start = time.monotonic()
                in_batch = 0
                try:
                    for n, located in enumerate(records, start=1):
                        if token is not None:
                            token.raise_if_cancelled()
                        rec = located.record
                        if isinstance(rec, OutputRecord):  # the commonest first
                            state.batch.add_output(rec, located)
                        elif isinstance(rec, CaseRecord):
                            state.batch.add_case(rec, located)
                        elif isinstance(rec, AttachmentRecord):
                            state.write_batch()
                            state.add_attachment(rec, located)
                        elif isinstance(rec, RatingRecord):
                            state.write_batch()
                            state.add_rating(rec, located)
                        in_batch += 1
                        if n % 200 == 0:
                            progress(n, None, f"{n} records")
                        if (in_batch >= batch_records
                                or time.monotonic() - batch_start >= batch_seconds):
                            state.write_batch()
                            if log is None and summary.added:  # a killed run leaves it partial
                                log = _write_log(s, log, summary=summary, state=PARTIAL, **common)
                            s.commit()
                            inserted.commit()
                            collect()
                            project.yield_to_waiters()
                            batch_start = time.monotonic()
                            in_batch = 0
                except MedreviewError:
                    # A bad line after a bad record still waiting in the batch: the earlier
                    # record's error is the one to report, as if each were written at once.
                    # (A cancel is reported as a cancel, without waiting for the lock.)
                    state.check_batch()
                    raise
                state.write_batch()
                # In the last batch, so with the COMPLETE mark: all of it or none of it.
                state.attach_waiting()
                if callable(source_sha256):  # the records were read: the digest is known
                    known_sha = common["source_sha256"] = source_sha256()
                    log = _earlier_partial_log(s, log, source, known_sha)
                if summary.added or log is not None:
                    log = _write_log(s, log, summary=summary, state=COMPLETE, **common)
                s.commit()
                inserted.commit()
        except BaseException as exc:
            blobs = state.new_blobs if state is not None else []
            try:
                undone = _undo(project, inserted, blobs)
            except Exception:  # e.g. the lock never came back: keep the first error, say so
                undone = False
            if not undone and isinstance(exc, MedreviewError):
                exc.reason += (
                    "; the rows saved before this point could not be taken back (in use by "
                    "another writer), so they stay: fix the file and import it again to complete it"
                )
                exc.args = (exc.message,)
            raise
    return summary
