"""Export every project table as CSV, JSONL or Parquet.

Nested values (message lists, tags, multi-choice and error answers) are JSON text in CSV and
Parquet, and native JSON in JSONL, so nothing is lost in any format. CSV cells that a
spreadsheet would run as a formula get a leading ``'`` (``csv_safe``). Files are written to a
temporary name and renamed, so an interrupted export never leaves a half file under the real name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from medreview.exporters import table_stream
from medreview.exporters.not_assessed import label_judgments
from medreview.exporters.table_formats import (  # noqa: F401  # (callers import them here)
    FORMATS,
    csv_text,
    jsonl_lines,
    parquet_frame,
    write_frame,
)
from medreview.progress import Progress, no_progress
from medreview.storage import exports, tables
from medreview.storage.project import Project

TableRows = table_stream.TableRows

if TYPE_CHECKING:
    import pandas as pd



def judgments_flat(
    project: Project, *, pseudonymise: bool = True, include_drafts: bool = False
) -> pd.DataFrame:
    """One row per output x question x rater, from each judgment's newest revision; "not
    applicable" and "cannot assess" written in words (``exporters.not_assessed``)."""
    import pandas as pd

    df = tables.ratings_long(project, pseudonymise=pseudonymise, include_drafts=include_drafts,
                             keep_not_assessed=True)
    # Its text columns come as categoricals (memory); exported (and CSV-escaped) as text.
    text = pd.StringDtype(na_value=float("nan"))
    return label_judgments(df.astype({c: text for c in df.columns
                                      if isinstance(df[c].dtype, pd.CategoricalDtype)}))


def write_table(df: pd.DataFrame | TableRows, path: Path, fmt: str) -> Path:
    """Write ``df`` (a frame, or rows a chunk at a time: ``table_stream``) as ``path.<fmt>``,
    whole or not at all."""
    if isinstance(df, TableRows):
        return table_stream.write_chunks(path, fmt, df.columns, df.chunks, df.post, df.empty)
    return write_frame(df, path, fmt)


def deidentified_attachments(df: pd.DataFrame) -> pd.DataFrame:
    """Attachments without what identifies a patient outside the project.

    Original file names often hold a patient's name or MRN, and DICOM UIDs link back to the
    hospital's archive: the file name becomes ``attachment-<id>.<ext>`` and each Series
    Instance UID a pseudonym (``series-001``, numbered in order of appearance in this export).
    Study and SOP Instance UIDs are not exported at all.
    """
    out = df.copy()
    if "filename" in out.columns:
        out["filename"] = [
            f"attachment-{aid}{_safe_suffix(name)}"
            for aid, name in zip(out["attachment_id"], out["filename"], strict=True)
        ]
    for col, prefix in (("study_uid", "study"), ("series_uid", "series"), ("sop_uid", "instance")):
        if col in out.columns:
            codes: dict[str, str] = {}
            out[col] = [
                None if v is None or v != v or v == ""
                else codes.setdefault(str(v), f"{prefix}-{len(codes) + 1:03d}")
                for v in out[col]
            ]
    return out


def _safe_suffix(name: object) -> str:
    suffix = Path(str(name or "")).suffix.lower()
    return suffix if 1 < len(suffix) <= 8 and suffix[1:].isalnum() else ""


def export_tables(
    project: Project,
    outdir: Path,
    fmt: str = "csv",
    *,
    pseudonymise: bool = True,
    progress: Progress = no_progress,
) -> list[Path]:
    """Write cases, criteria, outputs, attachments, judgments and gold labels; return the paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    # storage.tables' frames, their rows read a batch at a time (storage.exports) and each
    # chunk written as it comes (exporters.table_stream): the same files, one chunk in memory
    makers: list[tuple[str, Callable[[], pd.DataFrame | TableRows]]] = [
        ("cases", lambda: TableRows(exports.CASE_COLUMNS,
                                    lambda: exports.case_batches(project))),
        ("criteria", lambda: TableRows(exports.CRITERION_COLUMNS,
                                       lambda: exports.criteria_batches(project))),
        ("outputs", lambda: TableRows(exports.OUTPUT_COLUMNS,
                                      lambda: exports.output_batches(project))),
        ("attachments", lambda: deidentified_attachments(tables.attachments_table(project))),
        ("judgments", lambda: TableRows(
            exports.JUDGMENT_COLUMNS,
            lambda: exports.judgment_batches(project, pseudonymise=pseudonymise,
                                             rows=table_stream.ROWS),
            post=label_judgments)),
        ("gold_labels", lambda: TableRows(exports.GOLD_COLUMNS,
                                          lambda: exports.gold_batches(project))),
    ]
    written = []
    for i, (name, make) in enumerate(makers):
        progress(i, len(makers), name)
        written.append(write_table(make(), outdir / name, fmt))
    progress(len(makers), len(makers), "done")
    return written
