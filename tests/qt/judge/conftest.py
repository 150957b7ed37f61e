"""Fixtures for the judge dialog: the fake OpenAI server on 127.0.0.1, a small project, an
in-memory keyring, and a dialog on a real (threaded) DB executor, all torn down in order."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.domain.changes import Changes
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import DbExecutor
from medreview.storage.project import Project
from tests.judge.conftest import MemoryKeyring, build_project, memory_keyring  # noqa: F401


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(hang_s=1.0) as srv:
        yield srv


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "proj"


@pytest.fixture
def project(project_dir: Path) -> Iterator[Project]:
    p = build_project(project_dir)  # 3 cases x 2 models x 3 items = 18 items
    yield p
    p.close()


class Harness:
    """A dialog with its executor and bus, and everything the bus carried."""

    def __init__(self, dialog: object, db: DbExecutor, bus: ChangeBus) -> None:
        self.dialog = dialog
        self.db = db
        self.bus = bus
        self.changes: list[Changes] = []
        bus.subscribe(lambda ch, _who: self.changes.append(ch))

    def merged(self) -> Changes:
        out = Changes()
        for ch in self.changes:
            out = out | ch
        return out


@pytest.fixture
def make_dialog(qtbot, project: Project) -> Iterator[Callable[[], Harness]]:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.judge.run_dialog import JudgeRunDialog
    from medreview.qt.theme import apply_theme

    app = make_app()
    apply_theme(app, "light", 10)
    made: list[Harness] = []

    def make() -> Harness:
        db, bus = DbExecutor(), ChangeBus()
        dialog = JudgeRunDialog(project, db, bus)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        h = Harness(dialog, db, bus)
        # Settled: earlier runs, consent and the first estimate have arrived.
        qtbot.waitUntil(lambda: dialog.consent.state is not None
                        and not dialog.estimate.text().startswith("Estimating"), timeout=10000)
        made.append(h)
        return h

    yield make
    for h in made:
        h.dialog.shutdown()  # type: ignore[attr-defined]
        h.db.shutdown()
