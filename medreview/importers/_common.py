"""Shared plumbing of the parsers: streaming readers, field checks, dedup and error helpers.

Every parser reads its file line by line (or member by member) through these helpers so that
line numbers, progress, cancellation and error messages behave the same for every format.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from medreview.domain.records import ContextDocument, Message
from medreview.errors import ImportFailed
from medreview.progress import CancelToken, Progress

# Progress is reported every this many lines: often enough for a bar, rare enough to be free.
PROGRESS_EVERY = 500

# Clinical notes in one CSV cell can exceed the csv module's default 128 KiB field limit.
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


def fail(
    reason: str, path: str | Path, line: int | None = None, item: str | None = None
) -> ImportFailed:
    """Build the error every parser raises: file, line or record, item and reason."""
    return ImportFailed(reason, source=str(path), line=line, item=item)


def check_cancel(token: CancelToken | None) -> None:
    if token is not None:
        token.raise_if_cancelled()


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages a non-programmer can read."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def content_hash(value: object) -> str:
    """A stable digest of a JSON-able value (sorted keys), used to compare duplicates cheaply."""
    data = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def iter_jsonl(
    path: Path, progress: Progress, token: CancelToken | None, what: str = "Reading"
) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """Yield ``(line_number, object)`` for each non-blank line; one line in memory at a time.

    Reads bytes so that the byte offset gives an exact progress total, and decodes per line so
    that a bad byte is reported with its line.
    """
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            check_cancel(token)
            done += len(raw)
            if lineno % PROGRESS_EVERY == 0:
                progress(done, total, f"{what} {path.name}: line {lineno}")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # UTF-8 byte-order mark written by some spreadsheet tools
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise fail(
                    f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path, lineno
                ) from None
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise fail(
                    f"malformed JSON: {exc.msg} (column {exc.colno})", path, lineno
                ) from None
            if not isinstance(obj, dict):
                raise fail(f"expected a JSON object per line, got {type_name(obj)}", path, lineno)
            yield lineno, obj
    progress(total, total, f"{what} {path.name}: done")


def _decoded_lines(path: Path, fh: Any, counter: list[int]) -> Iterator[str]:
    for lineno, raw in enumerate(fh, start=1):
        counter[0] += len(raw)
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(
                f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path, lineno
            ) from None


def csv_delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def _csv_reader(path: Path, fh: Any, counter: list[int]) -> Any:
    return csv.reader(_decoded_lines(path, fh, counter), delimiter=csv_delimiter(path), strict=True)


def iter_csv(
    path: Path, progress: Progress, token: CancelToken | None, what: str = "Reading"
) -> tuple[list[str], Generator[tuple[int, dict[str, str]], None, None]]:
    """Return the header and an iterator of ``(first_line_of_row, {column: cell})``.

    Line numbers are physical lines of the file (header = line 1), so a row whose quoted cell
    spans several lines is reported by the line it starts on. Blank rows are skipped (MEDEC's
    test CSV pads with them). The header is read (and the file closed) at once; the rows
    iterator opens the file again only when iterated, so an error raised between the two
    leaves no file open. Consume it inside ``contextlib.closing`` for the same reason.
    """
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    with path.open("rb") as fh:
        try:
            header = next(_csv_reader(path, fh, [0]))
        except StopIteration:
            raise fail("empty file: no header row", path, 1) from None
        except csv.Error as exc:
            raise fail(f"malformed CSV: {exc}", path, 1) from None
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise fail(f"column {name!r} appears twice in the header", path, 1)
        seen.add(name)
    return header, _csv_rows(path, header, progress, token, what)


def _csv_rows(
    path: Path, header: list[str], progress: Progress, token: CancelToken | None, what: str
) -> Generator[tuple[int, dict[str, str]], None, None]:
    total = path.stat().st_size
    counter = [0]
    with path.open("rb") as fh:
        reader = _csv_reader(path, fh, counter)
        next(reader)  # the header, already checked
        start = reader.line_num + 1
        count = 0
        while True:
            check_cancel(token)
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise fail(f"malformed CSV: {exc}", path, start) from None
            line = start
            start = reader.line_num + 1
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(counter[0], total, f"{what} {path.name}: line {line}")
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise fail(
                    f"row has {len(cells)} cells but the header has {len(header)} columns",
                    path,
                    line,
                )
            cells = cells + [""] * (len(header) - len(cells))
            yield line, {h: c for h, c in zip(header, cells, strict=True) if h}
    progress(total, total, f"{what} {path.name}: done")


def pick(row: Mapping[str, Any], names: Sequence[str]) -> tuple[str | None, Any]:
    """The first of ``names`` present in ``row`` with a non-empty value: ``(name, value)``."""
    for name in names:
        if name in row:
            value = row[name]
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue
            return name, value
    return None, None


def as_id(value: Any, field: str, path: Path, line: int) -> str:
    """An identifier: a string or an integer (JSON ids are often numbers), never empty."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise fail(
            f"field {field!r} must be a string or integer, got {type_name(value)}", path, line
        )
    text = str(value).strip()
    if not text:
        raise fail(f"field {field!r} is empty", path, line)
    return text


