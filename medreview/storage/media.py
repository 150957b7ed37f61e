"""Content-addressed media store: ``media/ab/cdef...`` named by sha256.

Blobs are deduplicated and verified on read.

Source files are only ever read. A file is copied to a temporary name in the store and
renamed into place, so a crash never leaves a half-written blob under a valid name.

No database here: ``storage/project.py`` builds on this module (attachment reads are in
``storage/attachments.py``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from medreview.errors import InputError, ProjectError

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class Media(Protocol):
    """What a project's media store offers: the folder store below, or the database store of a
    PostgreSQL project (``storage/server_media.py``). Paths returned are local files."""

    def path_for(self, sha256: str) -> Path: ...
    def has(self, sha256: str) -> bool: ...
    def add(self, source: Path) -> tuple[str, int]: ...
    def add_bytes(self, data: bytes) -> tuple[str, int]: ...
    def open_verified(self, sha256: str) -> Path: ...
    def copy_out(self, sha256: str, dest: Path) -> None: ...
    def remove(self, sha256: str) -> None: ...
    def chunks(self, sha256: str) -> Iterator[bytes]: ...
    def add_chunks(self, sha256: str, size: int, pieces: Iterator[bytes]) -> None: ...


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def add(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` in (once); return its sha256 and size."""
        if not source.is_file():
            raise InputError("file not found or not a regular file", source=str(source))
        self.root.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            dest = self.path_for(digest)
            if dest.is_file():
                os.unlink(tmp_name)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, dest)
            return digest, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def add_bytes(self, data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        dest = self.path_for(digest)
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, dest)
        return digest, len(data)

    def open_verified(self, sha256: str) -> Path:
        """The blob's path after checking its hash; a damaged blob is an error, not an image."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise ProjectError("media file is missing from the project", source=str(path))
        actual = sha256_file(path)
        if actual != sha256:
            raise ProjectError(
                f"media file is damaged (sha256 {actual[:12]}… instead of {sha256[:12]}…)",
                source=str(path),
            )
        return path

    def copy_out(self, sha256: str, dest: Path) -> None:
        shutil.copyfile(self.open_verified(sha256), dest)

    def remove(self, sha256: str) -> None:
        """Delete a blob no row uses any more (a failed import's files)."""
        self.path_for(sha256).unlink(missing_ok=True)

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in pieces, after checking it (``open_verified``)."""
        with open(self.open_verified(sha256), "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    def add_chunks(self, sha256: str, size: int, pieces: Iterator[bytes]) -> None:
        """Store a blob streamed from elsewhere (a copy between projects); refused unless the
        bytes that arrive have this hash and size."""
        dest = self.path_for(sha256)
        if dest.is_file():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
        h = hashlib.sha256()
        total = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in pieces:
                    h.update(piece)
                    total += len(piece)
                    out.write(piece)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha256 or total != size:
                raise ProjectError(f"media {sha256[:12]}… arrived changed "
                                   f"(sha256 {h.hexdigest()[:12]}…, {total} bytes)")
            os.replace(tmp_name, dest)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
