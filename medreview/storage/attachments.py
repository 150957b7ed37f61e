"""Attachment reads for code outside storage: plain values, one snapshot each.

Kept apart from ``storage/media.py`` (the blob store), which ``storage/project.py`` builds on:
a read that takes a ``Project`` there made the two modules import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from medreview.storage.models import AttachmentRow, CaseRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment as the media export reads it."""

    id: int
    case_external_id: str
    kind: str  # image | dicom | document
    sha256: str
    filename: str


def media_for_export(project: Project,
                     case_ids: Iterable[int] | None = None) -> list[StoredAttachment]:
    """Every attachment (of ``case_ids``, or all) by case, series and position in its series."""
    with project.read() as s:
        q = select(AttachmentRow.id, CaseRow.external_id, AttachmentRow.kind,
                   AttachmentRow.sha256, AttachmentRow.filename).join(
            CaseRow, CaseRow.id == AttachmentRow.case_id).order_by(
            AttachmentRow.case_id, AttachmentRow.series_id, AttachmentRow.sort_index,
            AttachmentRow.id)
        if case_ids is not None:
            q = q.where(AttachmentRow.case_id.in_(list(case_ids)))
        return [StoredAttachment(*row) for row in s.execute(q)]
