"""MainWindow: the welcome page or the grading screen, the queue, menus and status bar.

It owns the project, the database executor, the ChangeBus and the grading controller; every
project call goes through ``services`` on the executor. Shortcuts come from ``qt/keys.py``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for_all
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.domain.judgment import JudgmentDraft
from medreview.qt.about import show_about
from medreview.qt.bridge import MessageRelay, Op, retire, run_modal
from medreview.qt.cheatsheet import CheatSheetDialog
from medreview.qt.form_editor.guideline_pane import GuidelineDock
from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.grading_view import GradingView
from medreview.qt.grading.history_dialog import HistoryDialog
from medreview.qt.grading.leases import attach_leases
from medreview.qt.grading.peer_comments import attach_escalation
from medreview.qt.grading.queue_pane import QueuePane
from medreview.qt.keys import menu_key
from medreview.qt.messages import show_error, show_warning
from medreview.qt.settings import UiSettings
from medreview.qt.shortcuts import install_shortcuts
from medreview.qt.status import banner_label
from medreview.qt.study.escalation_dialog import show_escalation_dialog
from medreview.qt.study.qualification import attach_qualification, show_qualification_dialog
from medreview.qt.theme import THEMES, apply_theme, current_theme
from medreview.qt.welcome import WelcomePage
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import DbExecutor, Executor, WorkExecutor
from medreview.services import grading
from medreview.services.grading_screen import has_pairwise, next_open, pair_partner, with_status
from medreview.services.server_projects import ServerLogin, is_server_url
from medreview.services.views import ItemView, QueueRow, RaterView, SaveResult

if TYPE_CHECKING:
    from medreview.qt.server_open_dialog import ServerOpenDialog
    from medreview.services.projects import Project

# The storage layer (SQLAlchemy, Alembic) and the dialogs are imported when first used (a
# project opened, a dialog shown), so the window is up before they load:
# tests/qt/test_startup_imports.py lists what importing this module loads.

log = logging.getLogger(__name__)

# An opened project, its raters, its uid, whether this login may add raters, and why its
# media cannot be shown here (None: they can).
Opened = tuple["Project", list["RaterView"], str, bool, "str | None"]


def _open_and_read(path: Path | ServerLogin) -> Opened:
    """On the new project's database thread: open it, its raters, its uid and whether this
    login may add raters, in one step."""
    from medreview.services import projects

    if isinstance(path, ServerLogin):  # a server project, its password apart from the URL
        from medreview.services.server_projects import open_server

        project = open_server(path)
    else:
        project = projects.open_project(path)
    try:
        return (project, projects.list_raters(project), project.uid,
                projects.may_add_raters(project), projects.media_problem(project))
    except BaseException:
        project.close()
        raise


def _nothing() -> None:
    return None


def _close_behind(project: Project | None, opening: Future[Any] | None,
                  saves: list[Future[Any]], runs: Iterable[Future[Any]] = ()) -> None:
    """On the closing project's database thread, after everything queued before it (the
    last saves): wait for the ``runs`` still writing (a judge run told to cancel: the engine
    is never disposed under a running writer), close the database (or the one still being
    opened) and say if a save failed."""
    wait_for_all(list(runs))
    if project is None and opening is not None and opening.done() and not opening.cancelled() \
            and opening.exception() is None:
        project = opening.result()[0]  # opened, but nobody took it: close it too
    if project is not None:
        try:
            project.close()
        except Exception:  # nothing the rater can do about it; the saves are what matter
            log.exception("closing %s failed", project.path)
    failed = [f.exception() for f in saves if f.done() and not f.cancelled() and f.exception()]
    from medreview.services.draft_spool import is_connection_lost

    if failed and all(e is not None and is_connection_lost(e) for e in failed):
        raise RuntimeError(f"the server was unreachable: {len(failed)} change(s) are kept on "
                           "this computer and saved when the project next opens")
    if failed:
        raise RuntimeError(f"{len(failed)} change(s) could not be saved before the project "
                           f"closed: {failed[0]}")


RUN_STOP_WAIT = ("Waiting for the judge run to stop… (its finished items are saved; the "
                 "project closes once it has)")

SERVER_PRELOAD = 3  # items fetched ahead on a server project (the session keeps up to 8)

# Who browses a read-only project nobody has graded in yet: no rater is created (nothing can be
# saved), the queue shows every item with no grades.
VIEWER = RaterView(0, "read-only viewer", "viewer", "", False)


class MainWindow(QMainWindow):
    _quit_when_closed = False  # quitting waits (off the UI thread) for a judge run to stop

    def __init__(self, settings: UiSettings | None = None,
                 executor_factory: Callable[[], Executor] = DbExecutor) -> None:
        super().__init__()
        self.settings = settings or UiSettings()
        self._executor_factory = executor_factory
        self.executor: Executor | None = None
        self.work: Executor = WorkExecutor()  # statistics and other pure computation
        self.tool_windows: dict[str, QWidget] = {}  # dashboard, calibration, adjudication…
        self.project: Project | None = None
        self.project_uid = ""
        self.rater: RaterView | None = None
        self.raters: list[RaterView] = []
        self.bus = ChangeBus()
        self.controller: GradingController | None = None
        self.reveal_models = False
        self._busy = False  # opening a project: busy cursor
        self._opening: Future[Any] | None = None  # the open still running, if any
        self._splitters_restored = False
        self._splitters_settle = False  # apply the saved sizes again after the first item
        self.setWindowTitle("medreview")
        self.setAcceptDrops(True)
        self.resize(1600, 960)
        self.welcome = WelcomePage()
        self.welcome.sig_browse.connect(self.browse_project)
        self.welcome.sig_package.connect(self.open_package)
        self.welcome.sig_new.connect(self.new_project)
        self.welcome.sig_demo.connect(self._open_demo)
        self.welcome.sig_open.connect(self.open_project)  # a folder or a server URL
        self.welcome.sig_server.connect(lambda: self.open_server_dialog())
        self.queue = QueuePane()
        self.queue.sig_open.connect(self.open_item)
        self.view = GradingView()
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.queue)
        self.split.addWidget(self.view)
        self.split.setSizes([360, 1240])
        self.split.setCollapsible(1, False)  # the queue may fold away; grading may not
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.split)
        # A read-only project (archive, read-only share, --read-only) says so above everything.
        self.read_only_banner = banner_label("readOnlyBanner")
        # A server project whose shared media folder is not reachable here: grading works,
        # images do not, and the line says which folder and how to point at it.
        self.media_banner = banner_label("mediaBanner")
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.read_only_banner)
        column.addWidget(self.media_banner)
        column.addWidget(self.stack)
        self.setCentralWidget(central)
        # The rubric's grading guidelines beside the panel, on demand (G); hidden at first.
        self.guidelines = GuidelineDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.guidelines)
        self._build_toolbar()
        self._build_menus()
        self.save_label = QLabel("")
        self.save_label.setObjectName("saveState")
        self.statusBar().addPermanentWidget(self.save_label)
        # "waiting for another writer (…)" from the database thread, shown on this thread.
        self.writer_wait = MessageRelay(self)
        self.writer_wait.sig_message.connect(self._on_writer_wait)
        self.shortcuts: dict[str, list[QShortcut]] = install_shortcuts(self)
        self.bus.subscribe(self._on_bus_changed)
        self.welcome.set_recent(self.settings.recent_projects())
        self._show_project_controls(False)
        self._restore_layout()

    # chrome -----------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        open_act = QAction("Open project…", self)
        open_act.setShortcut(QKeySequence(menu_key("open_project")))
        open_act.triggered.connect(self.browse_project)
        bar.addAction(open_act)
        bar.addSeparator()
        self.rater_label = bar.addWidget(QLabel(" I am: "))
        self.rater_box = QComboBox()
        self.rater_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.rater_box.setMinimumWidth(180)
        self.rater_box.activated.connect(self._on_rater_box_activated)
        self.rater_action = bar.addWidget(self.rater_box)
        bar.addSeparator()
        self.reveal_act = QAction("Reveal model names", self)
        self.reveal_act.setCheckable(True)
        self.reveal_act.toggled.connect(self._on_reveal_act_toggled)
        bar.addAction(self.reveal_act)
        self.history_act = QAction("History", self)
        self.history_act.triggered.connect(self.show_history)
        bar.addAction(self.history_act)
        self.guidelines_act = self.guidelines.toggleViewAction()
        self.guidelines_act.setText("Guidelines (G)")
        bar.addAction(self.guidelines_act)
        theme = QAction("Light/dark", self)
        theme.triggered.connect(self.toggle_theme)
        bar.addAction(theme)
        keys = QAction("Keys (?)", self)
        keys.triggered.connect(self.show_cheatsheet)
        bar.addAction(keys)

    def _build_menus(self) -> None:
        """Menus for the lead's and adjudicator's work; grading itself stays on the keys."""
        bar = self.menuBar()

        def add(menu: Any, text: str, slot: Callable[[], object], shortcut: str = "",
                project: bool = True) -> QAction:
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(lambda _checked=False: slot())
            menu.addAction(act)
            if project:
                self.project_actions.append(act)
            return act

        self.project_actions: list[QAction] = []
        self.write_actions: list[QAction] = []  # off while the project is read-only
        m = bar.addMenu("&Project")
        add(m, "New project…", self.new_project, menu_key("new_project"), project=False)
        add(m, "Open project…", self.browse_project, project=False)
        add(m, "Open server project…", self.open_server_dialog, project=False)
        add(m, "Open a rater package…", self.open_package, project=False)
        add(m, "Return this package to the study lead…", self.return_package)
        self.write_actions.append(
            add(m, "Import cases, answers, images…", self.show_import_dialog,
                menu_key("import")))
        add(m, "Export…", self.show_export_dialog, menu_key("export"))
        m.addSeparator()
        add(m, "Close project", self.close_to_welcome)
        add(m, "Quit", self.close, menu_key("quit"), project=False)
        m = bar.addMenu("&Study")
        self.write_actions += [
            add(m, "Assign raters…", self.show_assign_dialog),
            add(m, "Make rater packages…", self.make_packages),
            add(m, "Merge returned packages…", self.show_merge_dialog)]
        m.addSeparator()
        self.write_actions += [  # the study's quality design
            add(m, "Qualification…", lambda: show_qualification_dialog(self)),
            add(m, "Escalation rules…", lambda: show_escalation_dialog(self))]
        m.addSeparator()
        self.write_actions += [
            add(m, "Edit rubric and guidelines…", lambda: self.show_form_editor("rubric")),
            add(m, "Edit error taxonomy…", lambda: self.show_form_editor("taxonomy"))]
        m.addSeparator()
        self.write_actions.append(
            add(m, "Adjudicate disagreements", self.show_adjudication, menu_key("adjudicate")))
        m = bar.addMenu("&Analysis")
        add(m, "Agreement dashboard", self.show_dashboard, menu_key("dashboard"))
        m.addSeparator()
        self.write_actions.append(
            add(m, "Run the LLM judge…", self.show_judge_dialog, menu_key("judge_run")))
        add(m, "Judge calibration", self.show_calibration, menu_key("calibration"))
        add(m, "Judge evaluation (prompt versions)", self.show_judge_eval,
            menu_key("judge_eval"))
        m = bar.addMenu("&Help")
        add(m, "Keyboard cheat sheet", self.show_cheatsheet, project=False)
        add(m, "About medreview", self.show_about, project=False)

    def _show_project_controls(self, on: bool) -> None:
        """The rater picker and item actions mean nothing on the welcome page."""
        for action in (self.rater_label, self.rater_action, self.reveal_act, self.history_act,
                       self.guidelines_act):
            action.setVisible(on)
        if not on:
            self.guidelines.hide()
        for act in getattr(self, "project_actions", ()):
            act.setEnabled(on)
        if on and self.read_only:
            for act in self.write_actions:
                act.setEnabled(False)

    @property
    def read_only(self) -> bool:
        return self.project is not None and self.project.read_only_reason is not None

    # project and rater ------------------------------------------------------------------------
    def new_project(self) -> None:
        """Project → New project… (and the start page's button): see qt/new_project_dialog."""
        from medreview.qt.new_project_dialog import new_project

        new_project(self)

    def _open_demo(self) -> None:
        from medreview.qt.new_project_dialog import open_demo

        open_demo(self)

    def browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a medreview project folder")
        if folder:
            self.open_project(Path(folder))

    def open_project(self, path: Path | str, rater_id: int | None = None) -> bool:
        """Start opening ``path`` (a folder, or a server URL) on a new database thread; False
        if it is not a project. The window stays responsive (busy cursor, a status line) until
        the project is open."""
        from medreview.services import projects

        if isinstance(path, str) and is_server_url(path):
            return self.open_server(ServerLogin(path), rater_id=rater_id)
        path = Path(path)
        if not projects.is_project(path):
            show_warning(self, "Not a project",
                         f"{path} is not a medreview project (no project.sqlite).")
            return False
        self.close_project()
        executor = self._executor_factory()
        self.executor = executor
        self._set_busy(f"Opening {path.name}…")
        self._opening = Op(self, _open_and_read, path).latest("open") \
            .success(lambda opened: self._on_project_opened(executor, path, opened, rater_id)) \
            .failure(lambda exc: self._on_open_failed(executor, exc)).run(executor)
        return True

    def _set_busy(self, text: str | None) -> None:
        """Opening or closing a project: a busy cursor and a line in the status bar."""
        if text:
            if not self._busy:
                QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
            self._busy = True
            self.statusBar().showMessage(text)
        elif self._busy:
            self._busy = False
            QApplication.restoreOverrideCursor()
            self.statusBar().clearMessage()

    # server projects ------------------------------------------------------------------------
    def open_server_dialog(self, url: str = "", error: str = "") -> ServerOpenDialog:
        """Project → Open server project…: the dialog stays up while connecting; a refusal
        is one line in it (see qt/server_open_dialog.py)."""
        from medreview.qt.server_open_dialog import ServerOpenDialog

        dialog = ServerOpenDialog(self, url, error)
        dialog.sig_open.connect(lambda login: self.open_server(login, dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.rejected.connect(self.restore_grading_focus)  # cancelled: keys back to grading
        dialog.open()
        return dialog

    def open_server(self, login: ServerLogin, dialog: ServerOpenDialog | None = None,
                    rater_id: int | None = None) -> bool:
        """Open a server project (from the dialog, the recent list or ``medreview gui URL``);
        what is shown and remembered is the URL without a password."""
        from medreview.errors import MedreviewError
        from medreview.services.server_projects import display_url

        try:
            shown = display_url(login.url)
        except MedreviewError as exc:
            self._server_refused(login.url, exc.message, dialog)
            return False
        self.close_project()
        executor = self._executor_factory()
        self.executor = executor

        def opened(result: Opened) -> None:
            if dialog is not None and executor is self.executor:
                dialog.accept()
            self._on_project_opened(executor, shown, result, rater_id)

        self._set_busy(f"Opening {shown}…")
        self._opening = Op(self, _open_and_read, login).latest("open").success(opened) \
            .failure(lambda exc: self._on_open_failed(executor, exc, (shown, dialog))) \
            .run(executor)
        return True

    def _server_refused(self, url: str, line: str, dialog: ServerOpenDialog | None) -> None:
        if dialog is not None and dialog.isVisible():
            dialog.show_error(line)
        else:  # from the recent list or the command line: ask again, saying why
            self.open_server_dialog(url, line)

    def _on_open_failed(self, executor: Executor, exc: BaseException,
                        server: tuple[str, ServerOpenDialog | None] | None = None) -> None:
        if executor is not self.executor:
            return  # another project was asked for meanwhile
        self._set_busy(None)
        self._opening = None
        executor.shutdown(wait=False)
        self.executor = None
        self.close_to_welcome()  # the project shown before is closed already
        if server is not None:  # one line in the dialog (the storage layer took the password
            shown, dialog = server  # out of any driver error already)
            self._server_refused(shown, (str(exc).splitlines() or [type(exc).__name__])[0],
                                 dialog)
            return
        show_error(self, "Cannot open project", str(exc))

    def _on_project_opened(self, executor: Executor, path: Path | str,
                           opened: Opened,
                           rater_id: int | None) -> None:
        project, raters, uid, may_add_raters, media_problem = opened
        if executor is not self.executor:
            return  # superseded: close_project queued its closing already
        self._set_busy(None)
        self._opening = None
        self.project_uid = uid
        self.project = project
        from medreview.services.access import on_writer_wait

        on_writer_wait(self.writer_wait.post)
        self._show_read_only(project.read_only_reason)
        self.media_banner.setText(f"Images cannot be shown: {media_problem}" if media_problem
                                  else "")
        self.media_banner.setVisible(media_problem is not None)
        self.raters = [r for r in raters if r.kind == "physician"]
        if self.read_only and not self.raters:
            self.raters = [VIEWER]  # nobody to ask "who is grading?": nothing is saved
        self.settings.add_recent(path)
        self.welcome.set_recent(self.settings.recent_projects())
        # A server project by its location (the URL without a password), a folder by name.
        self.setWindowTitle(f"medreview — {path.name if isinstance(path, Path) else path}")
        self.rater_box.clear()
        for r in self.raters:
            self.rater_box.addItem(r.name, r.id)
        if not self.read_only and may_add_raters:  # a physician's server login may not
            self.rater_box.addItem("＋ New rater…", -1)
        chosen = rater_id or self.settings.last_rater(self.project_uid)
        if chosen not in {r.id for r in self.raters}:
            chosen = self.raters[0].id if self.raters else None
        if chosen is None:
            name, ok = QInputDialog.getText(self, "Who is grading?", "Your name:")
            if ok and name.strip():
                self._add_rater(name.strip(), self._start_grading)
            return
        self._start_grading(chosen)

    def _start_grading(self, rater_id: int) -> None:
        self.set_rater(rater_id)
        self.activateWindow()  # after a file or package dialog: the keys come here
        self.restore_grading_focus()

    def _add_rater(self, name: str, then: Callable[[int], None]) -> None:
        """Add a physician on the database thread, then ``then(rater_id)``."""
        from medreview.services import projects

        assert self.project is not None and self.executor is not None

        def added(rv: RaterView) -> None:
            self.raters.append(rv)
            self.rater_box.insertItem(self.rater_box.count() - 1, rv.name, rv.id)
            then(rv.id)

        Op(self, projects.add_rater, self.project, name).success(added).failure(
            lambda exc: show_error(self, "Cannot add the rater", str(exc))).run(self.executor)

    def _on_rater_box_activated(self, index: int) -> None:
        rid = self.rater_box.itemData(index)
        if rid == -1:
            name, ok = QInputDialog.getText(self, "New rater", "Name:")
            if ok and name.strip():
                self._add_rater(name.strip(), self._switch_rater)
            elif self.rater is not None:  # the box shows the rater still grading
                self.rater_box.setCurrentIndex(self.rater_box.findData(self.rater.id))
            return
        self._switch_rater(int(rid))

    def _switch_rater(self, rater_id: int) -> None:
        if self.rater is None or rater_id != self.rater.id:
            self.set_rater(rater_id)

    def set_rater(self, rater_id: int) -> None:
        assert self.project is not None and self.executor is not None
        if self.controller is not None:
            # Its last save is queued on the database thread ahead of everything the next
            # controller asks for, so nothing waits here.
            self.controller.close()
            self.controller.deleteLater()
        self.rater = next(r for r in self.raters if r.id == rater_id)
        self.rater_box.setCurrentIndex(self.rater_box.findData(rater_id))
        if rater_id != VIEWER.id:
            self.settings.set_last_rater(self.project_uid, rater_id)
        from medreview.services.draft_spool import spool_for

        # A server project's saves are kept on this disk until the server has them, in a file
        # of this project (its uid) and rater: see services/draft_spool.py.
        self.controller = GradingController(
            self.project, rater_id, self.executor, self.bus, parent=self,
            spool=spool_for(self.project, rater_id, self.project_uid))
        self.view.attach(self.controller)
        self.controller.sig_item_loaded.connect(self._on_controller_item_loaded)
        self.controller.sig_save_state.connect(self._on_controller_save_state)
        self.controller.sig_saved.connect(self._on_controller_saved)
        attach_qualification(self, self.controller)  # feedback, the closed-queue line
        attach_escalation(self, self.controller)  # why a senior was given the item
        self.controller.sig_load_failed.connect(
            lambda msg: self.statusBar().showMessage(f"Cannot open item: {msg}", 8000))
        self.controller.sig_refused.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        # A shared server project: hold a lease on the item shown (docs/TEAM.md).
        attach_leases(self.controller, on_move=self.open_item,
                      on_message=lambda msg: self.statusBar().showMessage(msg, 8000))
        self.view.panel.rationale.setReadOnly(self.read_only)
        self.stack.setCurrentWidget(self.split)
        self.split.setEnabled(True)
        self._show_project_controls(True)
        self._restore_splitters()
        # Saves a server never got last time (unreachable, a quit, a crash): sent before the
        # queue is read, so it shows them.
        self.controller.session.resume_kept()
        Op(self.controller, grading.load_queue, self.project, rater_id) \
            .success(self._on_queue_loaded).run(self.executor)

    def _on_queue_loaded(self, rows: list[QueueRow]) -> None:
        # The project-wide reveal setting is read from the first item (ItemView carries it).
        self.queue.set_rows(rows, self.reveal_models)
        if rows:
            first = next_open(rows, list(range(len(rows))), None)
            self.open_item(rows[first if first is not None else 0].output_id)
        else:
            self.statusBar().showMessage("This queue is empty.", 8000)

    def close_project(self, wait: bool = False) -> None:
        """Close the tool windows, stop the grading controller (its last save, its timer, the
        answers still coming) and close the database behind the last save, on the project's
        own thread. ``wait`` (the window closing): block until that is done."""
        runs: list[Future[Any]] = []
        for w in list(self.tool_windows.values()):
            release = getattr(w, "release", None)
            run = release() if release is not None else None
            if run is not None:  # a judge run cancelled: the closing below waits for it
                runs.append(run)  # off this thread (the run stays resumable)
            retire(w)
            w.close()
            w.deleteLater()
        self.tool_windows.clear()
        self.guidelines.clear()
        pending: list[Any] = []
        if self.controller is not None:
            self.split.setEnabled(False)  # the item shown until the next project is open
            pending = self.controller.close()
            # Deleted, so the grading view (attached to the next controller) stops feeding it.
            self.controller.deleteLater()
            self.controller = None
        executor, opening, self._opening = self.executor, self._opening, None
        if executor is not None and wait:
            closing = executor.submit(_close_behind, self.project, opening, pending, runs)
            executor.shutdown(wait=True)
            failed = closing.exception()
            if failed is not None:
                raise failed
        elif executor is not None:
            Op(self, _close_behind, self.project, opening, pending, runs) \
                .success(lambda _none: self._closed_behind(None)) \
                .failure(self._closed_behind).run(executor)
            executor.shutdown(wait=False)  # its thread ends once the closing has run
        self._set_busy(None)
        if runs and not wait:
            self.statusBar().showMessage(RUN_STOP_WAIT)
        self.executor = None
        if self.project is not None:
            from medreview.services.access import on_writer_wait

            on_writer_wait(None)
        self.project = None
        self.rater = None
        self._show_read_only(None)
        self.media_banner.hide()

    def _closed_behind(self, exc: BaseException | None) -> None:
        """The closed project's last writer let go and its database is closed (or not)."""
        if self.statusBar().currentMessage() == RUN_STOP_WAIT:
            self.statusBar().clearMessage()
        if exc is not None:
            show_error(self, "Closing failed", str(exc))
        if self._quit_when_closed:
            QTimer.singleShot(0, self.close)  # the quit asked for while the run stopped

    def _show_read_only(self, reason: str | None) -> None:
        self.read_only_banner.setText(
            f"Read-only project: {reason}. You can browse, see statistics and export; "
            "grades, imports and merges cannot be saved." if reason else "")
        self.read_only_banner.setVisible(reason is not None)

    def _on_writer_wait(self, text: str) -> None:
        """A save waits for another writer (an import, a merge, another window): say so."""
        self.statusBar().showMessage(f"Saving is {text}. Your changes are kept.", 4000)

    def close_to_welcome(self) -> None:
        self.close_project()
        self.queue.clear_focus()
        self.stack.setCurrentWidget(self.welcome)
        self._show_project_controls(False)
        self.setWindowTitle("medreview")

    # the lead's windows -----------------------------------------------------------------------
    def _tool_window(self, key: str, make: Callable[[Project, Executor], QWidget]
                     ) -> QWidget | None:
        """One window per kind while the project is open; raised when asked for again."""
        if self.project is None or self.executor is None:
            return None
        w = self.tool_windows.get(key)
        if w is None:
            w = make(self.project, self.executor)
            self.tool_windows[key] = w
            sig = getattr(w, "sig_open_items", None)
            if sig is not None:
                sig.connect(self.focus_outputs)
            w.installEventFilter(self)  # its closing hands the keys back to grading
        w.show()
        w.raise_()
        w.activateWindow()
        return w

    def show_dashboard(self) -> None:
        from medreview.qt.stats.dashboard import DashboardWindow

        self._tool_window("dashboard", lambda p, db: DashboardWindow(
            p, db, self.work, self.bus, self))

    def show_calibration(self) -> None:
        from medreview.qt.stats.calibration_view import CalibrationWindow

        self._tool_window("calibration", lambda p, db: CalibrationWindow(
            p, db, self.work, self.bus, self))

    def show_judge_eval(self) -> None:
        from medreview.qt.judge_eval_window import JudgeEvalWindow

        self._tool_window("judge_eval", lambda p, db: JudgeEvalWindow(
            p, db, self.work, self.bus, self))

    def show_adjudication(self) -> None:
        from medreview.qt.study.adjudication import AdjudicationWindow

        self._tool_window("adjudication", lambda p, db: AdjudicationWindow(
            p, db, self.bus, self))

    def show_judge_dialog(self) -> None:
        from medreview.qt.judge.run_dialog import JudgeRunDialog

        def make(p: Project, db: Executor) -> JudgeRunDialog:
            dlg = JudgeRunDialog(p, db, self.bus, self)
            if self.rater is not None:  # consent is recorded under the rater's name
                dlg.consenter = f"{self.rater.name} ({dlg.consenter})"
            return dlg

        self._tool_window("judge", make)

    def show_import_dialog(self) -> None:
        from medreview.qt.import_dialog import ImportDialog

        if self.project is None or self.executor is None:
            return
        run_modal(ImportDialog(self.project, self.executor, self.bus, self))
        self.restore_grading_focus()

    def show_export_dialog(self) -> None:
        from medreview.qt.export_dialog import ExportDialog

        if self.project is None or self.executor is None:
            return
        if self.controller is not None:
            # Export what the screen shows as saved: the export runs on the database thread
            # behind this save.
            self.controller.flush()
        run_modal(ExportDialog(self.project, self.executor, self))
        self.restore_grading_focus()

    def show_assign_dialog(self) -> None:
        from medreview.qt.study.assign_dialog import AssignDialog

        if self.project is None or self.executor is None:
            return
        run_modal(AssignDialog(self.project, self.executor, self.bus, self))
        self.restore_grading_focus()

    def show_merge_dialog(self) -> None:
        from medreview.qt.study.packages import MergeDialog

        if self.project is None or self.executor is None:
            return
        run_modal(MergeDialog(self.project, self.executor, self.bus, self))
        self.restore_grading_focus()

    def make_packages(self) -> None:
        from medreview.qt.study.packages import make_packages_dialog

        if self.project is None or self.executor is None:
            return
        make_packages_dialog(self, self.project, self.executor)
        self.restore_grading_focus()

    def open_package(self) -> None:
        from medreview.qt.study.packages import open_package_dialog

        folder = open_package_dialog(self)
        if folder is not None:
            self.open_project(folder)
        else:
            self.restore_grading_focus()

    def return_package(self) -> None:
        from medreview.qt.study.packages import return_package_dialog

        if self.project is None or self.executor is None or self.controller is None:
            return
        self.controller.flush()
        folder = Path(self.project.path)

        def saved(_none: None) -> None:
            # The return file is written from the folder: every save has committed by now.
            return_package_dialog(self, folder)
            self.restore_grading_focus()

        # Nothing to do on the database thread but wait there behind the last save.
        Op(self, _nothing).success(saved).failure(
            lambda exc: show_error(self, "Cannot return the package", str(exc))).run(self.executor)

    def focus_outputs(self, output_ids: Iterable[int], label: str) -> None:
        """Narrow the queue to the items a dashboard or calibration row is about and open the
        first, so disagreements are one click from the grading screen."""
        if self.controller is None:
            return
        ids = frozenset(int(i) for i in output_ids)
        present = self.queue.set_focus(ids, label)
        self.raise_()
        self.activateWindow()
        if present:
            self.open_item(self.queue.model.row_at(0).output_id)
        else:
            name = self.rater.name if self.rater else "this rater"
            self.statusBar().showMessage(
                f"None of these {len(ids)} item(s) are in {name}'s queue; pick a rater who "
                "has them (or the lead, who sees every item).", 10000)
        self.view.panel.setFocus()

    # items ------------------------------------------------------------------------------------
    def current_output(self) -> int | None:
        c = self.controller
        return c.item.output_id if c is not None and c.item is not None else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A tool window closed (a dialog hides): without a window manager that re-activates
        # this window (and with some that don't), grading keys would do nothing until a click.
        if event.type() == QEvent.Type.Hide and not event.spontaneous() \
                and watched in self.tool_windows.values() and self.isVisible():
            QTimer.singleShot(0, self, self.restore_grading_focus)  # not after we are gone
        return super().eventFilter(watched, event)

    def restore_grading_focus(self) -> None:
        """Give the keys back to the grading panel when an item is shown and nothing in this
        window holds focus (after a dialog, a tool window, opening a project or a package)."""
        if self.controller is None or self.controller.item is None \
                or self.stack.currentWidget() is not self.split or not self.isVisible():
            return
        if QApplication.activeWindow() is None:  # the closed window left none active
            self.activateWindow()
        focus = self.focusWidget()
        if focus is None or not focus.isVisible() or not self.split.isAncestorOf(focus):
            self.view.panel.setFocus()

    def open_item(self, output_id: int) -> None:
        if self.controller is not None:
            self.controller.open_item(output_id)

    def _on_controller_item_loaded(self, item: ItemView) -> None:
        if self._splitters_settle:  # the item showed or hid the image pane: sizes again
            self._splitters_settle = False
            self._apply_saved_splitters()
        if item.reveal_model != self.reveal_models:
            self.reveal_models = item.reveal_model
            self.reveal_act.blockSignals(True)
            self.reveal_act.setChecked(item.reveal_model)
            self.reveal_act.blockSignals(False)
            self.queue.set_rows(self.queue.model.rows, self.reveal_models)
        self.queue.select_output(item.output_id)
        if self.project is not None and self.executor is not None:
            self.guidelines.follow(self.project, self.executor, self.controller, item)
        model = self.queue.model
        idx = model.row_index(item.output_id)
        # A server project fetches a few items ahead: grading goes on through a short outage.
        ahead = SERVER_PRELOAD if self.controller is not None \
            and self.controller.session.spool is not None else 1
        at = idx
        for _ in range(ahead):
            if at is None or self.controller is None:
                break
            nxt = next_open(model.rows, model.order, at)
            if nxt is None or nxt == idx:
                break
            self.controller.preload(model.rows[nxt].output_id)
            at = nxt
        if has_pairwise(item) and self.project is not None and self.executor is not None \
                and self.controller is not None:
            partner = pair_partner(model.rows, item.output_id)
            if partner is not None:
                Op(self.controller, grading.load_item, self.project,
                   self.rater.id if self.rater else 0, partner).latest("partner") \
                    .success(self._on_partner_loaded).run(self.executor)
        self.view.panel.setFocus()

    def _on_partner_loaded(self, partner: ItemView) -> None:
        c = self.controller
        if c is None or c.item is None or c.item.case.external_id != partner.case.external_id:
            return  # the rater moved on while the partner loaded
        c.set_partner(partner.output_id)
        self.view.show_partner(partner)

    def step_item(self, step: int) -> None:
        model = self.queue.model
        cur = self.current_output()
        d = model.display_row(cur) if cur is not None else None
        target = (d + step) if d is not None else 0
        if 0 <= target < model.rowCount():
            self.open_item(model.row_at(target).output_id)

    def save_and_next(self) -> None:
        c = self.controller
        if c is None or c.item is None:
            return
        # Enter in the queue (or its search box) opens the chosen item instead.
        if self.queue.table.hasFocus() or self.queue.search.hasFocus():
            rows = self.queue.table.selectionModel().selectedRows()
            display = rows[0].row() if rows and self.queue.table.hasFocus() else 0
            if display < self.queue.model.rowCount():
                self.open_item(self.queue.model.row_at(display).output_id)
            self.view.panel.setFocus()
            return
        ok, missing = c.complete()
        if not ok:
            self.view.mark_missing = True
            self.view.panel.set_missing(missing, mark=True)
            self.view.panel.show_first_missing(missing)
            self.statusBar().showMessage(
                f"{len(missing)} required question(s) unanswered — the item stays in progress.",
                6000)
            self.view.panel.setFocus()
            return
        self._go_next()

    def skip_item(self) -> None:
        if self.controller is not None:
            self.controller.skip()
            self._go_next()

    def _go_next(self) -> None:
        model = self.queue.model
        cur = self.current_output()
        idx = model.row_index(cur) if cur is not None else None
        nxt = next_open(model.rows, model.order, idx)
        if nxt is not None:
            self.open_item(model.rows[nxt].output_id)
        else:
            self.statusBar().showMessage("That was the last item in this view.", 6000)
        self.view.panel.setFocus()

    def toggle_flag(self) -> None:
        c = self.controller
        if c is not None:
            c.set_flag(not c.draft.flagged)
            self.view.panel.flag.setChecked(c.draft.flagged)

    def undo(self) -> None:
        if self.controller is not None:
            self.controller.undo()

    def show_history(self) -> None:
        c = self.controller
        if c is None or c.item is None:
            return
        questions = c.item.questions()

        def show(revisions: list[Any]) -> None:
            HistoryDialog(revisions, questions, self).exec()
            self.restore_grading_focus()  # activates this window again if none is active

        c.history_async(show, lambda exc: self.statusBar().showMessage(
            f"Cannot show the history: {exc}", 8000))

    def menu_keys(self) -> list[tuple[str, str]]:
        """(shortcut, command) of every menu command that has one, for the cheat sheet."""
        out = []
        for top in self.menuBar().actions():
            menu = top.menu()
            for act in menu.actions() if isinstance(menu, QMenu) else ():
                key = act.shortcut().toString()
                if key:
                    out.append((key, f"{top.text().replace('&', '')} → {act.text()}"))
        return out

    def show_about(self) -> None:
        show_about(self)
        self.restore_grading_focus()

    def show_cheatsheet(self) -> None:
        CheatSheetDialog(self, self.menu_keys()).exec()
        self.restore_grading_focus()

    def toggle_guidelines(self) -> None:
        self.guidelines.toggle()
        self.view.panel.setFocus()  # the keys stay with grading

    def show_form_editor(self, kind: str) -> None:
        """Study → Edit rubric… / Edit error taxonomy… (saving a graded form adds a version)."""
        from medreview.domain.rubric import FormKind
        from medreview.qt.form_editor.dialog import FormEditorDialog

        if self.project is None or self.executor is None:
            return
        if self.controller is not None:
            # Grades saved under the form they were made with: the editor's writes run on
            # the database thread behind this save.
            self.controller.flush()
        dlg = FormEditorDialog(self.project, self.executor, self.bus, FormKind(kind), self,
                               author=self.rater.name if self.rater else "")
        dlg.exec()
        if self.controller is not None and self.controller.item is not None \
                and self.project is not None and self.executor is not None:
            if dlg.last_saved is not None:  # a new form version: show the item with it
                self.controller.session.reload()
            else:  # guidelines may have changed
                self.guidelines.follow(self.project, self.executor, self.controller,
                                       self.controller.item)
        dlg.deleteLater()  # a finished dialog left as the window's child aborts Qt at exit
        self.restore_grading_focus()

    # updates ----------------------------------------------------------------------------------
    def _on_controller_save_state(self, state: str, text: str) -> None:
        self.save_label.setText(text)
        self.save_label.setProperty("state", state)
        self.save_label.style().unpolish(self.save_label)
        self.save_label.style().polish(self.save_label)

    def _on_controller_saved(self, output_id: int, result: SaveResult, draft: JudgmentDraft
                             ) -> None:
        idx = self.queue.model.row_index(output_id)
        if idx is not None:
            self.queue.update_row(with_status(self.queue.model.rows[idx], result.status,
                                              draft.flagged, answers=draft.answers))

    def _on_bus_changed(self, changes: Changes, initiator: object | None) -> None:
        # Rows saved by our own controller were already updated from the save result.
        if initiator is self.controller:
            return
        if (changes.queue or changes.raters or changes.rubrics or changes.project
                or changes.outputs) and self.project is not None \
                and self.executor is not None and self.controller is not None:
            Op(self.controller, grading.load_queue, self.project, self.controller.rater_id) \
                .latest("queue") \
                .success(lambda rows: self.queue.set_rows(rows, self.reveal_models)) \
                .run(self.executor)

    def _on_reveal_act_toggled(self, on: bool) -> None:
        from medreview.services import projects

        if self.project is None or self.executor is None:
            return
        self.reveal_models = on
        self.queue.set_rows(self.queue.model.rows, on)
        if not self.read_only:  # read-only: revealed on this screen, not stored
            Op(self, projects.set_reveal_models, self.project, on).emits(self.bus) \
                .run(self.executor)
        c = self.controller
        if c is not None and c.item is not None:
            item = dataclasses.replace(c.item, reveal_model=on)
            c.item = item
            self.view.answer_view.set_label(item.shown_model)

    # appearance and layout --------------------------------------------------------------------
    def toggle_theme(self) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        name = THEMES[(THEMES.index(current_theme(app)) + 1) % len(THEMES)]
        self.settings.set_theme(name)
        apply_theme(app, name, self.settings.font_pt())
        if self.view.item is not None:
            c = self.view.item.case
            self.view.case_view.show_case(c.title, c.tags, c.messages, c.context)

    def change_font(self, step: int) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self.settings.set_font_pt(self.settings.font_pt() + step)
        apply_theme(app, current_theme(app), self.settings.font_pt())

    def _layout_parts(self) -> dict[str, Any]:
        return {"grading/outer": self.split, "grading/main": self.view.splitter,
                "grading/text": self.view.text_split, "grading/right": self.view.right_split,
                "grading/case": self.view.case_view.split}

    def _restore_layout(self) -> None:
        geo = self.settings.bytes("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        state = self.settings.bytes("window/state")
        if state is not None:
            self.restoreState(state)

    def _restore_splitters(self) -> None:
        """Splitter sizes, once the grading screen is showing (a hidden splitter has no size
        to restore into)."""
        if self._splitters_restored:
            return
        self._splitters_restored = True
        self._splitters_settle = True
        self._apply_saved_splitters()

    def _apply_saved_splitters(self) -> None:
        # Lay the newly shown page out first: a splitter restored before it has its final
        # size hands the later growth to whichever pane stretches, not in proportion.
        for layout in (self.layout(), self.stack.layout()):
            if layout is not None:
                layout.activate()
        for key, splitter in self._layout_parts().items():
            value = self.settings.bytes(key)
            if value is not None and splitter.restoreState(value):
                self.view.layout_restored()

    def save_layout(self) -> None:
        self.settings.set_bytes("window/geometry", self.saveGeometry())
        self.settings.set_bytes("window/state", self.saveState())
        if not self._splitters_restored:
            return  # never shown: keep the sizes saved last time
        for key, splitter in self._layout_parts().items():
            self.settings.set_bytes(key, splitter.saveState())
        self.settings.sync()

    def changeEvent(self, event: QEvent) -> None:
        # Time on task counts only while this window is the one the rater works in.
        if event.type() == QEvent.Type.ActivationChange and self.controller is not None:
            if self.isActiveWindow():
                self.controller.time.start()
                self.restore_grading_focus()  # back from a tool window or a dialog
            else:
                self.controller.time.pause()
        super().changeEvent(event)

    # window events ----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if any(getattr(w, "running", False) and hasattr(w, "release")
               for w in self.tool_windows.values()):
            # A judge run is going: it stops on its own thread, the project closes behind
            # it, then the window (``_closed_behind``); the UI keeps turning meanwhile.
            event.ignore()
            self._quit_when_closed = True
            self.close_project()
            return
        self.save_layout()
        try:
            self.close_project(wait=True)  # the last grades reach the database before exit
        except Exception as exc:  # tell the rater rather than losing the message
            log.exception("closing the project failed")
            show_error(self, "Closing failed", str(exc))
        self.work.shutdown(wait=False)
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.open_project(Path(urls[0].toLocalFile()))

