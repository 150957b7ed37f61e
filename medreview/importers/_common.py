"""Shared plumbing of the parsers: streaming readers, field checks, dedup and error helpers.

Every parser reads its file line by line (or member by member) through these helpers so that
line numbers, progress, cancellation and error messages behave the same for every format.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import (
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import closing, contextmanager
from contextvars import ContextVar
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar

from medreview.domain.jsontext import make_dumps
from medreview.domain.records import ContextDocument, Message
from medreview.errors import ImportFailed
from medreview.progress import CancelToken, Progress, no_progress

_T = TypeVar("_T")

# Progress is reported every this many lines: often enough for a bar, rare enough to be free.
PROGRESS_EVERY = 500

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


# json.dumps with these options builds a new encoder on every call (two thirds of its time on
# small values); one made once writes exactly the same text (domain.jsontext).
_CANONICAL = make_dumps(sort_keys=True, ensure_ascii=False, default=str)


def content_hash(value: object) -> str:
    """A stable digest of a JSON-able value (sorted keys), used to compare duplicates cheaply."""
    return hashlib.sha256(_CANONICAL(value).encode("utf-8")).hexdigest()


def canonical_json(value: object) -> str:
    """The text ``content_hash`` hashes: JSON with sorted keys (equal values, equal text)."""
    return _CANONICAL(value)


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


# --- Reading text safely --------------------------------------------------------------------
# Hostile files: a line or a record may not exceed MAX_LINE_CHARS (a clinical note in one cell is
# far below it; a 4 GB file without a newline must not be read into memory), a JSON document
# (not line-based) may not exceed MAX_DOCUMENT_BYTES, and JSON may nest at most MAX_NESTING deep
# (real records nest < 10 levels; deeper input would end in a RecursionError when hashed/stored).
MAX_LINE_CHARS = 32 * 1024 * 1024
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_NESTING = 100
_CHUNK = 1 << 20
_HEAD = 256  # bytes that decide a text file's encoding (byte-order mark, binary signature)


class SourceDigest:
    """The sha256 of the file being imported, taken from the very bytes its parser read.

    While ``digest_of_source(path)`` is active, the text readers below (``iter_text_lines``,
    ``read_text``) feed every byte they read of ``path`` to a hash as they read it; a read
    that reaches the end of the file leaves its digest in ``value``. So the import log's digest
    is that of the bytes the records came from: a file changed between hashing and parsing
    cannot happen, and the file is read once, not twice. Each new read of the path starts
    over (``value`` None until it reaches the end): the digest is that of the last read, the
    one a parser takes its records from, and None when it stopped early or the format reads
    the file some other way (archives, DICOM folders): the caller then hashes the file itself.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.value: str | None = None

    def start(self) -> Any:
        self.value = None
        return hashlib.sha256()


_SOURCE: ContextVar[SourceDigest | None] = ContextVar("medreview_source_digest", default=None)


@contextmanager
def digest_of_source(path: Path) -> Iterator[SourceDigest]:
    """Hash ``path`` in the readers' own pass while the block runs (see ``SourceDigest``).

    A context variable, so the parser's generators (run by whoever iterates them inside the
    block, in this thread) see it and nothing else does.
    """
    digest = SourceDigest(path)
    token = _SOURCE.set(digest)
    try:
        yield digest
    finally:
        _SOURCE.reset(token)


def _digest_for(path: Path) -> SourceDigest | None:
    digest = _SOURCE.get()
    return digest if digest is not None and digest.path == str(path) else None

