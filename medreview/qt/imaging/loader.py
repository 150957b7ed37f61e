"""Off-UI-thread decoding for the viewer: a thread pool, plus worker processes for JPEG 2000.

The UI thread never decodes. Requests go to a small shared thread pool; a worker reads the
header and, for GIL-bound codecs (JPEG 2000 / HTJ2K), hands the decode to a lazily started
``spawn`` process pool (threads do not parallelise those codecs). Results come back to the UI
thread through queued Qt signals and land in a bounded ``FrameCache``.

Jobs are dispatched by priority, at most one per decode worker at a time: the rest wait in the
loader's own list, which the viewer replaces on every slice change, so the slice on screen is
never queued behind prefetches the reader has scrolled past. A job is a full decode or a
*preview* (``medreview.imaging.reduced``: a JPEG 2000 frame decoded at reduced resolution,
for fast scrolling); previews go to a small cache of their own.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from medreview.errors import DicomError
from medreview.imaging.cache import FrameCache
from medreview.imaging.frames import DecodedFrame

FrameKey = tuple[Path, int]
Job = tuple[FrameKey, bool]  # (key, preview?)
# decode jobs in flight per loader, and worker processes: one per core (at least two, so the
# slice on screen and the next decode together; at most eight, each holds a decoder's memory)
WORKERS = max(2, min(os.cpu_count() or 2, 8))

_lock = threading.Lock()
_threads: ThreadPoolExecutor | None = None
_processes: ProcessPoolExecutor | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _threads
    with _lock:
        if _threads is None:
            _threads = ThreadPoolExecutor(max_workers=WORKERS,
                                          thread_name_prefix="medreview-decode")
        return _threads


def _process_pool() -> ProcessPoolExecutor:
    global _processes
    with _lock:
        if _processes is None:
            import multiprocessing

            # spawn: forking a process that runs Qt threads is unsafe
            from medreview.imaging.dataset_cache import enable

            # each worker keeps the last files it read (frames of one multi-frame file)
            _processes = ProcessPoolExecutor(
                max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn"),
                initializer=enable,
            )
        return _processes


def _warm() -> None:
    """A no-op run in each worker process so the first slices do not pay its start-up."""
    import medreview.imaging.display
    import medreview.imaging.reduced  # noqa: F401


def warm_processes() -> None:
    """Start the decode processes now (a series that needs them has just been indexed)."""
    pool = _process_pool()
    # only a head start: if processes cannot start, the decode itself reports why
    with contextlib.suppress(Exception):
        for _ in range(WORKERS):
            pool.submit(_warm)


@atexit.register
def _shutdown() -> None:
    with _lock:
        for pool in (_threads, _processes):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def decode_routed(path: Path, frame: int, preview: bool = False) -> DecodedFrame:
    """Decode in this thread, or in a worker process when the codec holds the GIL; with
    ``preview``, at reduced resolution where that is cheaper (else the full decode)."""
    from medreview.imaging.display import decode_frame
    from medreview.imaging.reduced import decode_preview

    fn = decode_preview if preview else decode_frame
    if _needs_process(path):
        pool = _process_pool()
        try:
            return pool.submit(fn, path, frame).result()
        except BrokenProcessPool:
            # A decoder crashed (a damaged codestream can kill the worker outright): this frame
            # fails with one line, and the next decode gets a fresh pool instead of the broken
            # one failing every image until the app restarts.
            _discard_process_pool(pool)
            raise DicomError(f"frame {frame + 1}: the image decoder stopped while reading "
                             "it (damaged image data?)", source=str(path)) from None
    return fn(path, frame)


def _discard_process_pool(broken: ProcessPoolExecutor) -> None:
    global _processes
    with _lock:
        if _processes is broken:
            _processes = None
    broken.shutdown(wait=False, cancel_futures=True)


@functools.lru_cache(maxsize=4096)
def _needs_process(path: Path) -> bool:
    """Routing by transfer syntax, read once per file (media files do not change)."""
    from medreview.imaging.codecs import needs_process, read_dataset, transfer_syntax
    from medreview.imaging.raster import is_raster

    if is_raster(path):
        return False
    try:
        return needs_process(transfer_syntax(read_dataset(path, headers_only=True)))
    except DicomError:
        return False  # the decode in this thread reports the reason


@dataclass(frozen=True)
class IndexEntry:
    """One file of a series as the viewer needs it: its frames and identifiers."""

    path: Path
    n_frames: int
    series_uid: str = ""
    sop_uid: str = ""
    error: str = ""
    preview: bool = False  # a reduced-resolution decode is much cheaper than the full one
    needs_process: bool = False  # decoded in worker processes (JPEG 2000)


def index_paths(paths: Sequence[Path]) -> list[IndexEntry]:
    """Header pass over a series (frame counts, UIDs); unreadable files keep one slot."""
    from medreview.imaging.codecs import needs_process
    from medreview.imaging.display import frame_info
    from medreview.imaging.reduced import reduced_supported

    out = []
    for p in paths:
        try:
            info = frame_info(p)
        except DicomError as exc:
            out.append(IndexEntry(path=p, n_frames=1, error=exc.reason))
            continue
        syntax = info.transfer_syntax
        out.append(IndexEntry(
            p, max(info.n_frames, 1), info.series_uid, info.sop_uid,
            preview=not info.is_colour and reduced_supported(syntax, info.rows, info.cols),
            needs_process=needs_process(syntax),
        ))  # fmt: skip
    return out


class FrameLoader(QObject):
    """Asynchronous decoder with caches; signals arrive on the UI thread."""

    sig_frame_ready = Signal(object, object)
    """(key: (Path, frame), DecodedFrame) — a decode finished and is cached; the frame is a
    reduced-resolution preview when ``frame.is_reduced``."""

    sig_frame_failed = Signal(object, str)
    """(key: (Path, frame), reason) — decoding failed; the reason names the file."""

    sig_index_ready = Signal(int, object)
    """(generation, list[IndexEntry]) — a header pass requested by ``index`` finished."""

    def __init__(self, parent: QObject | None = None, *, max_bytes: int = 768 * 1024**2,
                 preview_bytes: int = 64 * 1024**2) -> None:  # fmt: skip
        super().__init__(parent)
        self.cache: FrameCache[FrameKey, DecodedFrame] = FrameCache(max_bytes=max_bytes)
        self.previews: FrameCache[FrameKey, DecodedFrame] = FrameCache(max_bytes=preview_bytes)
        self._wanted: list[Job] = []  # waiting jobs, most wanted first
        self._running: dict[Job, Future[DecodedFrame]] = {}
        self._closed = False
        # connected first, so the cache is filled before any viewer slot runs
        self.sig_frame_ready.connect(self._accept)
        self.sig_frame_failed.connect(self._forget)

    def request(self, key: FrameKey) -> bool:
        """Queue a full decode (last in line) unless cached, waiting or running; True if new."""
        job = (key, False)
        if self._closed or self._have(job) or job in self._wanted:
            return False
        self._wanted.append(job)
        self._pump()
        return True

    def set_plan(self, jobs: Sequence[Job]) -> None:
        """Replace the waiting jobs by ``jobs`` (most wanted first); running ones finish."""
        if self._closed:
            return
        seen: set[Job] = set()
        self._wanted = []
        for job in jobs:
            if job not in seen and not self._have(job):
                seen.add(job)
                self._wanted.append(job)
        self._pump()

    def cancel_except(self, keep: set[FrameKey]) -> None:
        """Drop waiting jobs whose frame is no longer wanted."""
        self._wanted = [j for j in self._wanted if j[0] in keep]

    def pending(self) -> set[FrameKey]:
        return {j[0] for j in self._wanted} | {j[0] for j in self._running}

    def index(self, generation: int, paths: Sequence[Path]) -> None:
        fut = _thread_pool().submit(index_paths, list(paths))
        fut.add_done_callback(functools.partial(self._indexed, generation))

    def close(self) -> None:
        self._closed = True
        self._wanted = []

    def _have(self, job: Job) -> bool:
        key, preview = job
        if job in self._running or key in self.cache or (key, False) in self._running:
            return True
        return preview and key in self.previews

    def _pump(self) -> None:
        """Start waiting jobs while fewer than ``WORKERS`` run (UI thread only)."""
        while self._wanted and len(self._running) < WORKERS and not self._closed:
            job = self._wanted.pop(0)
            if self._have(job):
                continue
            fut = _thread_pool().submit(decode_routed, job[0][0], job[0][1], job[1])
            self._running[job] = fut
            fut.add_done_callback(functools.partial(self._done, job))

    # Runs in a worker thread: only emit (queued to the UI thread), never touch widgets.
    def _done(self, job: Job, fut: Future[DecodedFrame]) -> None:
        key = job[0]
        exc = fut.exception() if not fut.cancelled() else RuntimeError("cancelled")
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
        self._running.pop((key, frame.is_reduced), None)
        if frame.is_reduced:
            self.previews.put(key, frame)
        else:
            self._running.pop((key, True), None)  # a preview job may answer in full
            self.cache.put(key, frame)
        self._pump()

    def _forget(self, key: FrameKey, reason: str) -> None:
        self._running.pop((key, False), None)
        self._running.pop((key, True), None)
        self._pump()
