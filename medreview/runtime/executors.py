"""Executors: the one thread that owns the database, a pool for computation, and an inline one.

Every project call from a screen goes through ``DbExecutor`` so SQLAlchemy sessions are only
ever created on one worker thread ("database is locked" cannot happen inside one process). Tests
inject ``ImmediateExecutor`` to run the same code inline and deterministically.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Executor(Protocol):
    """What screens need from an executor: submit a call, get a future; shut down."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]: ...

    def shutdown(self, wait: bool = True) -> None: ...


class DbExecutor:
    """A single worker thread: every unit of work on the project runs here, in order."""

    def __init__(self) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="medreview-db")

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        # Wait by default: a queued save must reach the database before the process exits.
        self._pool.shutdown(wait=wait)

    def drain(self) -> None:
        """Block until everything submitted so far has run (used before closing a project)."""
        self._pool.submit(lambda: None).result()


class WorkExecutor:
    """A small pool for computation (statistics, decoding) that never touches the database."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="medreview-work")

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


class ImmediateExecutor:
    """Runs each call inline in the caller's thread; the future is already done on return."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        with self._lock:
            self.calls += 1
        future: cf.Future[T] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, like a pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True) -> None:
        return None

    def drain(self) -> None:
        return None
