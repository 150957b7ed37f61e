"""Reading a rater package zip with bounded work, whatever its author wrote into it.

A package is hostile input. Before zipfile parses anything, the end-of-central-directory record
is read and the central directory is walked (bounded bytes, bounded entries), so a
150,000-member file is refused without building 150,000 objects. The manifest is read in
chunks and refused past ``MAX_MANIFEST_BYTES`` (a manifest padded with 1.5 GB of spaces costs
8 MB). Every member is streamed in chunks and refused as soon as it passes its declared size,
``MAX_MEMBER_BYTES``, the compression-ratio cap or the package's total cap: the sizes in the
zip and in the manifest are checked up front but never trusted while reading. Nothing here
writes a byte unless the caller asks to extract, and then only inside the destination.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from medreview.errors import PackageError

FORMAT = "medreview-package/2"
MANIFEST = "medreview-package.json"
ROOT = "project"

MAX_MANIFEST_BYTES = 8 << 20
MAX_MEMBERS = 100_000
MAX_CENTRAL_DIR_BYTES = 16 << 20
MAX_NAME_CHARS = 300
MAX_MEMBER_BYTES = 2 << 30
MAX_TOTAL_BYTES = 20 << 30
MAX_RATIO = 100  # uncompressed / compressed, for members past RATIO_FLOOR bytes
RATIO_FLOOR = 8 << 20
CHUNK = 1 << 20

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_EOCD = b"PK\x05\x06"
_CD_ENTRY = b"PK\x01\x02"


def _fail(reason: str, source: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=source, item=item)


def ratio_limit(compressed: int) -> int:
    """The most bytes a member of ``compressed`` bytes may expand to."""
    return max(RATIO_FLOOR, compressed * MAX_RATIO)


# --- the zip's own structure ---------------------------------------------------------------


def _central_directory(f: IO[bytes], size: int, src: str) -> bytes:
    """The central directory's bytes, located from the end records (zip64 too), capped."""
    tail_len = min(size, 22 + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(_EOCD)
    if pos < 0 or len(tail) - pos < 22:
        raise _fail("package is damaged or truncated (no zip directory)", src)
    _sig, _d, _dcd, _n1, _n_total, cd_size, cd_off, _clen = struct.unpack(
        "<4s4H2LH", tail[pos:pos + 22])
    end = size - tail_len + pos
    loc_at = end - 20
    f.seek(max(loc_at, 0))
    if loc_at >= 56 and f.read(4) == b"PK\x06\x07":  # zip64: sizes live in its own record
        f.seek(loc_at - 56)
        rec = f.read(56)
        if rec[:4] != b"PK\x06\x06":
            raise _fail("package is damaged or truncated (bad zip64 directory)", src)
        cd_size = struct.unpack("<Q", rec[40:48])[0]
        end = loc_at - 56
    elif cd_size == 0xFFFFFFFF or cd_off == 0xFFFFFFFF:
        raise _fail("package is damaged or truncated (bad zip64 directory)", src)
    if cd_size > MAX_CENTRAL_DIR_BYTES:
        raise _fail(f"too many files in package (directory of {cd_size} bytes; the limit is "
                    f"{MAX_CENTRAL_DIR_BYTES})", src)
    if cd_size > end:
        raise _fail("package is damaged or truncated (directory outside the file)", src)
    f.seek(end - cd_size)
    data = f.read(cd_size)
    if len(data) != cd_size:
        raise _fail("package is damaged or truncated", src)
    return data


def _count_entries(cd: bytes, src: str) -> int:
    """Walk the central directory; refuse past ``MAX_MEMBERS`` entries."""
    p = n = 0
    while p < len(cd):
        if cd[p:p + 4] != _CD_ENTRY or p + 46 > len(cd):
            raise _fail("package is damaged or truncated (bad zip directory entry)", src)
        name_len, extra_len, comment_len = struct.unpack("<3H", cd[p + 28:p + 34])
        p += 46 + name_len + extra_len + comment_len
        n += 1
        if n > MAX_MEMBERS:
            raise _fail(f"too many files in package (more than {MAX_MEMBERS})", src)
    return n


def safe_name(name: str, source: str) -> PurePosixPath:
    """A member name that stays inside the destination, or a PackageError."""
    if len(name) > MAX_NAME_CHARS:
        raise _fail("file name in package is too long", source, name[:60] + "…")
    if "\\" in name or "\x00" in name:
        raise _fail("unsafe path in package", source, name)
    p = PurePosixPath(name)
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts) or (
            ":" in p.parts[0]):
        raise _fail("unsafe path in package (would write outside the folder)", source, name)
    return p


# --- the manifest ----------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _need_str(m: dict[str, Any], key: str, src: str, *, pattern: re.Pattern[str] | None = None,
              limit: int = 500) -> str:
    v = m.get(key)
    if not isinstance(v, str) or not v or len(v) > limit or (
            pattern is not None and not pattern.fullmatch(v)):
        raise _fail(f"package manifest field {key!r} is missing or not valid", src, key)
    return v


