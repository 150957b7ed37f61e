"""Fixtures for the statistics windows: the demo project (built once per session), opened on
real executor threads, and a helper that spins the event loop until a condition holds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.services import projects
from medreview.services.tasks import DbExecutor, WorkExecutor


@pytest.fixture(scope="module")
def demo_env(demo_path: Path, qapp: Any) -> Iterator[tuple[Any, DbExecutor, WorkExecutor]]:
    """The open demo project with a database thread and a work pool (as in the app)."""
    from medreview.qt.theme import apply_theme

    apply_theme(qapp, "light", 10)
    db, work = DbExecutor(), WorkExecutor()
    project = db.submit(projects.open_project, demo_path).result()
    yield project, db, work
    db.submit(project.close).result()
    db.shutdown()
    work.shutdown()


def spin_until(qapp: Any, cond: Callable[[], bool], timeout: float = 60.0) -> None:
    """Process events until ``cond()`` (module fixtures cannot use the function-scoped qtbot)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        qapp.processEvents()
        time.sleep(0.01)
    for _ in range(5):
        qapp.processEvents()
