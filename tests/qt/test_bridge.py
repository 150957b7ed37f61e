"""Op delivers results on the main thread, and never to a screen that was deleted meanwhile."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtWidgets import QLabel

from medreview.qt.bridge import Op
from medreview.runtime.executors import WorkExecutor


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


def test_a_closed_owner_gets_no_callback_even_through_a_closure(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QDialog

    from medreview.qt.bridge import retire

    work = WorkExecutor()
    gate = threading.Event()
    dialog, controller, alive = QDialog(), QObject(), QObject()
    qtbot.addWidget(dialog)
    calls: list[str] = []
    Op(dialog, gate.wait, 5).success(lambda _v: calls.append("dialog")).run(work)
    Op(controller, gate.wait, 5).failure(lambda _e: calls.append("controller")) \
        .success(lambda _v: calls.append("controller")).run(work)
    Op(alive, gate.wait, 5).success(lambda _v: calls.append("alive")).run(work)
    dialog.reject()
    retire(dialog)  # a finished dialog is closed, though the object lives on
    retire(controller)  # a controller whose project closed
    gate.set()
    qtbot.waitUntil(lambda: calls == ["alive"], timeout=5000)
    qtbot.wait(100)
    assert calls == ["alive"]
    # Shown again, the same dialog gets the answers it asks for from now on.
    Op(dialog, lambda: 1).success(lambda _v: calls.append("again")).run(work)
    qtbot.waitUntil(lambda: calls == ["alive", "again"], timeout=5000)
    work.shutdown()


def test_emits_publishes_the_change_set_once_even_if_the_screen_is_gone(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QObject

    from medreview.domain.changes import Changes
    from medreview.qt.bridge import retire
    from medreview.runtime.bus import ChangeBus
    from medreview.services.views import SaveResult

    work = WorkExecutor()
    bus = ChangeBus()
    heard: list[tuple[Changes, object]] = []
    bus.subscribe(lambda ch, who: heard.append((ch, who)))
    screen, gone = QObject(), QObject()
    seen: list[str] = []
    Op(screen, lambda: Changes(project=True)).success(lambda _c: seen.append("cb")) \
        .emits(bus).run(work)
    qtbot.waitUntil(lambda: len(heard) == 1, timeout=5000)
    assert heard[0] == (Changes(project=True), screen) and seen == ["cb"]  # callback first
    gate = threading.Event()

    def save() -> SaveResult:
        gate.wait(5)
        return SaveResult(1, "done", Changes(judgments=frozenset({7})))

    Op(gone, save).success(lambda _r: seen.append("late")).emits(bus).run(work)
    retire(gone)
    gate.set()
    qtbot.waitUntil(lambda: len(heard) == 2, timeout=5000)
    # The database changed all the same; nobody is named as the screen that asked.
    assert heard[1] == (Changes(judgments=frozenset({7})), None) and seen == ["cb"]
    work.shutdown()


def test_latest_keeps_only_the_newest_answer_of_a_repeated_query(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QObject

    work = WorkExecutor(workers=2)
    owner = QObject()
    slow = threading.Event()
    got: list[str] = []
    Op(owner, lambda: slow.wait(5) and "old").latest("rows").success(got.append).run(work)
    Op(owner, lambda: "new").latest("rows").success(got.append).run(work)
    Op(owner, lambda: "other key").latest("other").success(got.append).run(work)
    qtbot.waitUntil(lambda: sorted(got) == ["new", "other key"], timeout=5000)
    slow.set()  # the first answer arrives last and is dropped
    qtbot.wait(150)
    assert sorted(got) == ["new", "other key"]
    work.shutdown()
