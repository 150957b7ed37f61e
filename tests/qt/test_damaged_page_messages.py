"""A page found damaged after the open-time check (bit rot, or the check skipped for a file
that passed it unchanged) reaches the app as SQLAlchemy's multi-line error with its SQL echo:
the study screens' messages and the unexpected-error box show one plain line instead."""

from __future__ import annotations

import sqlite3
from typing import Any

from PySide6.QtWidgets import QMessageBox
from sqlalchemy.exc import DatabaseError

from medreview.qt import app
from medreview.qt.study.values import error_text


def _malformed() -> DatabaseError:
    return DatabaseError("SELECT judgment.id FROM judgment WHERE judgment.output_id = ?", (7,),
                         sqlite3.DatabaseError("database disk image is malformed"))


def test_error_text_of_a_damaged_page_is_one_line() -> None:
    assert "[SQL:" in str(_malformed())  # what was shown before
    text = error_text(_malformed())
    assert "\n" not in text and "SELECT" not in text
    assert text.startswith("the database is damaged (database disk image is malformed)")
    assert error_text(ValueError("bad")) == "ValueError: bad"  # other errors as before


def test_the_unexpected_error_box_names_the_damage_in_one_line(
    qtbot: Any, monkeypatch: Any
) -> None:
    shown: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append(box)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    exc = _malformed()
    app._excepthook(type(exc), exc, None)
    [box] = shown
    first = box.text().split("\n\n")[0]
    assert first.startswith("the database is damaged") and "SELECT" not in first
    assert "SELECT" in box.detailedText()  # the details keep the full text
