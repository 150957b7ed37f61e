"""A folder project keeps grading as before: no leases are taken by the grading screen (they
are for raters sharing a server project; tests/postgres/test_grading_leases_qt.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from medreview.qt.grading.leases import attach_leases
from medreview.storage.models import ItemLeaseRow
from tests.qt.grading.helpers import open_and_wait


def test_a_folder_project_takes_no_leases(qtbot: Any, make_window: Any,
                                          project_path: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    assert attach_leases(w.controller, on_move=lambda _o: None,
                         on_message=lambda _m: None) is None
    with w.project.read() as s:
        assert s.scalar(select(func.count()).select_from(ItemLeaseRow)) == 0
