"""Closing a project (or quitting the app) while a judge run is in flight never blocks the UI
thread.

A real run against the slow fake OpenAI server on 127.0.0.1 is stuck in a write because another
writer (a plain SQLite connection, as an import in another window would) holds the project's
write lock. Closing the project then returns at once: the run is asked to cancel, the window
closes, and the project's database closes only once the run has let go, on the project's own
thread, with "waiting for the judge run to stop…" in the status bar meanwhile. A QTimer keeps
ticking throughout, and the project is left whole: the run ends "cancelled", every item it
finished has its judgment, nothing is half-written.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from sqlalchemy import select

from medreview.judge.testing_server import FakeOpenAIServer
from medreview.storage.models import JudgeItemRow, JudgmentRevisionRow, JudgmentRow
from medreview.storage.project import Project, open_project
from tests.qt.judge.helpers import configure

LOCK_HELD_S = 2.5  # how long the other writer keeps the run waiting after the close
# A blocking close would stall the loop for LOCK_HELD_S at least; the margin is for a busy CI.
STALL_S = 1.2


def _judged(dialog: Any) -> int:
    text = dialog.panel.tiles["judged"].value.text()
    return int(text) if text.isdigit() else 0


@pytest.mark.parametrize("how", ["close the project", "quit the app"])
def test_closing_mid_run_keeps_the_ui_turning_and_the_project_whole(
        how: str, qtbot: Any, project: Project, project_dir: Path, server: FakeOpenAIServer,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import medreview.qt.main_window as main_window
    from medreview.qt.app import make_app
    from medreview.qt.judge import run_dialog
    from medreview.qt.main_window import RUN_STOP_WAIT, MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.services.judging import list_judge_runs
    from medreview.services.projects import add_rater

    add_rater(project, "Dr. Close")
    project.close()
    errors: list[str] = []
    monkeypatch.setattr(main_window, "show_error", lambda _w, title, text: errors.append(
        f"{title}: {text}"))

    # When the run returned, and when the project's engine was disposed (and from where).
    run_ended: list[float] = []
    real_run = run_dialog.run_judge_live

    def run_spy(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_run(*args, **kwargs)
        finally:
            run_ended.append(time.monotonic())

    monkeypatch.setattr(run_dialog, "run_judge_live", run_spy)
    closed: list[tuple[float, str]] = []
    real_close = Project.close

    def close_spy(self: Project) -> None:
        closed.append((time.monotonic(), threading.current_thread().name))
        real_close(self)

    monkeypatch.setattr(Project, "close", close_spy)

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    messages: list[str] = []
    w.statusBar().messageChanged.connect(messages.append)
    assert w.open_project(project_dir)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    w.show_judge_dialog()
    d = w.tool_windows["judge"]
    assert isinstance(d, run_dialog.JudgeRunDialog)
    qtbot.waitUntil(lambda: d.consent.state is not None
                    and not d.estimate.text().startswith("Estimating"), timeout=10000)
    late: list[Any] = []
    d.sig_finished.connect(late.append)
    configure(d, server.url, concurrency=1)
    server.delay_s = 0.25  # a slow endpoint: 18 items take several seconds
    assert d.start()
    qtbot.waitUntil(lambda: _judged(d) >= 2, timeout=15000)

    # Another writer takes the project's write lock: the run's next write waits for it.
    other = sqlite3.connect(project_dir / "project.sqlite", timeout=10, isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        qtbot.waitUntil(lambda: "waiting for another writer" in d.panel.message.text(),
                        timeout=10000)
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start()
        qtbot.wait(100)

        t0 = time.monotonic()
        if how == "quit the app":
            w.close()  # waits for the run before the window goes, without blocking
        else:
            w.close_to_welcome()
        returned = time.monotonic() - t0
        assert returned < STALL_S, f"closing blocked the UI thread for {returned:.1f} s"
        assert w.project is None and not w.tool_windows and not d.isVisible()
        assert w.isVisible()  # even when quitting: until the run has stopped
        assert RUN_STOP_WAIT in messages
        assert w.statusBar().currentMessage() == RUN_STOP_WAIT
        qtbot.wait(int(LOCK_HELD_S * 1000))
        assert not closed and not run_ended  # the run still waits; the project is not closed
    finally:
        other.execute("ROLLBACK")
        other.close()
    released = time.monotonic()

    qtbot.waitUntil(lambda: bool(closed), timeout=15000)
    qtbot.waitUntil(lambda: w.statusBar().currentMessage() != RUN_STOP_WAIT, timeout=5000)
    if how == "quit the app":
        qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    else:
        assert w.isVisible()
    qtbot.wait(100)
    timer.stop()
    close_at, close_thread = closed[0]
    assert run_ended and run_ended[0] <= close_at, "the engine was disposed under the run"
    assert close_thread.startswith("medreview-db"), close_thread
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    span = ticks[-1] - ticks[0]
    assert span >= LOCK_HELD_S and ticks[-1] >= released
    assert max(gaps) < STALL_S, f"the event loop stalled {max(gaps):.2f} s during the close"
    assert errors == []
    assert late == []  # the run's result reached no closed screen (Op(owner) dropped it)

    with open_project(project_dir) as reopened:
        runs = list_judge_runs(reopened)
        with reopened.read() as s:
            done = list(s.execute(select(JudgeItemRow.output_id).where(
                JudgeItemRow.run_id == runs[0].run_id, JudgeItemRow.status == "done")).scalars())
            judged = set(s.execute(select(JudgmentRow.output_id).join(
                JudgmentRevisionRow, JudgmentRevisionRow.judgment_id == JudgmentRow.id).where(
                JudgmentRow.rater_id == runs[0].rater_id)).scalars())
    assert [r.status for r in runs] == ["cancelled"]  # its last write landed before the close
    assert 2 <= runs[0].n_done == len(done) < 18
    assert set(done) <= judged  # every item it finished has its judgment
    db = sqlite3.connect(project_dir / "project.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
