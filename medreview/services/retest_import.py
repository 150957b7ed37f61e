"""``medreview import PROJECT ratings.csv --retest``: a ratings file whose rows are blind
re-ratings, kept as retest revisions (only the test-retest statistics read them).

The file is read and checked exactly as a ratings import (the same parser, columns, mapping
and rubric checks); then every row must name a physician who finished that output before. A
bad row refuses the whole file, naming file, line and reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.domain.records import RatingRecord
from medreview.errors import ImportFailed

if TYPE_CHECKING:
    from medreview.storage.project import Project

RATINGS_FORMATS = ("ratings-csv", "ratings-jsonl")
MAX_ROWS = 200_000  # rows held before the one write transaction (a study's retests, not more)


def import_retest_file(project: Project, path: Path, *, fmt: str | None = None,
                       mapping: dict[str, str] | None = None,
                       options: dict[str, Any] | None = None) -> tuple[str, int, int]:
    """(format, retests added, retests already there)."""
    from medreview.importers.detect import detect_format, parse_file
    from medreview.services.rating_form import rating_form
    from medreview.storage.retests import RetestRow, import_retests, parse_time
    from medreview.storage.revisions import RevisionContent

    fmt = fmt or detect_format(path, (options or {}).get("encoding"))
    if fmt not in RATINGS_FORMATS:
        raise ImportFailed(f"--retest takes a ratings file (ratings-csv or ratings-jsonl), "
                           f"not {fmt}", source=str(path))
    kwargs: dict[str, Any] = {"fmt": fmt, "form": rating_form(project, str(path))}
    if mapping:
        kwargs["mapping"] = mapping
    kwargs.update({k: v for k, v in (options or {}).items() if v is not None})
    rows: list[RetestRow] = []
    for located in parse_file(path, **kwargs):
        rec = located.record
        if not isinstance(rec, RatingRecord):
            continue
        if rec.rater_kind != "physician":
            raise ImportFailed("a retest is a physician's re-rating, not a judge's",
                               source=located.source, line=located.line, item=rec.rater)
        if len(rows) >= MAX_ROWS:
            raise ImportFailed(f"more than {MAX_ROWS} retests in one file",
                               source=located.source, line=located.line)
        rows.append(RetestRow(
            located.source, located.line, rec.rater, rec.case_external_id, rec.model,
            rec.output_external_id,
            RevisionContent(answers=dict(rec.answers), annotations=[dict(e) for e in rec.errors],
                            rationale=rec.rationale, confidence=rec.confidence, status="done"),
            parse_time(rec.created_at, located.source, located.line)))
    added, skipped = import_retests(project, rows)
    return fmt, added, skipped
