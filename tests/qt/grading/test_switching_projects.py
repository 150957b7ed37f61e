"""One session, several projects: open a project and grade, open another and grade, open a
rater package and grade. Nothing of a closed project may act afterwards: no error dialog (the
old autosave timer used to fire into a shut-down executor: "cannot schedule new futures after
shutdown"), no timer or database thread left from an old project, no error in the log, and
every grade in the database it belongs to."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from medreview.qt import main_window as main_window_module
from medreview.qt.grading.controller import GradingController
from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import list_raters, open_project
from medreview.services.sample_project import build_sample_project
from medreview.study.assign import AssignmentDesign
from tests.qt.grading.helpers import open_and_wait, press, wait_saved
from tests.study.helpers import study_project


def _db_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("medreview-db")]


def _answers(folder: Path, rater: str) -> list[dict[str, Any]]:
    project = open_project(folder)
    try:
        rid = next(r.id for r in list_raters(project) if r.name == rater)
        return [rev.draft.answers for row in grading.load_queue(project, rid)
                for rev in grading.history(project, rid, row.output_id)]
    finally:
        project.close()


def test_three_projects_in_one_session_leave_nothing_behind(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    first, _ = build_sample_project(tmp_path / "first", n_cases=2, with_dicom=False)
    first.close()
    second, _ = build_sample_project(tmp_path / "second", n_cases=2, with_dicom=False,
                                     rater="Dr Second")
    second.close()
    lead = study_project(tmp_path / "study", n_cases=4)
    svc.assign(lead, AssignmentDesign(("Dr A",), per_output=1, seed=3))
    pkg = svc.build_package(lead, "Dr A", tmp_path / "dr-a.mrpkg").path
    lead.close()
    package = svc.unpack_package(pkg, tmp_path / "dr-a")

    dialogs: list[tuple[str, str]] = []
    for name in ("show_error", "show_warning"):
        monkeypatch.setattr(main_window_module, name,
                            lambda _parent, title, text: dialogs.append((title, text)))
    caplog.set_level(logging.WARNING)
    threads_before = len(_db_threads())

    w = make_window()
    controllers: list[GradingController] = []
    for folder in (tmp_path / "first", tmp_path / "second", package):
        open_and_wait(qtbot, w, folder)
        c = w.controller
        assert c is not None
        controllers.append(c)
        press(qtbot, "2")  # an edit: its autosave timer is running when the next one opens
        assert c.dirty and c.timer.isActive()
    wait_saved(qtbot, w)

    # The grading keys reached each project, in that project's database.
    assert _answers(tmp_path / "first", "Dr Example") == [{"overall": 2}]
    assert _answers(tmp_path / "second", "Dr Second") == [{"overall": 2}]
    assert any(a for a in _answers(package, "Dr A"))

    # The old controllers are stopped and gone; only the current one owns a timer.
    old = controllers[:-1]
    assert all(c_old.closed for c_old in old)
    qtbot.waitUntil(lambda: w.findChildren(GradingController) == [w.controller], timeout=5000)
    live_timers = [t for t in w.findChildren(QTimer)
                   if isinstance(t.parent(), GradingController) and t.isActive()]
    assert all(t.parent() is w.controller for t in live_timers)
    # One database thread: the ones of the closed projects ended after closing them.
    qtbot.waitUntil(lambda: len(_db_threads()) == threads_before + 1, timeout=5000)

    qtbot.wait(800)  # longer than the autosave delay: a stray timer would fire now
    assert dialogs == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    w.close()
    qtbot.waitUntil(lambda: len(_db_threads()) == threads_before, timeout=5000)


def test_a_project_that_cannot_be_opened_says_so_and_leaves_the_welcome_page(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any) -> None:
    good, _ = build_sample_project(tmp_path / "good", n_cases=1, with_dicom=False)
    good.close()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "project.sqlite").write_bytes(b"")  # 0 bytes: refused before anything is written
    dialogs: list[tuple[str, str]] = []
    monkeypatch.setattr(main_window_module, "show_error",
                        lambda _parent, title, text: dialogs.append((title, text)))
    threads_before = len(_db_threads())
    w = make_window()
    open_and_wait(qtbot, w, tmp_path / "good")
    assert w.open_project(broken)  # returns at once: the opening runs on its own thread
    assert w.controller is None and not w.split.isEnabled()
    qtbot.waitUntil(lambda: bool(dialogs), timeout=10000)
    assert dialogs[0][0] == "Cannot open project" and "project.sqlite" in dialogs[0][1]
    assert w.project is None and w.stack.currentWidget() is w.welcome
    qtbot.waitUntil(lambda: len(_db_threads()) == threads_before, timeout=5000)
    open_and_wait(qtbot, w, tmp_path / "good")  # and the next one opens as usual
    assert w.split.isEnabled()
