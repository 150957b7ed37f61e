"""How a table becomes CSV, JSONL or Parquet bytes (``exporters.tables`` writes whole frames
with these, ``exporters.table_stream`` a chunk at a time).

Nested values (message lists, tags, multi-choice and error answers) are JSON text in CSV and
Parquet, and native JSON in JSONL; CSV cells a spreadsheet would run as a formula get a
leading ``'`` (``csv_safe``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.errors import InputError
from medreview.exporters.csv_safe import safe_frame

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "jsonl", "parquet")
_NESTED = (list, dict, tuple, bool)  # written as JSON text in CSV and Parquet


def _json_cell(v: Any) -> Any:
    # json.dumps(v, ensure_ascii=False, default=str), without a new encoder per cell
    return _JSONL.encode(v) if isinstance(v, _NESTED) else v


def _json_cells(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_json_cell)
    return out


def write_frame(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write the frame ``df`` as ``path.<fmt>``, whole or not at all (a temporary name
    renamed)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = path.with_suffix(f".{fmt}")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(csv_text(df))
        elif fmt == "parquet":
            _write_parquet(parquet_frame(df), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(jsonl_lines(df))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def csv_text(df: pd.DataFrame) -> str:
    """The CSV of ``df``: nested values as JSON, spreadsheet-safe text, CRLF rows (RFC 4180:
    then a text holding a bare CR is quoted too, not split)."""
    return str(safe_frame(_json_cells(df)).to_csv(index=False, lineterminator="\r\n"))


def jsonl_lines(df: pd.DataFrame) -> list[str]:
    """One JSON line per row (NaN as null)."""
    encode = _JSONL.encode
    return [encode(_plain(rec)) + "\n" for rec in df.to_dict(orient="records")]


_JSONL = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps(..., default=str)'s


def parquet_frame(df: pd.DataFrame) -> pd.DataFrame:
    """What is written to Parquet: nested values as JSON text, and mixed object columns
    as text so that every reader can type them."""
    flat = _json_cells(df)
    for col in flat.columns:
        if flat[col].dtype == object:
            flat[col] = flat[col].map(lambda v: None if v is None else str(v))
    return flat


def _write_parquet(flat: pd.DataFrame, tmp: Path) -> None:
    """Parquet through fastparquet (13 MB in the app bundle where pyarrow took 80 MB); files read
    back identically in pyarrow, pandas, DuckDB and R arrow (tests/exporters read them with
    pyarrow). Snappy: the codec every Parquet reader has."""
    import fastparquet

    fastparquet.write(str(tmp), flat, write_index=False, compression="SNAPPY")


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in rec.items():
        if isinstance(v, float) and v != v:  # NaN is not JSON
            v = None
        out[k] = v
    return out
