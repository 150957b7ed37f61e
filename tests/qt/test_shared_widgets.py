"""The small shared pieces every screen uses: table cells, status tones, progress on a bar,
and the one ProgressRelay (its signal form, as the package dialogs use it)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QProgressBar

from medreview.qt.progress_relay import ProgressRelay, show_busy, show_progress
from medreview.qt.status import TONES, show_status, tone_color
from medreview.qt.table_cells import cell


def test_a_cell_shows_data_literally_and_cannot_be_edited(qtbot) -> None:  # type: ignore[no-untyped-def]
    item = cell("dr\u202emartin <b>x</b>", tone="error", number=True, bold=True)
    assert "\u202e" not in item.text() and "⟦U+202E⟧" in item.text()
    assert "<b>x</b>" in item.text()  # shown as typed, never as markup
    assert item.toolTip().startswith("<qt>") and "&lt;b&gt;" in item.toolTip()
    assert not item.flags() & Qt.ItemFlag.ItemIsEditable
    assert item.foreground().color() == tone_color("error")
    assert item.textAlignment() & Qt.AlignmentFlag.AlignRight and item.font().bold()
    assert cell("plain", tip="").toolTip() == ""


def test_status_lines_use_the_shared_tones(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel()
    qtbot.addWidget(label)
    show_status(label, "written", ok=True)
    assert TONES["ok"] in label.styleSheet() and label.text() == "written"
    show_status(label, "refused", ok=False)
    assert TONES["error"] in label.styleSheet()
    show_status(label, "checking")
    assert label.styleSheet() == ""
    assert tone_color("no such tone") == tone_color("muted")


def test_progress_on_a_bar(qtbot) -> None:  # type: ignore[no-untyped-def]
    bar = QProgressBar()
    qtbot.addWidget(bar)
    show_busy(bar, "reading…")
    assert (bar.minimum(), bar.maximum(), bar.format()) == (0, 0, "reading…")
    show_progress(bar, 3, None, "3 rows")  # no total yet: still busy
    assert bar.maximum() == 0 and bar.format() == "3 rows"
    show_progress(bar, 12, 10, "%v / %m")
    assert (bar.maximum(), bar.value()) == (10, 10)


def test_the_relay_signal_arrives_on_the_main_thread_and_stops_with_its_parent(qtbot
                                                                              ) -> None:  # type: ignore[no-untyped-def]
    parent = QObject()
    relay = ProgressRelay(parent=parent, interval_s=0.0)
    got: list[tuple[int, int, str, bool]] = []
    relay.sig_progress.connect(lambda d, t, m: got.append(
        (d, t, m, threading.current_thread() is threading.main_thread())))
    worker = threading.Thread(target=lambda: (relay(1, None, "a"), relay(2, 2, "b")))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert got == [(1, 0, "a", True), (2, 2, "b", True)]
    parent.deleteLater()  # the dialog is gone: later reports go nowhere, without an error
    qtbot.waitUntil(lambda: not _alive(relay), timeout=5000)
    relay(3, 3, "late")


def _alive(obj: QObject) -> bool:
    import shiboken6

    return bool(shiboken6.isValid(obj))
