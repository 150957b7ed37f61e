"""Op delivers results on the main thread, and never to a screen that was deleted meanwhile."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtWidgets import QLabel

from medreview.qt.bridge import Op
from medreview.services.tasks import WorkExecutor


def test_results_arrive_on_the_main_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    work = WorkExecutor()
    got: list[tuple[int, bool]] = []
    Op(lambda: 6 * 7).success(
        lambda v: got.append((v, threading.current_thread() is threading.main_thread()))
    ).run(work)
    qtbot.waitUntil(lambda: got == [(42, True)], timeout=5000)
    work.shutdown()


def test_a_deleted_owner_gets_no_callback(qtbot) -> None:  # type: ignore[no-untyped-def]
    work = WorkExecutor()
    gate = threading.Event()
    label, other = QLabel(), QLabel()
    qtbot.addWidget(other)
    calls: list[str] = []
    # explicit owner (a closure cannot name its widget) and implicit (a bound method's self)
    Op(gate.wait, 5).owned_by(label).success(lambda _v: calls.append("closure")).run(work)
    Op(gate.wait, 5).success(label.setText).run(work)
    Op(gate.wait, 5).owned_by(other).success(lambda _v: calls.append("alive")).run(work)
    shiboken6.delete(label)
    gate.set()
    qtbot.waitUntil(lambda: calls == ["alive"], timeout=5000)
    qtbot.wait(100)
    assert calls == ["alive"]
    work.shutdown()


def test_progress_relay_throttles_but_always_delivers_the_last_report(qtbot) -> None:  # type: ignore[no-untyped-def]
    from medreview.qt.progress_relay import ProgressRelay

    seen: list[tuple[int, int | None, str]] = []
    relay = ProgressRelay(lambda d, t, m: seen.append((d, t, m)), interval_s=60.0)
    worker = threading.Thread(target=lambda: [relay(i, 1000, "rows") for i in range(1001)])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] == (1000, 1000, "rows"), timeout=5000)
    assert seen == [(0, 1000, "rows"), (1000, 1000, "rows")]


def test_an_op_after_the_project_closed_is_dropped(qtbot) -> None:  # type: ignore[no-untyped-def]
    # A screen reacting to an earlier result (adjudication reloading after its raters arrived)
    # may start another call after the project's executor shut down: no exception, no callback.
    work = WorkExecutor()
    work.shutdown()
    calls: list[object] = []
    future = Op(lambda: 1).success(calls.append).failure(calls.append).run(work)
    assert future.cancelled()
    qtbot.wait(50)
    assert calls == []
