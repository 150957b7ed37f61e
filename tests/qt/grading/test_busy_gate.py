"""Saves and preloads wait while "next" puts an item on screen (qt/grading/busy_gate.py), and
never longer than the gate's bound; the answers still land."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from medreview.qt.grading.busy_gate import BusyGate
from medreview.services import grading
from tests.qt.grading.helpers import open_and_wait, wait_saved


def _wait_in_thread(gate: BusyGate) -> tuple[threading.Thread, list[float]]:
    done: list[float] = []

    def run() -> None:
        gate.wait()
        done.append(time.perf_counter())

    t = threading.Thread(target=run)
    t.start()
    return t, done


def test_a_held_gate_keeps_other_threads_until_released() -> None:
    gate = BusyGate(max_wait_s=5.0)
    gate.hold()
    t, done = _wait_in_thread(gate)
    time.sleep(0.1)
    assert not done and gate.held  # still waiting
    released = time.perf_counter()
    gate.release()
    t.join(2)
    assert done and done[0] >= released


def test_a_gate_never_released_lets_work_go_after_its_bound() -> None:
    gate = BusyGate(max_wait_s=0.05)
    gate.hold()
    start = time.perf_counter()
    t, done = _wait_in_thread(gate)
    t.join(2)
    assert done and 0.04 <= done[0] - start < 1.0


def test_the_holding_thread_never_waits_for_itself() -> None:
    gate = BusyGate(max_wait_s=5.0)
    gate.hold()
    start = time.perf_counter()
    gate.wait()  # an inline executor runs the save on the UI thread
    assert time.perf_counter() - start < 0.5


def test_the_save_of_the_item_left_starts_after_the_next_item_is_shown(
        qtbot: Any, make_window: Any, project_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    assert c is not None and c.item is not None
    qtbot.waitUntil(lambda: not c.session._inflight, timeout=5000)  # the preload is back
    events: list[tuple[str, float]] = []
    real_save = grading.save_revision

    def save(*args: Any, **kwargs: Any) -> Any:
        events.append(("save", time.perf_counter()))
        return real_save(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", save)
    c.sig_item_loaded.connect(lambda _item: events.append(("shown", time.perf_counter())))
    left = c.item.output_id
    qtbot.keyClick(w.view.panel, Qt.Key.Key_3)
    assert c.dirty
    d = w.queue.model.display_row(left) or 0
    target = w.queue.model.row_at(d + 2).output_id  # not the preloaded one: a database load
    w.open_item(target)
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id == target, timeout=5000)
    wait_saved(qtbot, w)
    kinds = [k for k, _ in events]
    assert kinds.index("shown") < kinds.index("save"), events
    assert not c.gate.held
    revisions = c.executor.submit(grading.history, c.project, c.rater_id, left).result(5)
    assert revisions and revisions[-1].draft.answers  # the edit made before "next" landed
