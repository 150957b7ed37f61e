"""Frozen views of project data handed to the screens and the command line.

The values read from a project are defined beside the queries that fill them
(``storage/read_models.py``) and re-exported here: screens import them from services only.
"""

from __future__ import annotations

from dataclasses import dataclass

from medreview.domain.changes import Changes
from medreview.storage.read_models import (
    AttachmentView,
    CaseView,
    ItemView,
    ProjectInfo,
    QueueRow,
    RaterView,
    RevisionView,
    SeriesView,
)

__all__ = [
    "AttachmentView",
    "CaseView",
    "ItemView",
    "ProjectInfo",
    "QueueRow",
    "RaterView",
    "RevisionView",
    "SaveResult",
    "SeriesView",
]


@dataclass(frozen=True)
class SaveResult:
    revision_no: int | None  # None: nothing changed, nothing written
    status: str
    changes: Changes