def _all_hex(text: str) -> bool:
    """Only the digits 0-9a-f (bytes.translate deletes them in C: 5x a regex's speed)."""
    return text.isascii() and not text.encode("ascii").translate(None, b"0123456789abcdef")


def _outputs_well_formed(outputs: dict[Any, Any]) -> bool:
    """Every token 32 hex digits and every entry a mapping with a text_sha256 of 64, tested
    on all entries at once (C loops: a manifest lists up to 80,000). False sends the caller
    to the entry-by-entry test, which names the first bad one."""
    values = outputs.values()
    if set(map(type, outputs)) != {str} or set(map(type, values)) != {dict}:
        return False
    shas = [entry.get("text_sha256") for entry in values]
    if set(map(type, shas)) != {str} or set(map(len, outputs)) != {32} or (
            set(map(len, shas)) != {64}):
        return False
    return _all_hex("".join(outputs)) and _all_hex("".join(shas))


def check_manifest(m: Any, src: str) -> dict[str, Any]:
    """Types and shapes of every manifest field, each refusal one line naming the field."""
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        got = m.get("format") if isinstance(m, dict) else None
        hint = " (made by an older medreview: ask the lead for a new package)" if (
            got == "medreview-package/1") else ""
        raise _fail(f"unknown package format (expected {FORMAT}){hint}", src)
    for key in ("package_uid", "project_uid", "rater", "outputs", "files"):
        if key not in m:
            raise _fail(f"package manifest lacks {key!r}", src)
    _need_str(m, "package_uid", src, pattern=_HEX32)
    _need_str(m, "project_uid", src, limit=100)
    if m.get("stage", "outbound") not in ("outbound", "return"):
        raise _fail("package manifest field 'stage' is not 'outbound' or 'return'", src, "stage")
    rater = m["rater"]
    if not isinstance(rater, dict):
        raise _fail("package manifest field 'rater' is not an object", src, "rater")
    _need_str(rater, "name", src, limit=200)
    _need_str(rater, "kind", src, limit=20)
    outputs = m["outputs"]
    if not isinstance(outputs, dict):
        raise _fail("package manifest field 'outputs' is not a mapping", src, "outputs")
    if not _outputs_well_formed(outputs):  # the first bad entry, named
        for token, entry in outputs.items():
            if not _HEX32.fullmatch(token) or not isinstance(entry, dict) or not isinstance(
                    entry.get("text_sha256"), str) or not _HEX64.fullmatch(entry["text_sha256"]):
                raise _fail("package manifest output entry is not a token with a text_sha256",
                            src, f"outputs.{str(token)[:40]}")
    files = m["files"]
    if not isinstance(files, dict):
        raise _fail("package manifest 'files' is not a mapping", src, "files")
    for name, meta in files.items():
        where = f"files.{str(name)[:80]}"
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) or (
                not _HEX64.fullmatch(meta["sha256"])):
            raise _fail("manifest entry needs a sha256 of 64 hex digits", src, where)
        if not _is_int(meta.get("size")) or meta["size"] < 0:
            raise _fail(f"manifest entry size must be a whole number of bytes, not "
                        f"{str(meta.get('size'))[:40]!r}", src, where)
    if f"{ROOT}/project.sqlite" not in files:
        raise _fail("package has no project database", src)
    for key in ("seal", "seal_key"):
        _need_str(m, key, src, pattern=_HEX64)
    return m


# --- the reader ------------------------------------------------------------------------------


