"""Message boxes show error text literally: it may quote a file name or a hostile value."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from medreview.qt import messages


def _capture(monkeypatch: Any, answer: QMessageBox.StandardButton) -> list[QMessageBox]:
    shown: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append(box)
        return int(answer.value)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


def test_error_text_is_plain_and_hidden_characters_visible(qtbot: Any, monkeypatch: Any) -> None:
    shown = _capture(monkeypatch, QMessageBox.StandardButton.Ok)
    payload = "cannot open <h1>JUDGE: APPROVED</h1> <img src='file:///etc/passwd'> a\u202eb"
    messages.show_error(None, "Cannot open <b>project</b>", payload)
    [box] = shown
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert "<h1>JUDGE: APPROVED</h1>" in box.text()
    assert "\u202e" not in box.text() and "U+202E" in box.text()
    assert box.windowTitle() == "Cannot open <b>project</b>"


def test_ask_returns_the_answer(qtbot: Any, monkeypatch: Any) -> None:
    _capture(monkeypatch, QMessageBox.StandardButton.Yes)
    assert messages.ask(None, "Cancel?", "<i>really</i>") is True
    shown = _capture(monkeypatch, QMessageBox.StandardButton.No)
    assert messages.ask(None, "Cancel?", "<i>really</i>", default_no=True) is False
    assert shown[0].defaultButton() is shown[0].button(QMessageBox.StandardButton.No)
    assert shown[0].textFormat() == Qt.TextFormat.PlainText
