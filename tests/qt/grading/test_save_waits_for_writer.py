"""A save that finds another writer holding the project says so in the status bar, then saves.

The other writer is real: a second SQLite connection on the project's database holding the
write lock (``BEGIN IMMEDIATE``) for about two seconds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QTimer

from tests.qt.grading.helpers import open_and_wait, press, wait_saved


def test_a_save_waiting_for_another_writer_shows_it_and_then_lands(  # type: ignore[no-untyped-def]
    qtbot, make_window, project_path: Path
) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    assert c is not None and c.revision_no == 0
    messages: list[str] = []
    w.statusBar().messageChanged.connect(messages.append)

    other = sqlite3.connect(project_path / "project.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, as an import batch would hold it
        released: list[bool] = []

        def release() -> None:
            other.execute("ROLLBACK")
            released.append(True)

        w.view.panel.setFocus()
        press(qtbot, "1")
        QTimer.singleShot(2200, release)
        qtbot.waitUntil(lambda: any("waiting for another writer" in m for m in messages),
                        timeout=5000)
        waiting = next(m for m in messages if "waiting for another writer" in m)
        assert not released and c.saving  # shown while the save is still waiting
        assert waiting.startswith("Saving is waiting for another writer")
        assert w.save_label.property("state") == "saving"
        wait_saved(qtbot, w)
        assert released and c.revision_no == 1
    finally:
        other.close()
    check = sqlite3.connect(project_path / "project.sqlite")
    try:
        (n,) = check.execute("SELECT count(*) FROM judgment_revision").fetchone()
    finally:
        check.close()
    assert n == 1

