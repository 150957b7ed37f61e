"""A rater package's revision row as the package holds it: one shape for the merge's reader
(``storage.merging``) and the two-core merge's worker (``study.merge_worker``, which imports
no storage)."""

from __future__ import annotations

from typing import Any, NamedTuple


class PackageRevision(NamedTuple):
    """A revision row as the package holds it; values unchecked (``study.merge`` checks).

    A named tuple, not a dataclass: made from a million rows, it is built five times faster."""

    uid: str
    judgment_id: int
    revision_no: int
    form_id: int
    taxonomy_id: int | None
    answers: Any
    annotations: Any
    rationale: Any
    confidence: Any
    overall_score: Any
    time_on_task_s: Any
    flagged: Any
    skipped: Any
    status: Any
    author: Any
    created_at: Any
    guideline_version: Any = None  # the guidelines version the rater had (schema 0006)
    source: Any = ""  # "retest" for a blind re-rating (storage/retests.py); else how it was made
