"""The merge on two cores: a worker process checks chunk k+1 while this one writes chunk k.

The single-process merge (``study.merge``) reads and checks every package, then writes them
all in one transaction; on this 2-core machine that leaves one core idle. Here a "spawn"
worker (``study.merge_worker``; a thread would hold the GIL) reads each package's rows,
checks each revision against the lead's forms and scores it, and sends chunks of whole
outputs in our output id order; this process does what needs the project (the zip, the issue
record, the lead's reference, then inside the one write transaction the uid owners, held
judgments, conflicts and the inserts: ``storage.merge_stream``), writing chunk k while the
worker works on chunk k+1. The rows, their ids and the report are the single-process merge's.

This path decides only merges that succeed. Anything the single-process merge would refuse
(a bad zip, a forged row, a uid of another judgment), anything the worker cannot decide
exactly as that merge would (``merge_worker.Decline``), a worker that fails to start or dies,
or a project that is not SQLite: the transaction rolls back, nothing is written, and
``pipelined_merge`` returns None; the caller then runs the single-process merge, which
refuses with its usual one line (or merges). A refused merge costs its checks twice.

Small merges skip it: starting the worker (~0.1 s: a new interpreter importing the domain
modules) costs more than it saves below ``MIN_BYTES`` of packages (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import queue
import shutil
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from medreview.errors import ProjectBusy
from medreview.progress import Progress
from medreview.storage import schema
from medreview.storage.merge_stream import (
    Declined,
    apply_chunk,
    begin_package,
    merge_transaction,
)
from medreview.storage.merging import (
    MergeReference,
    PackageMergeResult,
    package_head,
    package_reads,
)
from medreview.storage.packages import IssuedPackage
from medreview.storage.project import DB_NAME, MEDIA_DIR, Project
from medreview.study.merge_worker import Issued, Outputs, Task, serve
from medreview.study.package_open import _work_folder, open_unpacked, unpack_package

log = logging.getLogger(__name__)

# Packages smaller than this together (zip bytes; ~420 a graded item) take the single-process
# merge: below ~5,000 revisions the worker's start-up costs more than the second core saves.
MIN_BYTES = 2_000_000
CHUNK = 1_000  # outputs per chunk: small enough to start writing early
AHEAD = 16  # chunks a worker may have sent and this process not yet taken (~5 MB)
# Worker processes: one per core beside this process's, at most two. (This process writes in
# about half the time a worker checks, so a second worker helps where a third core is free;
# on two cores busy with other jobs too, a second one cost 15 % more wall time at 10k.)
WORKERS = max(1, min(2, (os.cpu_count() or 2) - 1))
_POLL_S = 1.0  # how often a wait for the worker checks that it is still alive


def pipelined_merge(project: Project, files: Sequence[Path], progress: Progress,
                    now: dt.datetime) -> list[PackageMergeResult] | None:
    """Merge ``files`` on two cores; None if this path does not decide (nothing written)."""
    if project.engine.dialect.name != "sqlite":
        return None
    try:
        if sum(os.path.getsize(f) for f in files) < MIN_BYTES:
            return None
    except OSError:
        return None
    if not spare_core():
        log.info("no core to spare (load average): single-process merge")
        return None
    try:
        worker = _Workers()
    except Exception as exc:  # no processes here (a sandbox): one core it is
        log.info("merge worker did not start (%s): single-process merge", exc)
        return None
    def report(done: int, total: int | None = None, message: str = "") -> None:
        try:
            progress(done, total, message)
        except BaseException as exc:  # a cancel: the caller's, not a reason to merge again
            raise _FromCaller(exc) from exc
    try:
        results = _run(project, files, report, now, worker)
    except _FromCaller as exc:  # rolled back, and the caller's exception goes on
        worker.abort()
        raise exc.error from None
    except ProjectBusy:  # another writer kept the project past the full wait: waiting again
        worker.abort()  # on one core would only double it
        raise
    except Exception as exc:  # rolled back; the single-process merge decides and says why
        log.info("pipelined merge declined (%s): single-process merge", str(exc)[:300])
        worker.abort()
        return None
    worker.stop()
    return results


def worker_round_trip(timeout_s: float = 60.0) -> None:
    """Start one merge worker as a merge would and tell it to stop: it must exit cleanly
    within ``timeout_s`` (the self-test's proof that a spawned worker starts, in the frozen
    app too, where it is this executable started again); RuntimeError if it does not."""
    worker = _Worker()
    try:
        worker.send(None)
        worker.process.join(timeout=timeout_s)
        code = worker.process.exitcode
        if code != 0:
            raise RuntimeError("the merge worker process did not exit cleanly "
                               f"({'still running' if code is None else f'exit code {code}'})")
    finally:
        worker.abort()


class _FromCaller(Exception):
    """An exception of the caller's progress callback (``Cancelled``), carried through."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def spare_core() -> bool:
    """Whether a core is likely free for the worker: the last minute's load average is below
    the number of cores (a merge just before, this one's own, counts up to 2 on two cores).
    With every core busy (other jobs) the worker only adds its own cost: on this 2-core
    machine at load 3-6, a pipelined merge of 10k revisions took 0.62-1.01 s against 0.65-0.83 s
    on one core. No load average (Windows): assume a laptop's cores are free."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return load < (os.cpu_count() or 1)


def _run(project: Project, files: Sequence[Path], progress: Progress, now: dt.datetime,
         worker: _Workers) -> list[PackageMergeResult]:
    n = len(files)
    lead: MergeReference
    entries: list[tuple[str, IssuedPackage]] = []
    results: list[PackageMergeResult] = []
    with _work_folder(project) as work:

        def prepare(i: int) -> None:
            """Package ``i`` up to its rows, sent to the worker. The reads see the project as
            it was before this merge: its writes are not committed."""
            file = Path(files[i])
            progress(i, n * 2, f"checking {file.name}")
            _, issued = _task(i, file, project, lead, now, work, worker)
            entries.append((str(file), issued))

        # One transaction, its write lock taken before anything is read for the merge (so
        # every read, here or in the worker, is of the state it begins with); the worker's
        # chunks are written as they come.
        try:
            with merge_transaction(project) as stream:
                lead = stream.lead  # each package adds its outputs' cases
                prepare(0)
                for i in range(n):
                    src, issued = entries[i]
                    progress(n + i, n * 2, f"merging {Path(src).name}")
                    ps = begin_package(stream, src, issued)
                    for heads, records in worker.chunks(i):
                        if len(entries) == i + 1 < n:  # the next one, while the worker works
                            prepare(i + 1)
                        apply_chunk(stream, ps, heads, records)
                    if len(entries) == i + 1 < n:  # package i had no revisions
                        prepare(i + 1)
                    results.append(ps.result)
                worker.finish()  # the workers exit while this process commits
        except BaseException:
            worker.abort()  # before its files are removed (an open file stays on Windows)
            raise
    return results


def _task(i: int, file: Path, project: Project, lead: MergeReference, now: dt.datetime,
          work: Path, worker: _Workers) -> tuple[Task, IssuedPackage]:
    """Package ``i`` checked up to its rows and unpacked (``study.package_open.unpack_package``):
    sent to the worker (its outputs first, as soon as the issue record is checked). Then,
    while the worker reads it, the verdict of opening it (``open_unpacked``: schema,
    integrity) and ``_load``'s first checks, on a copy: opening switches the file to WAL,
    which needs it to itself."""
    lead_db = str(Path(project.path) / DB_NAME)

    def ahead(issued: IssuedPackage) -> None:
        worker.send(Outputs(i, lead_db, [o.output_id for o in issued.outputs.values()]))
    issued, folder = unpack_package(file, project, lead, work, reference=False,
                                    on_issued=ahead)
    task = Task(
        at=i, db=str(folder / DB_NAME), lead_db=lead_db, schema=schema.head_revision(),
        issued=Issued(issued.rater_id, issued.rater, dict(issued.attachments),
                      {t: (o.output_id, o.text_sha256) for t, o in issued.outputs.items()}),
        lead_forms=lead.forms, now=now, sql=package_reads(), chunk=CHUNK)
    worker.send(task)
    copy = folder.with_name(folder.name + "-opened")
    (copy / MEDIA_DIR).mkdir(parents=True)
    shutil.copyfile(folder / DB_NAME, copy / DB_NAME)
    pkg = open_unpacked(copy, str(file))
    try:
        head = package_head(pkg)
    finally:
        pkg.close()
    settings, raters = head.settings, head.raters
    # study.merge._load's first checks
    if settings.get("source_project_uid") != lead.uid or (
            settings.get("package_uid") != issued.uid):
        raise Declined("package database does not match its manifest")
    if len(raters) != 1 or raters[0].name != issued.rater or (
            raters[0].kind != issued.rater_kind):
        raise Declined("package raters")
    return task, issued


@contextlib.contextmanager
def _light_main() -> Iterator[None]:
    """While a worker is spawned: no ``__main__`` for it to run again. A spawned child imports
    its parent's main script first (the bench, the CLI: SQLAlchemy and more, half a second);
    the worker needs only ``study.merge_worker``. (In the frozen app ``freeze_support`` in the
    entry point turns the started executable into the worker before anything else.)"""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Workers:
    """``WORKERS`` worker processes; chunk c of a package is worker c % WORKERS's."""

    def __init__(self) -> None:
        self.workers: list[_Worker] = []
        try:
            for _ in range(WORKERS):
                self.workers.append(_Worker())
        except BaseException:
            self.abort()
            raise

    def send(self, message: Task | Outputs) -> None:
        n = len(self.workers)
        for w, worker in enumerate(self.workers):
            worker.send(message._replace(share=(w, n)) if isinstance(message, Task)
                        else message)

    def chunks(self, index: int) -> Iterator[tuple[list[tuple[int, int]], list[Any]]]:
        """Package ``index``'s chunks in order, taken from each worker in turn."""
        n = len(self.workers)
        counts: dict[int, tuple[int, int]] = {}
        number = 0
        while number % n not in counts:
            message = self.workers[number % n].next(index)
            if message[0] == "done":  # no chunk ``number``: the others have no more either
                counts[number % n] = (message[1], message[2])
                continue
            number += 1
            yield message[1], message[2]
        for w, worker in enumerate(self.workers):
            if w not in counts:
                message = worker.next(index)
                if message[0] != "done":
                    raise Declined("a merge worker sent a chunk out of turn")
                counts[w] = (message[1], message[2])
        if sum(read for read, _total in counts.values()) != counts[0][1]:
            raise Declined("a revision of no judgment of its rater")

    def finish(self) -> None:
        for worker in self.workers:
            worker.send(None)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def abort(self) -> None:
        for worker in self.workers:
            worker.abort()


