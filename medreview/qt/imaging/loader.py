"""Off-UI-thread decoding for the viewer: a thread pool, plus worker processes for JPEG 2000.

The UI thread never decodes. Requests go to a small shared thread pool; a worker reads the
header and, for GIL-bound codecs (JPEG 2000 / HTJ2K), hands the decode to a lazily started
``spawn`` process pool (threads do not parallelise those codecs; processes gave ~2x on two
cores). Results come back to the UI thread through queued Qt signals and land in a bounded
``FrameCache``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from medreview.errors import DicomError
from medreview.imaging.cache import FrameCache
from medreview.imaging.frames import DecodedFrame

FrameKey = tuple[Path, int]

_lock = threading.Lock()
_threads: ThreadPoolExecutor | None = None
_processes: ProcessPoolExecutor | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _threads
    with _lock:
        if _threads is None:
            _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="medreview-decode")
        return _threads


def _process_pool() -> ProcessPoolExecutor:
    global _processes
    with _lock:
        if _processes is None:
            import multiprocessing

            # spawn: forking a process that runs Qt threads is unsafe
            _processes = ProcessPoolExecutor(
                max_workers=2, mp_context=multiprocessing.get_context("spawn")
            )
        return _processes


@atexit.register
def _shutdown() -> None:
    with _lock:
        for pool in (_threads, _processes):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def decode_routed(path: Path, frame: int) -> DecodedFrame:
    """Decode in this thread, or in a worker process when the codec holds the GIL."""
    from medreview.imaging.codecs import needs_process, read_dataset, transfer_syntax
    from medreview.imaging.display import decode_frame
    from medreview.imaging.raster import is_raster

    if not is_raster(path):
        header = read_dataset(path, headers_only=True)
        if needs_process(transfer_syntax(header)):
            return _process_pool().submit(decode_frame, path, frame).result()
    return decode_frame(path, frame)


@dataclass(frozen=True)
class IndexEntry:
    """One file of a series as the viewer needs it: its frames and identifiers."""

    path: Path
    n_frames: int
    series_uid: str = ""
    sop_uid: str = ""
    error: str = ""


def index_paths(paths: Sequence[Path]) -> list[IndexEntry]:
    """Header pass over a series (frame counts, UIDs); unreadable files keep one slot."""
    from medreview.imaging.display import frame_info

    out = []
    for p in paths:
        try:
            info = frame_info(p)
        except DicomError as exc:
            out.append(IndexEntry(path=p, n_frames=1, error=exc.reason))
            continue
        out.append(IndexEntry(p, max(info.n_frames, 1), info.series_uid, info.sop_uid))
    return out


class FrameLoader(QObject):
    """Asynchronous decoder with a cache; signals arrive on the UI thread."""

    sig_frame_ready = Signal(object, object)
    """(key: (Path, frame), DecodedFrame) — a requested frame is decoded and cached."""

    sig_frame_failed = Signal(object, str)
    """(key: (Path, frame), reason) — decoding failed; the reason names the file."""

    sig_index_ready = Signal(int, object)
    """(generation, list[IndexEntry]) — a header pass requested by ``index`` finished."""

    def __init__(self, parent: QObject | None = None, *, max_bytes: int = 768 * 1024**2) -> None:
        super().__init__(parent)
        self.cache: FrameCache[FrameKey, DecodedFrame] = FrameCache(max_bytes=max_bytes)
        self._pending: dict[FrameKey, Future[DecodedFrame]] = {}
        self._closed = False
        # connected first, so the cache is filled before any viewer slot runs
        self.sig_frame_ready.connect(self._accept)
        self.sig_frame_failed.connect(self._forget)

    def request(self, key: FrameKey) -> bool:
        """Queue a decode unless cached or in flight; True if a new job was queued."""
        if self._closed or key in self._pending or key in self.cache:
            return False
        fut = _thread_pool().submit(decode_routed, key[0], key[1])
        self._pending[key] = fut
        fut.add_done_callback(functools.partial(self._done, key))
        return True

    def cancel_except(self, keep: set[FrameKey]) -> None:
        """Drop queued (not yet running) jobs that are no longer wanted."""
        for key, fut in list(self._pending.items()):
            if key not in keep and fut.cancel():
                self._pending.pop(key, None)

    def pending(self) -> set[FrameKey]:
        return set(self._pending)

    def index(self, generation: int, paths: Sequence[Path]) -> None:
        fut = _thread_pool().submit(index_paths, list(paths))
        fut.add_done_callback(functools.partial(self._indexed, generation))

    def close(self) -> None:
        self._closed = True
        self.cancel_except(set())

    # Runs in a worker thread: only emit (queued to the UI thread), never touch widgets.
    def _done(self, key: FrameKey, fut: Future[DecodedFrame]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        try:
            if exc is None:
                self.sig_frame_ready.emit(key, fut.result())
            else:
                reason = str(exc) if isinstance(exc, DicomError) else f"{key[0]}: {exc!r}"
                self.sig_frame_failed.emit(key, reason)
        except RuntimeError:  # the loader was deleted with its viewer
            pass

    def _indexed(self, generation: int, fut: Future[list[IndexEntry]]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        with contextlib.suppress(RuntimeError):  # the loader was deleted with its viewer
            self.sig_index_ready.emit(generation, fut.result())

    # UI thread: bookkeeping for delivered results
    def _accept(self, key: FrameKey, frame: DecodedFrame) -> None:
        self._pending.pop(key, None)
        self.cache.put(key, frame)

    def _forget(self, key: FrameKey, reason: str) -> None:
        self._pending.pop(key, None)
