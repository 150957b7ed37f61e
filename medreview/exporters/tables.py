"""Export every project table as CSV, JSONL or Parquet.

Nested values (message lists, tags, multi-choice and error answers) are JSON text in CSV and
Parquet, and native JSON in JSONL, so nothing is lost in any format. CSV cells that a
spreadsheet would run as a formula get a leading ``'`` (``csv_safe``). Files are written to a
temporary name and renamed, so an interrupted export never leaves a half file under the real name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.errors import InputError
from medreview.exporters.csv_safe import safe_frame
from medreview.exporters.not_assessed import label_judgments
from medreview.progress import Progress, no_progress
from medreview.storage import exports, tables
from medreview.storage.project import Project

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "jsonl", "parquet")
_NESTED = (list, dict, tuple, bool)  # written as JSON text in CSV and Parquet


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


def _json_cells(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: (
                    json.dumps(v, ensure_ascii=False, default=str)
                    if isinstance(v, _NESTED)
                    else v
                )
            )
    return out


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = path.with_suffix(f".{fmt}")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if fmt == "csv":
            # CRLF rows (RFC 4180): then a text holding a bare CR is quoted too, not split
            safe_frame(_json_cells(df)).to_csv(tmp, index=False, lineterminator="\r\n")
        elif fmt == "parquet":
            _write_parquet(_json_cells(df), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for rec in df.to_dict(orient="records"):
                    f.write(json.dumps(_plain(rec), ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_parquet(flat: pd.DataFrame, tmp: Path) -> None:
    """Parquet through fastparquet (13 MB in the app bundle where pyarrow took 80 MB); files read
    back identically in pyarrow, pandas, DuckDB and R arrow (tests/exporters read them with
    pyarrow). Snappy: the codec every Parquet reader has."""
    import fastparquet

    flat = flat.copy()
    for col in flat.columns:  # mixed object columns become text so every reader can type them
        if flat[col].dtype == object:
            flat[col] = flat[col].map(lambda v: None if v is None else str(v))
    fastparquet.write(str(tmp), flat, write_index=False, compression="SNAPPY")


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in rec.items():
        if isinstance(v, float) and v != v:  # NaN is not JSON
            v = None
        out[k] = v
    return out


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
    # storage.tables' frames, read as rows (storage.exports): the same frames, faster
    makers: list[tuple[str, Callable[[], pd.DataFrame]]] = [
        ("cases", lambda: exports.cases_frame(project)),
        ("criteria", lambda: exports.criteria_frame(project)),
        ("outputs", lambda: exports.outputs_frame(project)),
        ("attachments", lambda: deidentified_attachments(tables.attachments_table(project))),
        ("judgments", lambda: judgments_flat(project, pseudonymise=pseudonymise)),
        ("gold_labels", lambda: exports.gold_frame(project)),
    ]
    written = []
    for i, (name, make) in enumerate(makers):
        progress(i, len(makers), name)
        written.append(write_table(make(), outdir / name, fmt))
    progress(len(makers), len(makers), "done")
    return written