class _Worker:
    """A worker process and its queues: tasks in, chunks out, credits back."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.tasks: Any = ctx.Queue()
        self.results: Any = ctx.Queue()
        self.credits: Any = ctx.Semaphore(AHEAD)
        self.process = ctx.Process(target=serve, args=(self.tasks, self.results, self.credits),
                                   name="medreview-merge-worker", daemon=True)
        self.closed = self.finished = False
        with _light_main():
            self.process.start()

    def send(self, task: Task | Outputs | None) -> None:
        """A message to the worker (None: exit once the messages before it are done)."""
        if not self.finished:
            self.tasks.put(task)
            self.finished = task is None

    def next(self, index: int) -> tuple[Any, ...]:
        """The worker's next message about package ``index``: ("chunk", heads, records) or
        ("done", revisions read, revisions in the package); ``Declined`` if it declines."""
        while True:
            try:
                message = self.results.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.process.is_alive():
                    raise Declined("the merge worker stopped") from None
                continue
            kind, at = message[0], message[1]
            if at != index:
                raise Declined(f"the merge worker sent package {at}, not {index}")
            if kind == "chunk":
                self.credits.release()
                return ("chunk", message[2], message[3])
            if kind == "done":
                return ("done", message[2], message[3])
            raise Declined(f"the merge worker declined: {message[2]}")

    def stop(self) -> None:
        self.send(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.abort()
        self._close()

    def abort(self) -> None:
        """Stop the worker now (a declined merge: what it still sends is not needed)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for q in (self.tasks, self.results):
            q.cancel_join_thread()
            q.close()
