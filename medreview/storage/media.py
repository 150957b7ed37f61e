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


def is_digest(value: object) -> bool:
    """A lowercase hex sha256, the only names the stores use."""
    return (isinstance(value, str) and len(value) == 64
            and all(c in "0123456789abcdef" for c in value))


def _sha256_nofollow(path: Path) -> str:
    """``sha256_file`` that will not follow a link swapped in after ``_inside`` looked."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ProjectError(f"media file cannot be read ({exc.strerror or exc})",
                           source=str(path)) from exc
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


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
        return self._blob_path(sha256)

    def _blob_path(self, sha256: str) -> Path:
        if not is_digest(sha256):  # a hostile row must not name a path outside the store
            raise ProjectError("not a media hash", item=str(sha256)[:80])
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

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
            dest = self._blob_path(digest)
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
        dest = self._blob_path(digest)
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
        path = self._blob_path(sha256)
        if not path.is_file():
            raise ProjectError("media file is missing from the project", source=str(path))
        self._inside(path)
        actual = _sha256_nofollow(path)
        if actual != sha256:
            raise ProjectError(
                f"media file is damaged (sha256 {actual[:12]}… instead of {sha256[:12]}…)",
                source=str(path),
            )
        return path

    def _inside(self, path: Path) -> None:
        """Refuse a blob that is a link (or under a linked folder) to somewhere else: reads never
        leave the store, whatever was put into a shared folder."""
        expected = os.path.join(os.path.realpath(self.root), path.parent.name, path.name)
        if os.path.realpath(path) != expected:
            raise ProjectError("media file is a link to somewhere else; it is not read",
                               source=str(path))

    def copy_out(self, sha256: str, dest: Path) -> None:
        shutil.copyfile(self.open_verified(sha256), dest)

    def remove(self, sha256: str) -> None:
        """Delete a blob no row uses any more (a failed import's files)."""
        self._blob_path(sha256).unlink(missing_ok=True)

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in pieces, after checking it (``open_verified``)."""
        with open(self.open_verified(sha256), "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    def add_chunks(self, sha256: str, size: int, pieces: Iterator[bytes]) -> None:
        """Store a blob streamed from elsewhere (a copy between projects); refused unless the
        bytes that arrive have this hash and size."""
        dest = self._blob_path(sha256)
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


class SharedFolderMediaStore(MediaStore):
    """A PostgreSQL project's media in a shared folder (``storage/media_location``).

    Others can write to a share, so every path handed out is verified first, as the database
    store's cached copies are: ``path_for`` gives the blob only after its sha256 matched (once
    per file state: inode, size, modification and change times), and otherwise a path in this
    user's own cache folder that does not exist, which viewers show as missing."""

    _MEMO = 100_000  # verified file states remembered; beyond that, forgotten and re-hashed

    def __init__(self, root: Path, missing_dir: Path) -> None:
        super().__init__(root)
        self._missing_dir = missing_dir
        self._verified: dict[str, tuple[int, int, int, int, int]] = {}

    def open_verified(self, sha256: str) -> Path:
        path = self._blob_path(sha256)
        state = _state(path)
        if state is not None and self._verified.get(sha256) == state:
            self._inside(path)
            return path
        super().open_verified(sha256)
        if state is not None:
            if len(self._verified) >= self._MEMO:
                self._verified.clear()
            self._verified[sha256] = state
        return path

    def path_for(self, sha256: str) -> Path:
        if not is_digest(sha256):
            raise ProjectError("not a media hash", item=str(sha256)[:80])
        try:
            return self.open_verified(sha256)
        except ProjectError:
            return self._missing_dir / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def chunks(self, sha256: str) -> Iterator[bytes]:
        with open(self.open_verified(sha256), "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    def remove(self, sha256: str) -> None:
        self._verified.pop(sha256, None)
        super().remove(sha256)


def _state(path: Path) -> tuple[int, int, int, int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class UnavailableMediaStore:
    """A project whose media folder cannot be reached here: everything but its media works.
    Every read and write of a medium is refused with ``problem`` (one line); ``path_for``
    gives a path that does not exist, so viewers show each image as missing."""

    def __init__(self, problem: str, missing_dir: Path) -> None:
        self.problem = problem
        self._missing_dir = missing_dir

    def _refuse(self) -> ProjectError:
        return ProjectError(self.problem)

    def path_for(self, sha256: str) -> Path:
        if not is_digest(sha256):
            raise ProjectError("not a media hash", item=str(sha256)[:80])
        return self._missing_dir / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return False

    def add(self, source: Path) -> tuple[str, int]:
        raise self._refuse()

    def add_bytes(self, data: bytes) -> tuple[str, int]:
        raise self._refuse()

    def open_verified(self, sha256: str) -> Path:
        raise self._refuse()

    def copy_out(self, sha256: str, dest: Path) -> None:
        raise self._refuse()

    def remove(self, sha256: str) -> None:
        return None  # nothing of this project can be reached to remove

    def chunks(self, sha256: str) -> Iterator[bytes]:
        raise self._refuse()

    def add_chunks(self, sha256: str, size: int, pieces: Iterator[bytes]) -> None:
        raise self._refuse()
