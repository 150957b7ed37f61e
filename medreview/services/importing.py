"""Import use-case: parse a file with the right importer and ingest it in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreview.importers.detect import FORMATS
from medreview.progress import CancelToken, Progress, no_progress
from medreview.storage.ingest import ImportSummary, ingest
from medreview.storage.media import sha256_file
from medreview.storage.project import Project

__all__ = ["FORMATS", "import_file"]


def import_file(
    project: Project,
    path: Path,
    *,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> tuple[str, ImportSummary]:
    """Import one file or folder; returns the format used and what was added or skipped.

    ``options`` go to the parser: ``model`` (HealthBench completions), ``manifest`` (media
    folders), ``model_columns`` (wide CSV), ``rater_kind`` (prior ratings).
    """
    from medreview.importers.detect import detect_format, parse_file

    fmt = fmt or detect_format(path)
    digest = sha256_file(path) if path.is_file() else ""
    kwargs: dict[str, Any] = {"fmt": fmt, "progress": progress, "token": token}
    if mapping:
        kwargs["mapping"] = mapping
    kwargs.update({k: v for k, v in (options or {}).items() if v is not None})
    records = parse_file(path, **kwargs)
    summary = ingest(
        project,
        records,
        source=str(path),
        importer=fmt,
        source_sha256=digest,
        progress=progress,
        token=token,
    )
    return fmt, summary
