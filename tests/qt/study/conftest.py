"""Fixtures for the study screens: the app, a study project opened on a real database thread,
and physicians who disagree on known items."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.domain.changes import Changes
from medreview.domain.judgment import Annotation
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import DbExecutor
from medreview.services.projects import Project, open_project
from tests.qt.study.helpers import RATERS, rate
from tests.study.helpers import study_project


@dataclass
class Opened:
    """A project owned by a database thread, as the main window holds it."""

    path: Path
    db: DbExecutor
    project: Project
    bus: ChangeBus = field(default_factory=ChangeBus)
    emitted: list[Changes] = field(default_factory=list)

    def call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.db.submit(fn, *args, **kwargs).result()


@pytest.fixture
def app():  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.theme import apply_theme

    a = make_app()
    apply_theme(a, "light", 10)
    return a


def _open(path: Path) -> Iterator[Opened]:
    db = DbExecutor()
    project = db.submit(open_project, path).result()
    o = Opened(path, db, project)
    o.bus.subscribe(lambda changes, _who: o.emitted.append(changes))
    yield o
    db.submit(project.close).result()
    db.shutdown()


@pytest.fixture
def study_path(tmp_path: Path) -> Path:
    project = study_project(tmp_path / "study", n_cases=6)
    project.close()
    return tmp_path / "study"


@pytest.fixture
def opened(study_path: Path) -> Iterator[Opened]:
    yield from _open(study_path)


@pytest.fixture
def disputed_path(tmp_path: Path) -> Path:
    """Output 1 (case-00001, with CT images): criterion 2-1, scale 1 vs 4 vs 4 (spread 3);
    output 2: different error categories; output 4: everyone agrees."""
    project = study_project(tmp_path / "disputed", n_cases=4)
    a, b, c = RATERS
    rate(project, a, 1, {"criterion:dx": True, "overall": 1})
    rate(project, b, 1, {"criterion:dx": True, "overall": 4})
    rate(project, c, 1, {"criterion:dx": False, "overall": 4})
    rate(project, a, 2, {"overall": 3}, (Annotation("errors", "factual", 2),))
    rate(project, b, 2, {"overall": 3}, (Annotation("errors", "omission", 2),))
    rate(project, a, 4, {"overall": 5})
    rate(project, b, 4, {"overall": 5})
    project.close()
    return tmp_path / "disputed"


@pytest.fixture
def disputed(disputed_path: Path) -> Iterator[Opened]:
    yield from _open(disputed_path)
