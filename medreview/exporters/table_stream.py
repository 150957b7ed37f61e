"""A table written a chunk of rows at a time, the same bytes as the whole frame's.

``tables.write_table`` builds one frame of every row (a million judgments: 8M rows, GBs). Here
rows come in chunks (tuples in the table's column order; ``ROWS`` each) and each chunk is
written as soon as it is built: CSV and JSONL appended, Parquet one row group per chunk.

The risk is pandas' inference, which sees one chunk instead of the whole column: ints beside
a ``None`` or a float elsewhere make the whole column float64 (``5`` written ``5.0``), a
datetime column's text format depends on every value's resolution, a column all ``None`` in
one chunk has no type there. So each chunk also yields its columns' *witnesses*: one value
per class pandas' inference tells apart (type; an int's range; a datetime's time zone,
resolution and whether it is midnight). Inference depends only on which classes occur, so a
chunk's witnesses rendered alone and rendered beside every chunk's witnesses show whether
the chunk came out as the whole frame would have. If any did not, the file is written again
(second pass over the rows) with each chunk's frame built beside the whole column's witnesses
and cut back: the whole frame's dtypes and formats. A project whose columns mix types that
way pays two passes; memory stays one chunk either way.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.errors import InputError
from medreview.exporters import table_formats

if TYPE_CHECKING:
    import pandas as pd

ROWS = 100_000  # rows per chunk (a Parquet row group): tests make it small
Rows = list[tuple[Any, ...]]
Witnesses = dict[tuple[Any, ...], Any]  # class -> one value of it
_I64 = (-(2 ** 63), 2 ** 63 - 1)


def _int_class(v: int) -> str:
    if v < _I64[0]:
        return "under"
    if v < 0:
        return "neg"
    if v <= _I64[1]:
        return "pos"
    return "u64" if v < 2 ** 64 else "over"


def witnesses(values: Sequence[Any]) -> Witnesses:
    """One value per class of ``values`` that pandas' inference tells apart."""
    out: Witnesses = {}
    types = set(map(type, values))
    for t in types:
        if t is int:
            ints = values if len(types) == 1 else [v for v in values if v.__class__ is int]
            lo, hi = min(ints), max(ints)  # the range decides int64, uint64 or objects
            out[(int, _int_class(lo))] = lo
            out[(int, _int_class(hi))] = hi
        elif t is dt.datetime:  # its zone, resolution and time of day: the first of each
            for v in values:
                if v.__class__ is dt.datetime:
                    out.setdefault((dt.datetime, v.tzinfo, v.microsecond % 1000 != 0,
                                    v.microsecond != 0, bool(v.hour or v.minute or v.second)),
                                   v)
        else:
            out[(t,)] = next(v for v in values if v.__class__ is t)
    return out


def _merge(into: Witnesses, more: Witnesses) -> None:
    for key, v in more.items():
        if key[0] is int and key in into:  # keep the extremes of each class
            into[key] = min(into[key], v) if key[1] in ("under", "neg") else max(into[key], v)
        else:
            into.setdefault(key, v)


class _Format:
    """How a chunk's frame becomes bytes: one format's writer, appending."""

    def __init__(self, fmt: str, path: Path) -> None:
        self.fmt, self.path = fmt, path
        self._tables: Any = table_formats
        self._started = False
        self._schema: Any = None

    def render(self, frame: pd.DataFrame) -> bytes:
        """The bytes this format writes for ``frame`` (header included), for comparisons."""
        t = self._tables
        if self.fmt == "csv":
            return str(t.csv_text(frame)).encode("utf-8")
        if self.fmt == "jsonl":
            return "".join(t.jsonl_lines(frame)).encode("utf-8")
        flat = t.parquet_frame(frame)
        return repr([(str(c), str(flat[c].dtype)) for c in flat.columns]).encode("utf-8")

    def append(self, frame: pd.DataFrame, object_encoding: Any = "infer") -> bool:
        """Write ``frame`` after what was written; False if a Parquet chunk's schema differs
        from the first chunk's (the file is then written again, as a whole)."""
        t = self._tables
        first = not self._started
        self._started = True
        if self.fmt == "csv":
            text = t.csv_text(frame)
            if not first:  # the header once
                text = text.split("\r\n", 1)[1] if "\r\n" in text else ""
            with open(self.path, "a" if not first else "w", encoding="utf-8", newline="") as f:
                f.write(text)
            return True
        if self.fmt == "jsonl":
            with open(self.path, "a" if not first else "w", encoding="utf-8") as f:
                f.writelines(t.jsonl_lines(frame))
            return True
        import fastparquet

        flat = t.parquet_frame(frame)
        schema = [(str(c), str(flat[c].dtype), _encoding(flat[c])) for c in flat.columns]
        if first:
            self._schema = schema
        elif schema != self._schema:
            return False
        fastparquet.write(str(self.path), flat, write_index=False, compression="SNAPPY",
                          append=not first, object_encoding=object_encoding)
        return True


def _encoding(col: pd.Series) -> Any:
    if col.dtype != object:
        return None
    from fastparquet.writer import infer_object_encoding

    try:
        return infer_object_encoding(col)
    except ValueError:
        return "mixed"


@dataclass(frozen=True)
class TableRows:
    """A table given as its rows a batch at a time (``tables.write_table`` writes it with
    ``write_chunks``): ``chunks()`` is called again for a second pass."""

    columns: Sequence[str]
    chunks: Callable[[], Iterable[Rows]]
    post: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    empty: Callable[[], pd.DataFrame] | None = None


