"""Helpers shared by the importer tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    Located,
    OutputRecord,
    RatingRecord,
)

DATA = Path(__file__).parent / "data"


def by_type(located: Iterable[Located]) -> dict[str, list[Located]]:
    """Located records grouped by record class name (Case, Output, Rating, Attachment)."""
    groups: dict[str, list[Located]] = {"case": [], "output": [], "rating": [], "attachment": []}
    for loc in located:
        rec = loc.record
        if isinstance(rec, CaseRecord):
            groups["case"].append(loc)
        elif isinstance(rec, OutputRecord):
            groups["output"].append(loc)
        elif isinstance(rec, RatingRecord):
            groups["rating"].append(loc)
        elif isinstance(rec, AttachmentRecord):
            groups["attachment"].append(loc)
    return groups


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
