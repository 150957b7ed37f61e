"""Media waiting for their cases: imported before the case, attached when it arrives.

A media folder (or manifest) names each file's case by key (the case's ``external_id``). When
that case is not in the project yet, ``storage.ingest`` copies the file into the media store
as usual and keeps a ``PendingMediaRow`` under the key instead of failing. At the end of every
import (in its last batch, so in the same commit as the rest) rows whose case now exists are
turned into ``SeriesRow``/``AttachmentRow`` rows and deleted: a case import attaches the media
that waited for it, and a media import attaches nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.storage.models import CaseRow, PendingMediaRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class WaitingMedia:
    """What waits: DICOM series (by case and Series UID), other files, the case keys."""

    series: int
    files: int
    case_keys: tuple[str, ...]

    def sentence(self) -> str:
        """``3 series (12 files) waiting for their cases: c1, c2`` (empty if nothing waits)."""
        if not self.files:
            return ""
        keys = ", ".join(self.case_keys[:5]) + (", …" if len(self.case_keys) > 5 else "")
        return (f"{self.series} series ({self.files} file{'s' if self.files != 1 else ''}) "
                f"waiting for their cases: {keys}")


def add_waiting(s: Session, row: PendingMediaRow) -> bool:
    """Keep ``row`` unless the same file already waits for the same case; True if added."""
    exists = s.scalar(select(PendingMediaRow.id).where(
        PendingMediaRow.case_key == row.case_key, PendingMediaRow.sha256 == row.sha256))
    if exists is not None:
        return False
    s.add(row)
    s.flush()
    return True


def attach_waiting(s: Session, attach: Callable[[int, PendingMediaRow], None]) -> int:
    """Call ``attach(case_id, row)`` for every waiting file whose case exists now, in the
    order the files were listed, then delete those rows; the number attached."""
    rows = s.execute(
        select(PendingMediaRow, CaseRow.id)
        .join(CaseRow, CaseRow.external_id == PendingMediaRow.case_key)
        .order_by(PendingMediaRow.id)
    ).all()
    for pending, case_id in rows:
        attach(case_id, pending)
        s.delete(pending)
    if rows:
        s.flush()
    return len(rows)


def waiting_in(s: Session) -> WaitingMedia:
    files = int(s.scalar(select(func.count()).select_from(PendingMediaRow)) or 0)
    if not files:
        return WaitingMedia(0, 0, ())
    series = len(s.execute(
        select(PendingMediaRow.case_key, PendingMediaRow.series_uid)
        .where(PendingMediaRow.series_uid.is_not(None)).distinct()).all())
    keys = tuple(s.scalars(select(PendingMediaRow.case_key).distinct()
                           .order_by(PendingMediaRow.case_key)))
    return WaitingMedia(series, files, keys)


def waiting_media(project: Project) -> WaitingMedia:
    """What in ``project`` still waits for its case (for ``medreview info`` and the app)."""
    with project.read() as s:
        return waiting_in(s)


def blobs_in_use(s: Session, digests: list[str]) -> set[str]:
    """Which of ``digests`` a waiting file still needs (a failed import must not delete it)."""
    return set(s.scalars(select(PendingMediaRow.sha256)
                         .where(PendingMediaRow.sha256.in_(digests))))