# Signatures of binary files a user may rename by mistake (or an attacker on purpose).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or an inspect .eval log?)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.xls/.doc)"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def binary_kind(head: bytes) -> str | None:
    """What binary file ``head`` (the first bytes) starts, or None if nothing known."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "a DICOM file"
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when ``head`` is ASCII text spaced out with NUL bytes."""
    sample = head[: len(head) // 2 * 2][:128]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) == len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) == len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def text_encoding(path: Path, encoding: str | None = None) -> tuple[str, int]:
    """``(codec, bytes of byte-order mark)`` for reading ``path`` as text.

    A byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32); otherwise ``encoding`` (a name
    Python knows, e.g. ``cp1252``) or UTF-8. Binary files are refused here, by signature.
    """
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    return _encoding_of(head, path, encoding)


def _encoding_of(head: bytes, path: Path, encoding: str | None) -> tuple[str, int]:
    """``text_encoding`` of a file whose first bytes are ``head`` (its first ``_HEAD``)."""
    head = head[:_HEAD]
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    kind = binary_kind(head)
    if kind is not None:
        raise fail(f"this is {kind}, not a text file", path)
    if encoding is None:
        guess = _utf16_without_bom(head)
        if guess:
            raise fail(
                f"looks like {guess.upper()} text without a byte-order mark; "
                f"give the encoding with --encoding {guess}",
                path,
            )
        return "utf-8", 0
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise fail(f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)", path) from None
    if not getattr(info, "_is_text_encoding", True):  # hex, base64, rot13: not for files
        raise fail(f"{encoding!r} is not a text encoding (try utf-8, cp1252 or latin-1)", path)
    return info.name, 0


def _decode_failure(
    path: Path, codec: str, exc: UnicodeDecodeError, base: int, line: int
) -> ImportFailed:
    data = exc.object if isinstance(exc.object, bytes) else bytes(exc.object)
    before = data[: exc.start].decode(codec, errors="ignore")
    line += before.count("\n")
    bad = data[exc.start : min(exc.end, exc.start + 4)].hex(" ")
    hint = " (give the file's encoding with --encoding, e.g. cp1252)" if codec == "utf-8" else ""
    name = "UTF-8" if codec == "utf-8" else codec
    return fail(
        f"not valid {name}: {exc.reason} at byte offset {base + exc.start} (bytes {bad}){hint}",
        path,
        line,
    )


def _codec_failure(path: Path, codec: str, exc: UnicodeError, line: int) -> ImportFailed:
    hint = " (name the byte order: utf-16-le or utf-16-be)" if "BOM" in str(exc) else ""
    return fail(f"cannot be read as {codec}: {exc}{hint}", path, line)


def _nul_failure(path: Path, line: int) -> ImportFailed:
    return fail("contains a NUL character: a binary file, or text in another encoding", path, line)


def iter_text_lines(
    path: Path,
    encoding: str | None = None,
    *,
    progress: Progress | None = None,
    token: CancelToken | None = None,
    what: str = "Reading",
    max_line: int | None = None,
) -> Generator[tuple[int, str], None, None]:
    """Yield ``(line_number, line)`` of a text file, each line with its ``\n`` (if any).

    Decodes incrementally (one chunk in memory), so a bad byte is reported with its line and
    byte offset, a NUL character or a line longer than ``max_line`` characters is refused, and
    only ``\n`` ends a line (CSV cells may hold ``\r`` and other line separators).
    """
    limit = MAX_LINE_CHARS if max_line is None else max_line
    digest = _digest_for(path)
    lineno = 1
    pending: list[str] = []
    pending_len = 0
    # One open file for everything: the encoding is decided on the first chunk's head, and
    # (while an import hashes its source) the hash takes every byte as it is read.
    with path.open("rb") as fh:
        total = os.fstat(fh.fileno()).st_size
        first = fh.read(_CHUNK)
        codec, bom = _encoding_of(first, path, encoding)
        decoder = codecs.getincrementaldecoder(codec)("strict")
        hasher = digest.start() if digest is not None else None
        offset = bom
        chunk: bytes | None = first[bom:]
        while True:
            check_cancel(token)
            if chunk is None:
                chunk = fh.read(_CHUNK)
                if hasher is not None:
                    hasher.update(chunk)
            elif hasher is not None:
                hasher.update(first)
            final = not chunk
            state = decoder.getstate()[0]
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                raise _decode_failure(path, codec, exc, offset - len(state), lineno) from None
            except UnicodeError as exc:  # e.g. "UTF-16 stream does not start with BOM"
                raise _codec_failure(path, codec, exc, lineno) from None
            offset += len(chunk)
            nul = text.find("\x00")
            if nul >= 0:
                raise _nul_failure(path, lineno + text.count("\n", 0, nul))
            pieces = text.split("\n")
            tail = pieces.pop()  # the unfinished last line (empty after a final "\n")
            for i, piece in enumerate(pieces):
                if i == 0 and pending:
                    piece = "".join(pending) + piece
                    pending, pending_len = [], 0
                if len(piece) >= limit:
                    raise _long_line(path, lineno, limit)
                if token is not None:
                    token.raise_if_cancelled()
                yield lineno, piece + "\n"
                lineno += 1
                if progress is not None and lineno % PROGRESS_EVERY == 0:
                    progress(offset, total, f"{what} {path.name}: line {lineno}")
            if tail:
                pending.append(tail)
                pending_len += len(tail)
                if pending_len > limit:
                    raise _long_line(path, lineno, limit)
            if final:
                break
            chunk = None
    if digest is not None and hasher is not None:
        digest.value = hasher.hexdigest()  # the whole file was read
    if pending:
        yield lineno, "".join(pending)
    if progress is not None:
        progress(total, total, f"{what} {path.name}: done")


def _size(chars: int) -> str:
    mib = 1024 * 1024
    return f"{chars // mib} MiB" if chars >= mib else f"{chars} characters"


def _long_line(path: Path, line: int, limit: int) -> ImportFailed:
    return fail(
        f"line longer than {_size(limit)} (the limit for one line); "
        "is this really a line-based text file?",
        path,
        line,
    )


def read_text(path: Path, encoding: str | None = None, limit: int | None = None) -> str:
    """The whole text of a (JSON) document, refused if larger than ``limit`` bytes."""
    cap = MAX_DOCUMENT_BYTES if limit is None else limit
    digest = _digest_for(path)
    raw = b""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= cap:
            raw = fh.read(cap + 1)  # never more than the cap, even if the file grows meanwhile
            size = len(raw)
    if size > cap:
        raise fail(
            f"file of {size // (1024 * 1024)} MiB is larger than the {cap // (1024 * 1024)} MiB "
            "a JSON document may have; convert it to JSON Lines (one record per line)",
            path,
        )
    codec, bom = _encoding_of(raw, path, encoding)
    if digest is not None:  # the whole file, as read (see SourceDigest)
        hasher = digest.start()
        hasher.update(raw)
        digest.value = hasher.hexdigest()
    data = raw[bom:]
    try:
        text = codecs.decode(data, codec)
    except UnicodeDecodeError as exc:
        raise _decode_failure(path, codec, exc, bom, 1) from None
    except UnicodeError as exc:
        raise _codec_failure(path, codec, exc, 1) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise _nul_failure(path, 1 + text.count("\n", 0, nul))
    return text


def nesting_depth(value: object, limit: int = MAX_NESTING) -> int:
    """How deeply lists/objects nest in ``value``; iterative, so safe on any depth."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((c, depth + 1) for c in children)
    return deepest


class JsonTooDeep(ValueError):
    """JSON that nests deeper than ``MAX_NESTING``."""


_DECODER: Any = json.JSONDecoder()  # as json.loads's own: its C scanner, made once
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once
# json's own whitespace pattern (always matches, possibly empty).
_SPACE: Callable[[str, int], Any] = re.compile(
    r"[ \t\n\r]*", re.VERBOSE | re.MULTILINE | re.DOTALL).match


def _json_loads(text: str) -> Any:
    """``json.loads(text)`` of a ``str``: the same value and the same ``JSONDecodeError`` (message
    and position), without the three Python layers it passes through per call (a tenth of
    its time on a JSON Lines record)."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        value, end = _SCAN(text, _SPACE(text, 0).end())
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    end = _SPACE(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def loads_limited(text: str) -> Any:
    """``json.loads`` that refuses nesting deeper than ``MAX_NESTING`` (never a RecursionError).

    Raises ``json.JSONDecodeError`` for malformed JSON and ``JsonTooDeep`` for deep nesting.
    """
    try:
        value = _json_loads(text)
    except RecursionError:
        raise JsonTooDeep(f"JSON nests deeper than {MAX_NESTING} levels") from None
    # Counting brackets is C-fast; only text with enough of them can nest too deep.
    if text.count("[") + text.count("{") > MAX_NESTING and nesting_depth(value) > MAX_NESTING:
        raise JsonTooDeep(f"JSON nests deeper than {MAX_NESTING} levels")
    return value


def _load_line(path: Path, line: int, text: str) -> Any:
    try:
        return loads_limited(text)
    except json.JSONDecodeError as exc:
        raise fail(f"malformed JSON: {exc.msg} (column {exc.colno})", path, line) from None
    except JsonTooDeep as exc:
        raise fail(str(exc), path, line) from None


def iter_jsonl(
    path: Path,
    progress: Progress,
    token: CancelToken | None,
    what: str = "Reading",
    *,
    encoding: str | None = None,
) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """Yield ``(line_number, object)`` for each non-blank line; one line in memory at a time."""
    for lineno, text in iter_text_lines(
        path, encoding, progress=progress, token=token, what=what
    ):
        if not text or text.isspace():  # blank (isspace: no copy of a long line)
            continue
        obj = _load_line(path, lineno, text)
        if not isinstance(obj, dict):
            raise fail(f"expected a JSON object per line, got {type_name(obj)}", path, lineno)
        yield lineno, obj


_WS = " \t\n\r"


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def iter_json_document(
    path: Path,
    token: CancelToken | None = None,
    *,
    encoding: str | None = None,
) -> Generator[tuple[int, str | None, dict[str, Any]], None, None]:
    """Yield ``(line, key, record)`` of a JSON array of objects or an object of objects.

    Walks the top level itself (``raw_decode`` per element) so each record is reported with
    the line it starts on; ``key`` is the object key for a dict of records, else None.
    """
    text = read_text(path, encoding)
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if i >= len(text):
        raise fail("empty file: expected a JSON array or object of records", path, 1)
    opener = text[i]
    if opener not in "[{":
        raise fail("expected a JSON array or object of records", path, 1 + text.count("\n", 0, i))
    closer = "]" if opener == "[" else "}"
    i = _skip_ws(text, i + 1)
    lines_before = text.count("\n", 0, i)
    counted = i
    n = 0

    def line_at(pos: int) -> int:
        nonlocal lines_before, counted
        lines_before += text.count("\n", counted, pos)
        counted = pos
        return lines_before + 1

    def decode(pos: int) -> tuple[Any, int]:
        try:
            return decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise fail(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path, exc.lineno
            ) from None
        except RecursionError:
            raise fail(f"JSON nests deeper than {MAX_NESTING} levels", path, line_at(pos)) from None

    if i < len(text) and text[i] == closer:
        i = _skip_ws(text, i + 1)
    else:
        while True:
            check_cancel(token)
            line = line_at(i)
            key: str | None = None
            if opener == "{":
                key_value, i = decode(i)
                if not isinstance(key_value, str):
                    raise fail("malformed JSON: a key must be a string", path, line)
                key = key_value
                i = _skip_ws(text, i)
                if i >= len(text) or text[i] != ":":
                    raise fail("malformed JSON: expected ':' after a key", path, line_at(i))
                i = _skip_ws(text, i + 1)
                line = line_at(i)
            value, i = decode(i)
            n += 1
            where = f"record {key!r}" if key is not None else f"record {n}"
            if not isinstance(value, dict):
                raise fail(f"{where} must be a JSON object, got {type_name(value)}", path, line)
            if nesting_depth(value) > MAX_NESTING - 1:
                raise fail(f"{where}: JSON nests deeper than {MAX_NESTING} levels", path, line)
            yield line, key, value
            i = _skip_ws(text, i)
            if i < len(text) and text[i] == ",":
                i = _skip_ws(text, i + 1)
                continue
            if i < len(text) and text[i] == closer:
                i = _skip_ws(text, i + 1)
                break
            raise fail(f"malformed JSON: expected ',' or '{closer}'", path, line_at(i))
    if i < len(text):
        raise fail("malformed JSON: extra data after the records", path, line_at(i))


def is_json_document(path: Path) -> bool:
    """Whether ``path`` holds one JSON document (``.json``) rather than JSON Lines."""
    return path.suffix.lower() == ".json"


def read_records(
    path: Path,
    *,
    encoding: str | None = None,
    progress: Progress | None = None,
    token: CancelToken | None = None,
    what: str = "Reading",
) -> Generator[tuple[int, str | None, dict[str, Any]], None, None]:
    """``(line, key, record)`` from JSON Lines, a JSON array of records or a dict of records.

    A ``.json`` file is one document (array, or object whose values are the records, ``key``
    being the record's key); anything else is JSON Lines (``key`` None).
    """
    if is_json_document(path):
        yield from iter_json_document(path, token, encoding=encoding)
        return
    # iter_jsonl's loop, written out here: one generator per line fewer on the hot path.
    for lineno, text in iter_text_lines(
        path, encoding, progress=progress or no_progress, token=token, what=what
    ):
        if not text or text.isspace():
            continue
        try:
            obj = loads_limited(text)
        except json.JSONDecodeError as exc:
            raise fail(f"malformed JSON: {exc.msg} (column {exc.colno})", path, lineno) from None
        except JsonTooDeep as exc:
            raise fail(str(exc), path, lineno) from None
        if not isinstance(obj, dict):
            raise fail(f"expected a JSON object per line, got {type_name(obj)}", path, lineno)
        yield lineno, None, obj


def without_na(row: dict[str, Any], na: Collection[str]) -> dict[str, Any]:
    """``row`` without the fields whose value is a declared missing-value marker (``--na``)."""
    if not na:
        return row
    return {k: v for k, v in row.items() if not (isinstance(v, str) and v.strip() in na)}


def csv_delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def _csv_reader(lines: Iterable[tuple[int, str]], path: Path) -> Any:
    return csv.reader((text for _, text in lines), delimiter=csv_delimiter(path), strict=True)


def _csv_error(exc: csv.Error, path: Path, line: int) -> ImportFailed:
    text = str(exc)
    if "field larger than field limit" in text:
        return fail(
            f"a cell is longer than {_size(MAX_LINE_CHARS)} (the limit for one cell); "
            "an unclosed quote makes the rest of the file one cell",
            path,
            line,
        )
    return fail(f"malformed CSV: {text}", path, line)


def iter_csv(
    path: Path,
    progress: Progress,
    token: CancelToken | None,
    what: str = "Reading",
    *,
    encoding: str | None = None,
    na: Collection[str] = (),
) -> tuple[list[str], Generator[tuple[int, dict[str, str]], None, None]]:
    """Return the header and an iterator of ``(first_line_of_row, {column: cell})``.

    Line numbers are physical lines of the file (header = line 1), so a row whose quoted cell
    spans several lines is reported by the line it starts on. Blank rows are skipped (MEDEC's
    test CSV pads with them). Cells equal to a marker in ``na`` read as empty (missing). The
    header is read (and the file closed) at once; the rows iterator opens the file again only
    when iterated, so an error raised between the two leaves no file open. Consume it inside
    ``contextlib.closing`` for the same reason.
    """
    csv.field_size_limit(MAX_LINE_CHARS)
    with closing(iter_text_lines(path, encoding)) as lines:
        try:
            header = next(_csv_reader(lines, path))
        except StopIteration:
            raise fail("empty file: no header row", path, 1) from None
        except csv.Error as exc:
            raise _csv_error(exc, path, 1) from None
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise fail(f"column {name!r} appears twice in the header", path, 1)
        seen.add(name)
    return header, _csv_rows(path, header, progress, token, what, encoding, frozenset(na))


def _csv_rows(
    path: Path,
    header: list[str],
    progress: Progress,
    token: CancelToken | None,
    what: str,
    encoding: str | None,
    na: frozenset[str],
) -> Generator[tuple[int, dict[str, str]], None, None]:
    with closing(
        iter_text_lines(path, encoding, progress=progress, token=token, what=what)
    ) as lines:
        reader = _csv_reader(lines, path)
        next(reader)  # the header, already checked
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise _csv_error(exc, path, start) from None
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise fail(
                    f"row has {len(cells)} cells but the header has {len(header)} columns",
                    path,
                    line,
                )
            cells = cells + [""] * (len(header) - len(cells))
            if na:
                cells = ["" if c.strip() in na else c for c in cells]
            yield line, {h: c for h, c in zip(header, cells, strict=True) if h}


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
            return loads_limited(value)
        except (json.JSONDecodeError, JsonTooDeep):
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
    # map/filter: one C loop each, no generator per tag (this runs on every line of a file).
    if isinstance(value, str):
        return tuple(filter(None, map(str.strip, value.split(";"))))
    if isinstance(value, list) and all(map(isinstance, value, repeat(str))):
        return tuple(filter(None, map(str.strip, value)))
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
        self._seen: dict[str, tuple[str | bytes, int]] = {}

    def is_new(
        self, key: str, content: object, line: int, differs: str = "different content"
    ) -> bool:
        return self.is_new_digest(key, content_hash(content), line, differs)

    def is_new_digest(
        self, key: str, digest: str | bytes, line: int, differs: str = "different content"
    ) -> bool:
        """``is_new`` given the digest of the content (when a cheaper one is at hand: the
        same content must always give the same digest, different content a different one)."""
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


def quick_constructor(cls: type[_T]) -> Callable[..., _T]:
    """``cls(*values)`` for a frozen dataclass, every field given in order, made 2-3x faster.

    A frozen dataclass sets each field through ``object.__setattr__`` (a call per field); an
    importer makes two or three records per line, a tenth of its time. This fills the
    instance's ``__dict__`` in one step: the same object, ``==`` and ``hash`` alike. Falls back
    to ``cls`` itself if the class could do more in ``__init__`` (``__post_init__``, slots,
    fields outside ``__init__``).
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (
        hasattr(cls, "__post_init__")
        or "__slots__" in vars(cls)
        or any(not f.init for f in fields)
    ):
        return cls
    names = tuple(f.name for f in fields)
    new = object.__new__

    def make(*values: Any) -> _T:
        obj = new(cls)
        obj.__dict__.update(zip(names, values, strict=True))
        return obj

    return make
