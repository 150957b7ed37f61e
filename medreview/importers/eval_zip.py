"""Read the members of an inspect-ai ``.eval`` ZIP, bounded, whatever their compression.

Current inspect-ai writes every member zstd-compressed (ZIP method 93), which Python 3.11's
``zipfile`` cannot open; older logs use deflate. ``zipfile`` still reads the central directory
(names, offsets, CRCs); the member data is read here: stored/deflate through ``zipfile``,
zstd from the raw bytes after the local header, through ``zstandard``'s streaming decoder
(reading across frames: inspect splits large members into several frames).

Nothing trusts the declared sizes: data is decompressed in chunks and refused as soon as a
member passes ``MAX_MEMBER_BYTES`` or the archive passes ``MAX_TOTAL_BYTES``, so a zip bomb
costs at most one member's bound in memory. A member whose CRC-32 does not match (truncated or
corrupt) is refused. Every refusal is an ``ImportFailed`` naming the file and the member.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

import zstandard

from medreview.errors import ImportFailed

ZIP_ZSTANDARD = 93
# One sample (with its events and image data URIs) fits in this; a bigger member is refused.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
# Everything read from one archive (every pass over it counts again).
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
_CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_SUPPORTED = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
              ZIP_ZSTANDARD: "zstd"}


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Slice:
    """At most ``length`` bytes of ``fh`` from its current position (the raw member data)."""

    def __init__(self, fh: BinaryIO, length: int) -> None:
        self._fh = fh
        self._left = length

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data


class EvalZip:
    """An open ``.eval`` archive: ``names()`` and bounded ``read(name)``; use as a context."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._total = 0
        try:
            self._zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise self._fail(f"not a readable ZIP archive ({exc})") from None
        # A member appended again (inspect rewrites header.json in place) supersedes the
        # earlier copy, as in zipfile's own name lookup: the last entry wins.
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in self._zf.infolist():
            self._infos[info.filename] = info
        self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._size = path.stat().st_size

    def __enter__(self) -> EvalZip:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zf.close()
        self._fh.close()

    def names(self) -> list[str]:
        return list(self._infos)

    def _fail(self, reason: str, member: str | None = None) -> ImportFailed:
        return ImportFailed(reason, source=str(self.path), item=member)

    def read(self, name: str) -> bytes:
        """The member's bytes, decompressed and checked; ``ImportFailed`` if anything is off."""
        info = self._infos.get(name)
        if info is None:
            raise self._fail("member missing from the archive", name)
        if info.flag_bits & 0x1:
            raise self._fail("member is encrypted", name)
        method = info.compress_type
        if method not in _SUPPORTED:
            raise self._fail(
                f"unsupported ZIP compression method {method} (this reader knows "
                + ", ".join(f"{k} {v}" for k, v in sorted(_SUPPORTED.items()))
                + ")",
                name,
            )
        limit = min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - self._total)
        try:
            if method == ZIP_ZSTANDARD:
                data = self._read_zstd(info, limit)
            else:
                with self._zf.open(info) as fh:
                    data = self._drain(fh, info, limit)
        except ImportFailed:
            raise
        except zstandard.ZstdError as exc:
            raise self._fail(f"corrupt zstd data ({exc})", name) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise self._fail(f"corrupt or truncated member ({exc})", name) from None
        self._total += len(data)
        return data

    def _read_zstd(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        name = info.filename
        if info.header_offset + _LOCAL_HEADER.size > self._size:
            raise self._fail("truncated archive: member header past the end of the file", name)
        self._fh.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(self._fh.read(_LOCAL_HEADER.size))
        if fields[0] != _LOCAL_SIGNATURE:
            raise self._fail("bad local header signature", name)
        name_len, extra_len = fields[-2], fields[-1]
        start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if start + info.compress_size > self._size:
            raise self._fail("truncated archive: member data past the end of the file", name)
        self._fh.seek(start)
        raw = _Slice(self._fh, info.compress_size)
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], raw), read_size=_CHUNK, read_across_frames=True, closefd=False
        )
        with reader:
            return self._drain(reader, info, limit)

    def _drain(self, fh: _Readable, info: zipfile.ZipInfo, limit: int) -> bytes:
        out = bytearray()
        crc = 0
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            out += chunk
            if len(out) > limit:
                which = "member" if limit == MAX_MEMBER_BYTES else "archive"
                bound = MAX_MEMBER_BYTES if which == "member" else MAX_TOTAL_BYTES
                raise self._fail(
                    f"{which} decompresses to more than {bound // (1024 * 1024)} MiB; refused "
                    "(a log this large, or a zip bomb)",
                    info.filename,
                )
            crc = zlib.crc32(chunk, crc)
        if crc != info.CRC:
            raise self._fail("CRC mismatch: member is corrupt or truncated", info.filename)
        return bytes(out)
