"""Open one screen on a demo project, or write it to a PNG (Orange's ``WidgetPreview``).

``python -m medreview.qt.preview grading`` shows the grading screen; ``--out file.png`` grabs
it offscreen instead. ``write_screenshots(folder)`` writes every screen for ``docs/``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)
SCREENS = ("welcome", "new-project", "grading", "grading-dark", "error-span", "pairwise",
           "queue-done", "cheatsheet", "history", "dashboard", "calibration", "adjudication",
           "judge-run", "assign", "export", "viewer-tools", "form-editor", "guidelines",
           "judge-eval", "raters", "server-open", "qualification", "qualification-feedback",
           "escalation", "cannot-assess", "peer-comments")
LEAD_SCREENS = ("dashboard", "calibration", "adjudication", "judge-run", "assign", "export",
                "judge-eval", "raters", "qualification", "escalation")
# Screens on the demo as `medreview demo` builds it (qualification round, escalations...).
FULL_DEMO_SCREENS = ("qualification", "qualification-feedback", "escalation", "cannot-assess",
                     "peer-comments")
PREVIEW_RATER = "Dr. Preview Grader"


def build_preview_project(folder: Path, pairwise: bool = False, copy_as: str = "") -> Path:
    """The lead's demo project when it builds, else the generated sample project.

    ``copy_as`` gives a screen its own copy, so what one screen grades never shows in another.
    """
    path = folder / ("pairwise" if pairwise else "demo")
    if path.exists():
        if copy_as:
            import shutil

            target = folder / copy_as
            if not target.exists():
                shutil.copytree(path, target)
            return target
        return path
    if not pairwise:
        try:
            from medreview.demo import build_demo_project

            build_demo_project(path)
            return build_preview_project(folder, copy_as=copy_as) if copy_as else path
        except Exception as exc:  # fall back so previews never depend on the demo
            log.warning("demo project unavailable (%s); using the sample project", exc)
            import shutil

            shutil.rmtree(path, ignore_errors=True)
    from medreview.services.sample_project import build_sample_project

    project, _ = build_sample_project(path, n_cases=6, outputs_per_case=2,
                                      with_dicom=not pairwise, pairwise=pairwise)
    project.close()
    return build_preview_project(folder, pairwise, copy_as) if copy_as else path


def build_full_preview(folder: Path, copy_as: str) -> Path:
    """A copy of the demo with the extras ``build_full_demo`` adds, in its order (built once
    per folder): the study-design screens show the numbers a user of `medreview demo` sees."""
    import shutil

    full = folder / "full-demo"
    if not full.exists():
        from medreview.demo.checks import add_to_demo as add_hidden_items
        from medreview.demo.escalation import add_to_demo as add_escalations
        from medreview.demo.judge_versions import add_to_demo as add_judge_version
        from medreview.demo.not_assessed import add_to_demo as add_cannot_assess
        from medreview.demo.quality import add_to_demo as add_quality_rounds

        shutil.copytree(build_preview_project(folder), full)
        for add in (add_judge_version, add_hidden_items, add_escalations, add_quality_rounds,
                    add_cannot_assess):
            add(full)
    target = folder / copy_as
    if not target.exists():
        shutil.copytree(full, target)
    return target


def _spin_until(pred: Callable[[], bool], timeout: float = 15.0) -> bool:
    from PySide6.QtCore import QCoreApplication, QEventLoop

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if pred():
            return True
        time.sleep(0.01)
    return False


def _settle(ms: int = 400) -> None:
    _spin_until(lambda: False, ms / 1000)


def _window(project: Path | None, theme: str, settings_file: Path):  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.theme import apply_theme
    from medreview.services import projects

    app = make_app()
    apply_theme(app, theme, 10)
    w = MainWindow(UiSettings(settings_file))
    w.resize(1600, 960)
    w.show()
    if project is not None:
        # Grade as a fresh physician so the queue shows work still to do.
        p = projects.open_project(project)
        try:
            me = projects.add_rater(p, PREVIEW_RATER)
        finally:
            p.close()
        w.open_project(project, rater_id=me.id)
        _spin_until(lambda: w.controller is not None and w.controller.item is not None)
    return w


def _open_first_with_images(w) -> None:  # type: ignore[no-untyped-def]
    seen: set[int] = set()
    for row in list(w.queue.model.rows):
        if row.case_id in seen:
            continue
        seen.add(row.case_id)
        w.open_item(row.output_id)
        target: int = row.output_id
        _spin_until(lambda: w.controller.item.output_id == target)  # noqa: B023
        if w.controller.item.series:
            break
    viewer = w.view.image_pane.viewer
    _spin_until(lambda: getattr(viewer, "current_frame", lambda: 1)() is not None, 10)
    if hasattr(viewer, "set_slice") and viewer.slice_count() > 2:
        # The middle of a series shows anatomy (and the demo head CT's haematoma), not the base.
        middle = viewer.slice_count() * 3 // 5
        viewer.set_slice(middle)
        _spin_until(lambda: viewer.current_frame() is not None
                    and viewer.current_index() == middle, 10)
    _settle(600)


def _mark_region(w) -> None:  # type: ignore[no-untyped-def]
    """Draw a rectangle on the slice shown (the demo head CT's haematoma) and give it a
    meaning, as a rater would with the Rect tool."""
    viewer = w.view.image_pane.viewer
    if not hasattr(viewer, "current_index") or not w.controller.item.series:
        return
    atts = w.controller.item.series[0].attachments
    path = atts[viewer.current_index()].path
    w.view.image_pane.sig_region_drawn.emit({
        "shape": "rect", "coords": [[20, 48], [44, 136]], "frame": 0,
        "series_uid": w.controller.item.series[0].series_uid, "path": str(path)})
    index = w.view.panel.regions.rows[0][0] if w.view.panel.regions.rows else None
    if index is not None:
        w.view._on_region_meaning(index, "finding_here")
    _settle(300)


def _viewer_tools(w) -> None:  # type: ignore[no-untyped-def]
    """The image pane maximised (M) on the head CT, with an ellipse ROI inside the haematoma,
    a length (inner table to midline) and an angle, as drawn with the E, L and A tools."""
    from PySide6.QtCore import QPointF

    viewer = w.view.image_pane.viewer
    if not hasattr(viewer, "set_tool"):
        return
    w.view.image_pane.toggle_maximised()
    _settle(300)
    viewer.fit()
    viewer.set_tool("length")
    viewer._on_measure("length", [QPointF(49.0, 126.0), QPointF(96.0, 126.0)])
    viewer._on_measure("angle", [QPointF(150.0, 150.0), QPointF(120.0, 130.0),
                                 QPointF(160.0, 120.0)])
    viewer.set_tool("ellipse")
    viewer._on_shape("ellipse", QPointF(42.0, 80.0), QPointF(48.0, 104.0))
    _settle(300)


def _keys(widget, text: str) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    for ch in text:
        QTest.keyClicks(QApplication.focusWidget() or widget, ch)
        _settle(30)


def _lead_screen(name: str, w):  # type: ignore[no-untyped-def]
    """The study lead's windows, opened from the main window's menus on the demo project."""
    if name == "dashboard":
        w.show_dashboard()
        dash = w.tool_windows["dashboard"]
        dash.resize(1400, 900)
        _spin_until(lambda: dash.stack.currentWidget() is dash.tabs, 120)
        return dash
    if name == "raters":  # the dashboard's Raters tab, in 20-item windows of the demo
        w.show_dashboard()
        dash = w.tool_windows["dashboard"]
        dash.resize(1400, 900)
        _spin_until(lambda: dash.stack.currentWidget() is dash.tabs, 120)
        tab = dash.raters
        dash.tabs.setCurrentWidget(tab)
        tab.window_box.setCurrentIndex(tab.window_box.findData("20"))
        tab.report = None
        tab.refresh()
        _spin_until(lambda: tab.report is not None and not tab.job.running, 120)
        return dash
    if name == "calibration":
        w.show_calibration()
        cal = w.tool_windows["calibration"]
        cal.resize(1440, 920)
        _spin_until(lambda: cal.outcome is not None and not cal.job.running, 120)
        return cal
    if name == "adjudication":
        w.show_adjudication()
        adj = w.tool_windows["adjudication"]
        adj.resize(1680, 980)
        _spin_until(lambda: adj.queue.items != [] and adj.item is not None, 60)
        return adj
    if name == "judge-run":
        from medreview.judge.testing_server import FakeOpenAIServer

        server = FakeOpenAIServer(delay_s=0.01).start()
        w.show_judge_dialog()
        dlg = w.tool_windows["judge"]
        dlg.resize(1220, 800)
        dlg.form.url.setText(server.url)
        dlg.form.model.setText("demo-judge-2")
        dlg.form.limit.setValue(12)
        _settle(600)
        done: list[object] = []
        dlg.sig_finished.connect(done.append)
        dlg.start()
        _spin_until(lambda: bool(done), 120)
        _settle(800)
        server.stop()
        return dlg
    if name == "judge-eval":
        w.show_judge_eval()
        ev = w.tool_windows["judge_eval"]
        ev.resize(1560, 900)
        _spin_until(lambda: ev.report is not None and not ev.job.running, 120)
        return ev
    if name == "qualification":  # the demo's round: three physicians passed, one narrowly
        from medreview.qt.study.qualification import QualificationDialog

        qual = QualificationDialog(w.project, w.executor, w.bus, w)
        qual.show()
        _spin_until(lambda: qual.view is not None and qual.table.rowCount() > 0, 60)
        return qual
    if name == "escalation":  # the items the demo's rule gave seniors; a stricter rule tried
        from medreview.qt.study.escalation_dialog import EscalationDialog

        esc = EscalationDialog(w.project, w.executor, w.bus, w)
        esc.show()
        _spin_until(lambda: esc.table.rowCount() > 0, 60)
        esc.disagreement.setValue(0.4)
        esc.save_rules()
        _spin_until(lambda: esc.status.text().startswith("Rules saved"), 60)
        esc.run(dry_run=True)
        _spin_until(lambda: esc.status.text().startswith("Would"), 60)
        return esc
    if name == "assign":
        from medreview.qt.study.assign_dialog import AssignDialog

        dlg = AssignDialog(w.project, w.executor, w.bus, w)
        dlg.show()
        _settle(1500)
        return dlg
    from medreview.qt.export_dialog import ExportDialog
    from medreview.services.study import auto_gold

    # Gold labels where the physicians agree, so the training files have records to show.
    w.executor.submit(auto_gold, w.project).result()
    exp = ExportDialog(w.project, w.executor, w)
    for kind in ("sft", "dpo", "criteria"):
        exp.kind_boxes[kind].setChecked(True)
    exp.show()
    written: list[object] = []
    exp.sig_done.connect(written.append)
    exp.start()
    _spin_until(lambda: bool(written), 60)
    return exp


def _over(window: QWidget, dialog: QWidget) -> QWidget:
    """The grading window with ``dialog`` drawn over its middle, title bar and all, as a
    physician sees it (offscreen, a grab of either window holds only that window)."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QPainter
    from PySide6.QtWidgets import QLabel

    dialog.show()
    _settle(300)
    shot = window.grab()
    top = dialog.grab()
    bar = 28
    x = (shot.width() - top.width()) // 2
    y = max(bar, (shot.height() - top.height() - bar) // 2 + bar)
    painter = QPainter(shot)
    painter.fillRect(x + 6, y - bar + 6, top.width(), top.height() + bar, QColor(0, 0, 0, 60))
    title = QRect(x, y - bar, top.width(), bar)
    painter.fillRect(title, QColor("#dfe3e8"))
    painter.setPen(QColor("#1f2328"))
    painter.drawText(title.adjusted(10, 0, -10, 0),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     dialog.windowTitle())
    painter.drawPixmap(x, y, top)
    painter.setPen(QColor("#8c959f"))
    painter.drawRect(x - 1, y - bar - 1, top.width() + 1, top.height() + bar + 1)
    painter.end()
    dialog.hide()
    label = QLabel(window, Qt.WindowType.Window)  # a child of the window: closed with it
    label.setPixmap(shot)
    label.resize(shot.size())
    label.show()
    return label


def _answer_all(w, keys: str = "y") -> int:  # type: ignore[no-untyped-def]
    """Answer every required question of the item in hand with ``keys`` (cycled) and submit
    it from the keyboard (Ctrl+Enter); the id of the item submitted."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    c = w.controller
    first = c.item.output_id
    n = 0
    while c.missing():
        w.view.panel.show_first_missing(c.missing())
        _keys(w, keys[n % len(keys)])
        n += 1
    QTest.keyClick(w.view.panel, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    _spin_until(lambda: c.item.output_id != first)
    c.flush_blocking()
    return int(first)


def _study_screen(name: str, path: Path, settings: Path):  # type: ignore[no-untyped-def]
    """A physician's screens of the study design (issue #18) on the full demo."""
    from medreview.services import projects

    if name == "qualification-feedback":  # the preview physician is given a round first
        from medreview.services.qualification import set_up_round

        p = projects.open_project(path)
        try:
            set_up_round(p, (PREVIEW_RATER,), from_gold=5, seed=0, by="demo lead")
        finally:
            p.close()
    w = _window(path, "light", settings)
    if name == "qualification-feedback":
        from medreview.qt.study.qualification import FeedbackDialog

        _answer_all(w, "yyn")
        _spin_until(lambda: (d := w.findChild(FeedbackDialog)) is not None and d.isVisible(), 60)
        _settle(400)
        return _over(w, w.findChild(FeedbackDialog))
    if name == "peer-comments":  # after submitting an item, the others' comments on it
        from medreview.demo.build import load_demo_cases
        from medreview.qt.grading.peer_comments import CommentsDialog
        from medreview.services.comments import item_comments

        # An answer with errors in it, so each physician's comment names one.
        flawed = {(c["id"], a["model"]) for c in load_demo_cases() for a in c["answers"]
                  if a.get("errors")}
        row = next(r for r in w.queue.model.rows if (r.case_external_id, r.model) in flawed)
        w.open_item(row.output_id)
        _spin_until(lambda: w.controller.item.output_id == row.output_id)
        done = _answer_all(w, "yyn")
        w.open_item(done)
        _spin_until(lambda: w.controller.item.output_id == done)
        w.view.panel.verticalScrollBar().setValue(0)
        item = w.controller.item
        view = w.executor.submit(item_comments, w.project, done, w.controller.rater_id).result()
        _settle(300)
        return _over(w, CommentsDialog(view, f"{item.case.title} — {item.shown_model}", w))
    # cannot-assess: criteria met, not met and not applicable (X), then C and a reason
    from medreview.domain.not_assessed import REASONS
    from medreview.qt.grading.cannot_assess_dialog import CannotAssessDialog

    _keys(w, "ynx")
    w.controller.flush_blocking()
    dlg = CannotAssessDialog(None, w.view)
    dlg.buttons[next(iter(REASONS))].setChecked(True)
    dlg.note.setText("No allergy or bleeding history is given, so the aspirin advice cannot "
                     "be judged.")
    return _over(w, dlg)


def make_screen(name: str, folder: Path):  # type: ignore[no-untyped-def]
    """Build screen ``name`` (one of SCREENS) and return the widget to grab."""
    settings = folder / f"{name}.ini"
    if name in LEAD_SCREENS:
        path = (build_full_preview(folder, name) if name in FULL_DEMO_SCREENS
                else build_preview_project(folder, copy_as=name))
        if name == "judge-eval":  # the demo's second judge prompt version, as `medreview demo`
            from medreview.demo.judge_versions import add_to_demo

            add_to_demo(path)
        if name == "dashboard":  # cannot-assess marks, as `medreview demo`
            from medreview.demo.not_assessed import add_to_demo as add_not_assessed

            add_not_assessed(path)
        if name == "raters":  # hidden gold and attention rounds, as `medreview demo`
            from medreview.demo.checks import add_to_demo as add_hidden_items

            add_hidden_items(path)
        w = _window(path, "light", settings)
        return _lead_screen(name, w)
    if name == "welcome":
        w = _window(None, "light", settings)
        w.welcome.set_recent([str(build_preview_project(folder))])
        return w
    if name in ("form-editor", "guidelines"):
        from medreview.qt.form_editor import preview_screens

        w = _window(build_preview_project(folder, copy_as=name), "light", settings)
        if name == "guidelines":
            _open_first_with_images(w)
        return preview_screens.make(name, w)
    if name == "server-open":  # as a rater pastes what `medreview team add-rater` printed
        from medreview.qt.server_open_dialog import ServerOpenDialog

        login = ServerOpenDialog(_window(None, "light", settings),
                                 url="postgresql://sepsis_study_dr_okafor@db.hospital.example:5432/sepsis_study")
        login.show()
        return login
    if name == "new-project":
        from medreview.qt.new_project_dialog import preview_dialog

        return preview_dialog(_window(None, "light", settings))
    if name in FULL_DEMO_SCREENS:
        return _study_screen(name, build_full_preview(folder, name), settings)
    if name == "pairwise":
        w = _window(build_preview_project(folder, pairwise=True), "light", settings)
        _spin_until(lambda: w.view.other_answer.source != "")
        _keys(w, "1")
        return w
    project = build_preview_project(folder, copy_as=name)
    w = _window(project, "dark" if name == "grading-dark" else "light", settings)
    if name in ("grading", "grading-dark", "history"):
        _open_first_with_images(w)
        _keys(w, "4j")
        if name == "grading":
            _mark_region(w)
    if name == "viewer-tools":
        _open_first_with_images(w)
        _viewer_tools(w)
    if name == "error-span":
        from PySide6.QtGui import QTextCursor

        w.view.image_pane.hide()
        browser = w.view.answer_view.browser
        cur = browser.textCursor()
        cur.movePosition(QTextCursor.MoveOperation.Start)
        cur.movePosition(QTextCursor.MoveOperation.NextBlock)
        cur.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        browser.setTextCursor(cur)
        w.view.tag_selection()
        _keys(w, "12")
        w.view.answer_view.browser.setTextCursor(QTextCursor(browser.document()))
        bar = w.view.panel.verticalScrollBar()
        bar.setValue(bar.maximum())  # show the recorded entry under the category buttons
    if name == "queue-done":
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        for _ in range(5):  # finish five items from the keyboard: every criterion "met"
            c = w.controller
            first = c.item.output_id
            while c.missing():
                w.view.panel.show_first_missing(c.missing())
                _keys(w, "y")
            QTest.keyClick(w.view.panel, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            _spin_until(lambda: c.item.output_id != first)  # noqa: B023
        # and one the rater cannot assess (C and a reason): a state of its own in the queue
        from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, cannot_assess_value

        first = c.item.output_id
        c.set_answer(CANNOT_ASSESS_KEY, cannot_assess_value("outside_specialty"))
        QTest.keyClick(w.view.panel, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        _spin_until(lambda: c.item.output_id != first)
        w.controller.flush_blocking()
        _settle(300)
        w.queue.set_status_tab("done")
    if name == "cheatsheet":
        from medreview.qt.cheatsheet import CheatSheetDialog

        dlg = CheatSheetDialog(w)
        dlg.show()
        return dlg
    if name == "history":
        from medreview.qt.grading.history_dialog import HistoryDialog

        _keys(w, "y")
        w.controller.flush_blocking()
        _keys(w, "kn")
        w.controller.flush_blocking()
        _settle(200)
        hist: QWidget = HistoryDialog(w.controller.history().result(),
                                      w.controller.item.questions(), w)
        hist.show()
        return hist
    _settle(300)
    return w


def grab(widget, out: Path) -> Path:  # type: ignore[no-untyped-def]
    _settle(300)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(out), "PNG"):
        raise OSError(f"could not write {out}")
    return out


def _close(widget) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialog

    from medreview.qt.main_window import MainWindow

    top = widget if isinstance(widget, MainWindow) else widget.parent()
    if isinstance(widget, QDialog):
        # done(), not close(): a screen staged with unsaved edits (the form editor) would ask
        # "drop the unsaved changes?" in a modal box that nobody answers offscreen
        widget.done(0)
    widget.close()
    if isinstance(top, MainWindow):
        top.close()


def write_screenshots(out_dir: Path, work: Path | None = None) -> list[Path]:
    """Write every screen in ``SCREENS`` to ``out_dir/<name>.png`` (offscreen is fine)."""
    with tempfile.TemporaryDirectory(prefix="medreview-shots-") as tmp:
        folder = work or Path(tmp)
        written = []
        for name in SCREENS:
            widget = make_screen(name, folder)
            written.append(grab(widget, out_dir / f"{name}.png"))
            _close(widget)
        return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medreview.qt.preview")
    parser.add_argument("screen", choices=SCREENS)
    parser.add_argument("--out", type=Path, help="write a PNG instead of showing the screen")
    args = parser.parse_args(argv)
    if args.out is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="medreview-preview-") as tmp:
        os.environ.setdefault("MEDREVIEW_HOME", str(Path(tmp) / "home"))
        widget = make_screen(args.screen, Path(tmp))
        if args.out is not None:
            grab(widget, args.out)
            _close(widget)
            return 0
        from PySide6.QtWidgets import QApplication

        return QApplication.instance().exec()  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