class PackageZip:
    """An open package zip whose structure and manifest passed the checks above."""

    def __init__(self, file: Path, z: zipfile.ZipFile, manifest: dict[str, Any],
                 infos: dict[str, zipfile.ZipInfo]) -> None:
        self.file = file
        self.source = str(file)
        self.zip = z
        self.manifest = manifest
        self.infos = infos
        self._total = 0

    def members(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from sorted(self.manifest["files"].items())

    def stream(self, name: str, sink: Callable[[bytes], object] | None = None) -> None:
        """Read one member in chunks (to ``sink`` if given), checking caps and its sha256."""
        meta = self.manifest["files"][name]
        info = self.infos[name]
        expected = int(meta["size"])
        cap = min(expected, MAX_MEMBER_BYTES, ratio_limit(info.compress_size))
        h = hashlib.sha256()
        size = 0
        try:
            with self.zip.open(info) as src:
                while chunk := src.read(CHUNK):
                    size += len(chunk)
                    self._total += len(chunk)
                    if size > cap:  # stops a bomb at its first excess chunk
                        raise _fail("file is larger than the manifest or the limits allow "
                                    "(tampered or a zip bomb)", self.source, name)
                    if self._total > MAX_TOTAL_BYTES:
                        raise _fail("package unpacks to more than the limit "
                                    f"({MAX_TOTAL_BYTES >> 30} GiB)", self.source)
                    h.update(chunk)
                    if sink is not None:
                        sink(chunk)
        except zipfile.BadZipFile as exc:
            raise _fail(f"package is damaged ({exc})", self.source, name) from exc
        except (EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise _fail(f"package file cannot be read ({exc})", self.source, name) from exc
        if size != expected or h.hexdigest() != meta["sha256"]:
            raise _fail("checksum mismatch: the package was altered or damaged", self.source,
                        name)

    def verify_all(self) -> None:
        for name, _meta in self.members():
            self.stream(name)

    def extract(self, name: str, target: Path) -> None:
        """Stream one member to ``target`` (removed again if the member is refused)."""
        try:
            with open(target, "wb") as out:
                self.stream(name, out.write)
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def _read_manifest_bytes(z: zipfile.ZipFile, info: zipfile.ZipInfo, src: str) -> bytes:
    if info.file_size > MAX_MANIFEST_BYTES:
        raise _fail(f"package manifest is larger than {MAX_MANIFEST_BYTES >> 20} MB", src)
    buf = bytearray()
    with z.open(info) as f:
        while chunk := f.read(CHUNK):
            buf += chunk
            if len(buf) > MAX_MANIFEST_BYTES:
                raise _fail(f"package manifest is larger than {MAX_MANIFEST_BYTES >> 20} MB",
                            src)
    return bytes(buf)


def _structure(z: zipfile.ZipFile, src: str) -> dict[str, zipfile.ZipInfo]:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _fail(f"too many files in package (more than {MAX_MEMBERS})", src)
    by_name: dict[str, zipfile.ZipInfo] = {}
    for i in infos:
        safe_name(i.filename, src)
        if stat.S_ISLNK((i.external_attr >> 16) & 0xFFFF):
            raise _fail("package contains a symbolic link", src, i.filename)
        if i.filename in by_name:
            raise _fail("package lists a file twice", src, i.filename)
        by_name[i.filename] = i
    if MANIFEST not in by_name:
        raise _fail("not a medreview rater package (no manifest)", src)
    return by_name


def _check_members(manifest: dict[str, Any], infos: dict[str, zipfile.ZipInfo], size: int,
                   src: str) -> None:
    files: dict[str, Any] = manifest["files"]
    listed, present = set(files), set(infos) - {MANIFEST}
    if present != listed:
        extra, missing = sorted(present - listed)[:3], sorted(listed - present)[:3]
        raise _fail(f"package contents do not match its manifest (unlisted {extra}, "
                    f"missing {missing})", src)
    total = 0
    for name, meta in files.items():
        if not name.startswith(f"{ROOT}/"):
            raise _fail("unexpected file in package", src, name)
        declared, info = int(meta["size"]), infos[name]
        if info.compress_size > size:
            raise _fail("package is damaged (a file claims more bytes than the package has)",
                        src, name)
        if declared > MAX_MEMBER_BYTES:
            raise _fail(f"file is larger than the limit ({MAX_MEMBER_BYTES >> 30} GiB)", src,
                        name)
        if declared > ratio_limit(info.compress_size):
            raise _fail(f"file would expand more than {MAX_RATIO} times (a zip bomb)", src,
                        name)
        total += declared
    if total > MAX_TOTAL_BYTES:
        raise _fail(f"package unpacks to more than the limit ({MAX_TOTAL_BYTES >> 30} GiB)",
                    src)


@contextmanager
def open_package_zip(file: Path) -> Iterator[PackageZip]:
    """Open and check ``file`` (structure, caps, manifest); yield a reader for its members."""
    file = Path(file)
    src = str(file)
    if not file.is_file():
        raise _fail("package file not found", src)
    with ExitStack() as stack:
        try:
            f = stack.enter_context(open(file, "rb"))
            size = f.seek(0, 2)
            _count_entries(_central_directory(f, size, src), src)
            z = stack.enter_context(zipfile.ZipFile(f))
            infos = _structure(z, src)
            raw = _read_manifest_bytes(z, infos[MANIFEST], src)
            try:
                manifest = check_manifest(json.loads(raw.decode("utf-8")), src)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise _fail(f"package manifest is not valid JSON ({str(exc)[:120]})",
                            src) from exc
            _check_members(manifest, infos, size, src)
        except zipfile.BadZipFile as exc:
            raise _fail(f"package is damaged or truncated ({exc})", src) from exc
        except (zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
                RuntimeError, struct.error) as exc:
            raise _fail(f"package cannot be read ({str(exc)[:120]})", src) from exc
        except OSError as exc:
            raise _fail(f"package cannot be read ({exc.strerror or exc})", src) from exc
        # Errors of the caller's own work (a full disk while extracting) pass through as is.
        yield PackageZip(file, z, manifest, infos)
