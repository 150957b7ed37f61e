"""Import use-case: parse a file with the right importer and ingest it in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medreview.errors import ImportFailed, MedreviewError
from medreview.importers._common import SourceDigest, digest_of_source
from medreview.importers.detect import FORMATS
from medreview.progress import Cancelled, CancelToken, Progress, no_progress
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

    See ``_import_file``. Every refusal of bad input is an ``ImportFailed`` already; an
    unexpected exception (a bug) still becomes one ``ImportFailed`` naming the file, so the CLI
    and the app show one line, never a traceback, and the fuzz test can tell the two apart.
    """
    try:
        return _import_file(
            project, path, fmt=fmt, mapping=mapping, options=options, progress=progress,
            token=token,
        )
    except (MedreviewError, OSError, Cancelled):
        raise
    except (RecursionError, MemoryError) as exc:
        raise ImportFailed(
            "unexpected error while importing: the file is nested too deeply or too large "
            f"to read ({type(exc).__name__})",
            source=str(path),
        ) from None
    except Exception as exc:  # the one place a bug must not become a traceback
        first = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise ImportFailed(
            f"unexpected error while importing (a bug; please report it): {first}",
            source=str(path),
        ) from exc


def _import_file(
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

    ``options`` go to the parser: ``model`` (HealthBench completions, or the model of
    tabular files and ratings without one), ``manifest`` (media folders), ``model_columns``
    (wide CSV), ``rater_kind`` and ``rater`` (prior ratings), ``encoding`` (text files that are
    not UTF-8 and have no byte-order mark), ``na`` (cell values that mean "missing").
    Ratings are checked against the project's active rubric before anything is written.
    """
    from medreview.importers.detect import detect_format

    started = dt.datetime.now(dt.UTC)  # escalation looks at the items rated from here on
    fmt = fmt or detect_format(path, (options or {}).get("encoding"))
    with digest_of_source(path) as digest:
        return _parse_and_ingest(
            project, path, fmt, mapping, options, progress, token, started,
            lambda: _source_sha256(path, digest),
        )


def _source_sha256(path: Path, digest: SourceDigest) -> str:
    """The import log's digest of ``path``: taken by the parser's own reads of the file (the
    text formats; see ``importers._common.SourceDigest``), else by hashing it now (archives,
    inspect logs); a folder has none."""
    if digest.value is not None:
        return digest.value
    return sha256_file(path) if path.is_file() else ""


def _parse_and_ingest(
    project: Project,
    path: Path,
    fmt: str,
    mapping: dict[str, str] | None,
    options: dict[str, Any] | None,
    progress: Progress,
    token: CancelToken | None,
    started: dt.datetime,
    source_sha256: Callable[[], str],
) -> tuple[str, ImportSummary]:
    from medreview.importers.detect import BUILTIN_RUBRIC, parse_file
    from medreview.services.builtin_rubric import checked, ensure_rubric
    from medreview.services.rating_form import rating_form

    kwargs: dict[str, Any] = {"fmt": fmt, "progress": progress, "token": token}
    if mapping:
        kwargs["mapping"] = mapping
    kwargs.update({k: v for k, v in (options or {}).items() if v is not None})
    if fmt in ("ratings-csv", "ratings-jsonl"):
        kwargs["form"] = rating_form(project, str(path))
    records = parse_file(path, **kwargs)
    undo = None
    if fmt in BUILTIN_RUBRIC:
        form, undo = ensure_rubric(project, BUILTIN_RUBRIC[fmt], str(path))
        records = checked(records, form)
    elif fmt == "inspect-eval":  # scorer results need questions, created from the log
        from medreview.services.inspect_form import ensure_scorer_questions, onto_stored_outputs

        undo = ensure_scorer_questions(project, path, token)
        records = onto_stored_outputs(project, records)
    try:
        summary = ingest(
            project,
            records,
            source=str(path),
            importer=fmt,
            source_sha256=source_sha256,
            progress=progress,
            token=token,
        )
    except BaseException:
        if undo is not None:
            undo()
        raise
    if undo is not None:
        if summary.added:
            summary.added["rubrics"] += 1
        else:
            undo()  # a file of blank rows adds nothing, not even the rubric
    if summary.added.get("ratings"):  # finished imported ratings may meet an escalation rule
        from medreview.services.escalation import after_ratings

        after_ratings(project, since=started)
    return fmt, summary