def as_str(value: Any, field: str, path: Path, line: int, item: str | None = None) -> str:
    if not isinstance(value, str):
        raise fail(f"field {field!r} must be a string, got {type_name(value)}", path, line, item)
    return value


def as_number(value: Any, field: str, path: Path, line: int, item: str | None = None) -> float:
    """A JSON number (not a boolean), or a numeric string as found in CSV cells."""
    if isinstance(value, bool):
        raise fail(f"field {field!r} must be a number, got boolean", path, line, item)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise fail(f"field {field!r} must be a number, got {value!r}", path, line, item)


def maybe_json(value: Any) -> Any:
    """Decode a CSV cell that holds JSON (a list or object); leave anything else as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def content_text(content: Any) -> str:
    """Flatten chat content (a string or a list of typed parts) to plain text.

    Text parts are joined by blank lines; images and other media become a bracketed
    placeholder so a reader sees that something was there; reasoning parts are dropped
    (they are not part of the answer a physician grades).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type", "text")
                if kind == "text" and isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif kind in ("reasoning", "tool_use"):
                    continue
                else:
                    parts.append(f"[{kind}]")
        return "\n\n".join(parts)
    return str(content)


def parse_messages(
    value: Any, field: str, path: Path, line: int, item: str | None = None
) -> tuple[Message, ...]:
    """A list of ``{role, content}`` objects (content may be typed parts) → messages."""
    value = maybe_json(value)
    if not isinstance(value, list) or not value:
        raise fail(
            f"field {field!r} must be a non-empty list of {{role, content}} objects, "
            f"got {type_name(value)}",
            path,
            line,
            item,
        )
    out: list[Message] = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            raise fail(f"{field}[{i}] must be an object, got {type_name(msg)}", path, line, item)
        role = msg.get("role")
        if not isinstance(role, str) or not role:
            raise fail(f"{field}[{i}] has no 'role' string", path, line, item)
        content = msg.get("content")
        if not isinstance(content, str | list):
            raise fail(
                f"{field}[{i}].content must be a string or list of parts, got {type_name(content)}",
                path,
                line,
                item,
            )
        out.append(Message(role=role, content=content_text(content)))
    return tuple(out)


def parse_tags(value: Any, field: str, path: Path, line: int) -> tuple[str, ...]:
    """Tags as a list of strings or a ``;``-separated string (blank entries dropped)."""
    value = maybe_json(value)
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(";") if t.strip())
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return tuple(t.strip() for t in value if t.strip())
    raise fail(f"field {field!r} must be a list of strings or a ';'-separated string", path, line)


def parse_context(value: Any, field: str, path: Path, line: int) -> tuple[ContextDocument, ...]:
    """Context as a string (one note) or a list of strings / ``{title, text, kind}`` objects."""
    value = maybe_json(value)
    if isinstance(value, str):
        return (ContextDocument(title="Context", text=value),) if value.strip() else ()
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        docs: list[ContextDocument] = []
        for i, doc in enumerate(value, start=1):
            if isinstance(doc, str):
                docs.append(ContextDocument(title=f"Context {i}", text=doc))
            elif isinstance(doc, dict) and isinstance(doc.get("text"), str):
                docs.append(
                    ContextDocument(
                        title=str(doc.get("title") or f"Context {i}"),
                        text=doc["text"],
                        kind=str(doc.get("kind") or "note"),
                    )
                )
            else:
                raise fail(
                    f"{field}[{i - 1}] must be a string or an object with a 'text' string",
                    path,
                    line,
                )
        return tuple(docs)
    raise fail(
        f"field {field!r} must be a string or a list of documents, got {type_name(value)}",
        path,
        line,
    )


class Seen:
    """Dedup by key within one file: identical repeats are dropped, conflicting ones refused.

    Keeps only a digest and the first line per key, so a 50k-line file costs a few MB.
    """

    def __init__(self, path: Path, what: str) -> None:
        self._path = path
        self._what = what
        self._seen: dict[str, tuple[str, int]] = {}

    def is_new(
        self, key: str, content: object, line: int, differs: str = "different content"
    ) -> bool:
        digest = content_hash(content)
        prior = self._seen.get(key)
        if prior is None:
            self._seen[key] = (digest, line)
            return True
        if prior[0] != digest:
            raise fail(
                f"duplicate {self._what} id with {differs} than on line {prior[1]}",
                self._path,
                line,
                key,
            )
        return False