def write_chunks(path: Path, fmt: str, columns: Sequence[str],
                 chunks: Callable[[], Iterable[Rows]],
                 post: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                 empty: Callable[[], pd.DataFrame] | None = None) -> Path:
    """Write the rows ``chunks()`` yields (called again for a second pass) as one table.

    Each chunk's frame is made from its tuples, as the whole table was, then ``post`` (what
    the whole table went through after it was made: it must change no dtype but by values
    alone, and see whole groups of rows); ``empty`` is the frame of a table without rows
    (default: the columns and no row). The file appears whole or not at all: written beside
    its name, flushed to disk and renamed."""
    if fmt not in table_formats.FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of "
                         f"{', '.join(table_formats.FORMATS)}")
    path = path.with_suffix(f".{fmt}")
    tmp = path.with_name(f".{path.name}.partial")
    make = _maker(post, fmt)
    chunks = _rechunked(chunks)
    try:
        whole: list[Witnesses] = [{} for _ in columns]
        if not _first_pass(tmp, fmt, columns, chunks, make, whole):
            _second_pass(tmp, fmt, columns, chunks, make, whole)
        if not tmp.exists():  # no row at all: the table of no rows, as before
            frame = empty() if empty else _frame([], columns)
            written = table_formats.write_frame(frame, tmp.with_name(f".{path.stem}.empty"), fmt)
            os.replace(written, tmp)
        _sync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _rechunked(chunks: Callable[[], Iterable[Rows]]) -> Callable[[], Iterator[Rows]]:
    """``chunks`` joined up to at least ``ROWS`` rows each (a batch is never split)."""

    def joined() -> Iterator[Rows]:
        out: Rows = []
        for rows in chunks():
            out += rows
            if len(out) >= ROWS:
                yield out
                out = []
        if out:
            yield out

    return joined


def _frame(rows: Rows, columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns))


Make = Callable[[Rows, Sequence[str], int], "pd.DataFrame"]


def _maker(post: Callable[[pd.DataFrame], pd.DataFrame] | None, fmt: str) -> Make:
    """A chunk's frame of its ``n`` rows (followed by witness rows, cut off before ``post``;
    in CSV, datetimes as the text of the whole column first)."""

    def make(rows: Rows, columns: Sequence[str], n: int) -> pd.DataFrame:
        frame = _frame(rows, columns)
        if len(rows) > n:
            if fmt == "csv":
                frame = _dates_as_text(frame)
            frame = frame.iloc[:n].reset_index(drop=True)
        return post(frame) if post else frame

    return make


def _first_pass(tmp: Path, fmt: str, columns: Sequence[str],
                chunks: Callable[[], Iterable[Rows]], make: Make,
                whole: list[Witnesses]) -> bool:
    """Each chunk written as it alone infers; True if every one came out as the whole
    frame would have (else nothing is to be kept)."""
    out = _Format(fmt, tmp)
    kinds: list[set[frozenset[tuple[Any, ...]]]] = [set() for _ in columns]
    seen: list[list[Witnesses]] = [[] for _ in columns]
    ok = True
    for rows in chunks():
        if not rows:
            continue
        for i, values in enumerate(zip(*rows, strict=True)):
            mine = witnesses(values)
            _merge(whole[i], mine)
            sig = frozenset((k, _int_class(v) if k[0] is int else None)
                            for k, v in mine.items())
            if sig not in kinds[i]:
                kinds[i].add(sig)
                seen[i].append(mine)
        if ok:
            ok = out.append(make(rows, columns, len(rows)))
    if not ok:
        return False
    for i, name in enumerate(columns):
        for mine in seen[i]:
            if not _same(out, name, mine, whole[i]):
                return False
    return True


def _same(out: _Format, name: str, mine: Witnesses, whole: Witnesses) -> bool:
    """Do ``mine`` render, alone, as they do among ``whole`` (one column)?"""
    own = [(v,) for v in mine.values()]
    rest = [(v,) for k, v in whole.items() if mine.get(k, _MISSING) is not v]
    alone = out.render(_frame(own, [name]))
    among = out.render(_frame(own + rest, [name]))
    if out.fmt == "parquet":
        return alone == among
    return among.startswith(alone)


_MISSING = object()


def _second_pass(tmp: Path, fmt: str, columns: Sequence[str],
                 chunks: Callable[[], Iterable[Rows]], make: Make,
                 whole: list[Witnesses]) -> None:
    """Each chunk's frame made beside the whole columns' witnesses, then cut back to the
    chunk: every column with the whole frame's dtype; a datetime column's text in the whole
    column's format (CSV formats it from the values it sees)."""
    tmp.unlink(missing_ok=True)
    out = _Format(fmt, tmp)
    extra = _witness_rows(whole)
    encoding: Any = "infer"
    if fmt == "parquet" and extra:
        flat = table_formats.parquet_frame(_frame(extra, columns))
        encoding = {str(c): e for c in flat.columns if (e := _encoding(flat[c])) is not None}
    for rows in chunks():
        if not rows:
            continue
        out.append(make(rows + extra, columns, len(rows)), encoding)


def _witness_rows(whole: list[Witnesses]) -> Rows:
    """Rows holding every column's witnesses (a short column repeats its first)."""
    cols = [list(w.values()) for w in whole]
    n = max((len(c) for c in cols), default=0)
    if n == 0:
        return []
    return [tuple(c[i] if i < len(c) else (c[0] if c else None) for c in cols)
            for i in range(n)]


def _dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as the text CSV gives the whole column (rows and witnesses)."""
    import pandas as pd

    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col].dtype):
            buf = io.StringIO()
            frame[[col]].to_csv(buf, index=False, header=False, lineterminator="\n")
            text = buf.getvalue().split("\n")[:len(frame)]
            # (a row of one empty cell is written "": NaT)
            frame = frame.assign(**{col: pd.Series([None if t in ("", '""') else t
                                                    for t in text], dtype=object,
                                                   index=frame.index)})
    return frame


def _sync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
