"""Media of a PostgreSQL project, stored in the database (tables ``media_blob``/``media_chunk``).

The same interface as the folder store (``storage/media.Media``): blobs are named by sha256,
deduplicated, streamed in and out in 1 MiB chunks (a large DICOM file is never held whole in
memory) and verified on every read against the name and the recorded size. A blob is written
in one transaction with all of its chunks, so one that exists is whole; two writers adding the
same file meet on the primary key and one of them simply finds it there.

Viewers and exporters need files, so a read streams the blob into a per-user cache folder (a
temporary name renamed into place once verified), kept under a size budget by removing the
least recently used copies (``storage/media_cache``). Media writes are content-addressed and take
no project write lock (``MEDIA_OPTION``): an import holding that lock adds its files through
another connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medreview.errors import InputError, ProjectError
from medreview.storage.engine import MEDIA_OPTION, reading
from medreview.storage.media_cache import MediaCache
from medreview.storage.models import MediaBlobRow, MediaChunkRow

CHUNK = 1 << 20


class DatabaseMediaStore:
    def __init__(self, engine: Engine, cache: Path, *, location: str = "",
                 cache_budget: int | None = None) -> None:
        self._write = engine.execution_options(**{MEDIA_OPTION: True})
        self._read = reading(engine)
        self.cache = cache
        self._budget = MediaCache(cache, cache_budget)  # least recently used copies go first
        self.location = location

    # --- reading ---

    def has(self, sha256: str) -> bool:
        with self._read.connect() as conn:
            return conn.execute(select(MediaBlobRow.sha256)
                                .where(MediaBlobRow.sha256 == sha256)).first() is not None

    def digests(self) -> list[str]:
        with self._read.connect() as conn:
            return list(conn.execute(select(MediaBlobRow.sha256)
                                     .order_by(MediaBlobRow.sha256)).scalars())

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in order, checked against its name and recorded size as they come;
        a missing, short or altered blob raises after the last chunk, before it can be used."""
        where = f"{self.location} media {sha256[:12]}…"
        with self._read.connect() as conn:
            meta = conn.execute(select(MediaBlobRow.size, MediaBlobRow.chunks)
                                .where(MediaBlobRow.sha256 == sha256)).first()
            if meta is None:
                raise ProjectError("media file is missing from the project", source=where)
            h = hashlib.sha256()
            size = count = 0
            rows = conn.execution_options(stream_results=True, yield_per=4).execute(
                select(MediaChunkRow.data).where(MediaChunkRow.sha256 == sha256)
                .order_by(MediaChunkRow.seq))
            for (data,) in rows:
                data = bytes(data)
                h.update(data)
                size += len(data)
                count += 1
                yield data
            if h.hexdigest() != sha256 or size != meta.size or count != meta.chunks:
                raise ProjectError(
                    f"media file is damaged in the database (sha256 {h.hexdigest()[:12]}…, "
                    f"{size} bytes in {count} chunks; expected {meta.size} in {meta.chunks})",
                    source=where)

    def verify(self, sha256: str) -> int:
        """Read the whole blob from the database and check it; its size."""
        return sum(len(c) for c in self.chunks(sha256))

    def path_for(self, sha256: str) -> Path:
        """A local, verified copy of the blob (fetched once into the cache); if the database
        has no such blob, or a damaged one, the path where it would be (which does not exist):
        like a missing file in a folder project, it is the viewer's "missing" and
        ``open_verified``'s one-line error, not a case that cannot be shown at all."""
        path = self._cache_path(sha256)
        if path.is_file():
            self._budget.used(path)
        elif self.has(sha256):
            with contextlib.suppress(ProjectError):
                self._fetch(sha256, path)
        return path

    def open_verified(self, sha256: str) -> Path:
        path = self._cache_path(sha256)
        if path.is_file() and _sha256_file(path) == sha256:
            self._budget.used(path)
            return path
        self._fetch(sha256, path)  # a missing or damaged cached copy is fetched again
        return path

    def copy_out(self, sha256: str, dest: Path) -> None:
        shutil.copyfile(self.open_verified(sha256), dest)

    def _cache_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ProjectError("not a media hash", item=sha256[:80])
        return self.cache / sha256[:2] / sha256[2:]

    def _fetch(self, sha256: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for data in self.chunks(sha256):  # raises before the rename if damaged
                    out.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._budget.added(path)

    # --- writing ---

    def add(self, source: Path) -> tuple[str, int]:
        """Store ``source`` (once); its sha256 and size. Read twice — hash, then stream in —
        and refused if it changed in between."""
        if not source.is_file():
            raise InputError("file not found or not a regular file", source=str(source))
        digest, size = _hash_file(source)
        if not self.has(digest):
            with open(source, "rb") as fh:
                self._store(digest, size, iter(lambda: fh.read(CHUNK), b""), str(source))
        return digest, size

    def add_bytes(self, data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            pieces = (data[i:i + CHUNK] for i in range(0, len(data), CHUNK))
            self._store(digest, len(data), pieces, "media")
        return digest, len(data)

    def add_chunks(self, sha256: str, size: int, pieces: Iterator[bytes]) -> None:
        """Store a blob streamed from elsewhere (a copy between projects), checked on the way."""
        if not self.has(sha256):
            self._store(sha256, size, _rechunk(pieces), f"media {sha256[:12]}…")

    def _store(self, digest: str, size: int, pieces: Iterator[bytes], what: str) -> None:
        h = hashlib.sha256()
        n = total = 0
        try:
            with self._write.begin() as conn:
                conn.execute(insert(MediaBlobRow).values(sha256=digest, size=size, chunks=0))
                for data in pieces:
                    h.update(data)
                    total += len(data)
                    conn.execute(insert(MediaChunkRow).values(sha256=digest, seq=n, data=data))
                    n += 1
                if h.hexdigest() != digest or total != size:
                    raise InputError("the file changed while it was being stored; "
                                     "nothing was stored, import it again", source=what)
                conn.execute(update(MediaBlobRow)
                             .where(MediaBlobRow.sha256 == digest).values(chunks=n))
        except IntegrityError:
            if not self.has(digest):  # not a concurrent add of the same blob: a real error
                raise

    def remove(self, sha256: str) -> None:
        """Delete a blob no row uses any more (a failed import's files)."""
        with self._write.begin() as conn:
            conn.execute(delete(MediaChunkRow).where(MediaChunkRow.sha256 == sha256))
            conn.execute(delete(MediaBlobRow).where(MediaBlobRow.sha256 == sha256))
        self._cache_path(sha256).unlink(missing_ok=True)

    def total_bytes(self) -> int:
        with self._read.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(MediaBlobRow.size), 0)))
                       .scalar_one())


def _rechunk(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Pieces of any size as CHUNK-sized ones (the last may be shorter)."""
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= CHUNK:
            yield bytes(buf[:CHUNK])
            del buf[:CHUNK]
    if buf:
        yield bytes(buf)


def _hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _sha256_file(path: Path) -> str:
    return _hash_file(path)[0]
