"""NewProjectDialog: Project → New project… and the start page's "New project…" button.

A study lead sets a project up here without a terminal or a YAML file: a name, a new (or
empty) folder, the rubric from the built-in templates or a file, an optional error taxonomy,
their own name as the first rater, and optionally the first files to import. Each field says
in one line what is wrong with it (the rubric file with the loader's own message, from
``services.new_project``); Create stays off until all are right. The project is created on a
worker thread with progress; then the main window opens it and, if files were chosen, the
import dialog (``qt/import_dialog.py``) shows them ready to import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.domain.rubric import Form
from medreview.errors import MedreviewError
from medreview.progress import Cancelled, CancelToken
from medreview.qt.bridge import Op
from medreview.qt.messages import show_error
from medreview.qt.progress_relay import ProgressRelay, show_busy, show_progress
from medreview.qt.status import set_tone
from medreview.qt.window_size import fit_to_screen
from medreview.services import new_project as svc
from medreview.services.projects import is_project
from medreview.services.tasks import DbExecutor

if TYPE_CHECKING:
    from medreview.qt.grading.controller import GradingController
    from medreview.qt.grading.queue_pane import QueuePane
    from medreview.runtime.bus import ChangeBus
    from medreview.runtime.executors import Executor
    from medreview.services.projects import Project


class MainWindow(Protocol):
    """What opening a new project needs of the main window (a ``QWidget``, the parent of the
    dialogs shown here). A protocol, so this module and ``main_window`` do not import each
    other."""

    @property
    def project(self) -> Project | None: ...
    @property
    def executor(self) -> Executor | None: ...
    @property
    def bus(self) -> ChangeBus: ...
    @property
    def controller(self) -> GradingController | None: ...
    @property
    def queue(self) -> QueuePane: ...

    def open_project(self, path: Path, rater_id: int | None = None) -> bool: ...
    def open_item(self, output_id: int) -> None: ...
    def restore_grading_focus(self) -> None: ...


def _widget(window: MainWindow) -> QWidget:
    assert isinstance(window, QWidget)
    return window

FROM_FILE = "From a file…"
NO_TAXONOMY = "None (no error tagging)"
FORM_FILES = "Rubric and taxonomy files (*.yaml *.yml *.json)"


@dataclass(frozen=True)
class Created:
    folder: Path
    rater_id: int | None
    imports: tuple[Path, ...]
    edit_rubric: bool = False


def slug(text: str) -> str:
    """A folder-name form of a project name ("Chest pain: 2025" -> "chest-pain-2025")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "project"


def default_parent() -> Path:
    return Path.home() / "medreview"


def problem_label() -> QLabel:
    """A one-line reason under a field: red, plain text (it may quote a file's content)."""
    label = QLabel("")
    label.setObjectName("fieldProblem")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    set_tone(label, "error")
    label.hide()
    return label


def show_problem(label: QLabel, text: str) -> None:
    label.setText(visible_text(text))
    label.setVisible(bool(text))


class FormPicker(QObject):
    """A template (from ``services.new_project.template_choices``) or a form file; keeps the
    loaded ``Form`` or the one-line reason it cannot be used. Its three widgets (``box``,
    ``about``, ``problem``) are rows of the dialog's form, so wrapped text gets its height."""

    sig_changed = Signal()

    def __init__(self, kind: str, optional: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.form: Form | None = None
        self.problem_text = ""
        self.box = QComboBox()
        if optional:
            self.box.addItem(NO_TAXONOMY, None)
        for t in svc.template_choices(kind):
            self.box.addItem(f"{t.name}  ({t.key})", t.key)
            self.box.setItemData(self.box.count() - 1, t.description, Qt.ItemDataRole.ToolTipRole)
        self._descriptions = {t.key: t for t in svc.template_choices(kind)}
        self.box.addItem(FROM_FILE, "")
        self.box.activated.connect(self._on_activated)
        self.about = QLabel("")
        self.about.setTextFormat(Qt.TextFormat.PlainText)
        self.about.setWordWrap(True)
        self.about.setEnabled(False)
        self.problem = problem_label()
        for w in (self.box, self.about, self.problem):  # as wide as the other fields
            w.setSizePolicy(QSizePolicy.Policy.Expanding, w.sizePolicy().verticalPolicy())
        self._last_index = 0
        self.select(self.box.currentData())

    def add_to(self, form: QFormLayout, label: str) -> None:
        form.addRow(label, self.box)
        form.addRow("", self.about)
        form.addRow("", self.problem)

    def setEnabled(self, on: bool) -> None:  # like the widgets beside it in the loops
        self.box.setEnabled(on)

    def keys(self) -> list[str]:
        return [str(self.box.itemData(i)) for i in range(self.box.count())
                if self.box.itemData(i)]

    def select(self, value: str | None) -> None:
        """Choose a template key or a file path (as if picked), and load it."""
        if value:
            index = self.box.findData(value)
            if index < 0:  # a file: listed above "From a file…"
                index = self.box.count() - 1
                self.box.insertItem(index, visible_text(Path(value).name), value)
                self.box.setItemData(index, value, Qt.ItemDataRole.ToolTipRole)
            self.box.setCurrentIndex(index)
        self._load(value)

    def _on_activated(self, index: int) -> None:
        value = self.box.itemData(index)
        if value == "":
            name, _ = QFileDialog.getOpenFileName(self.box, f"A {self.kind} file", "",
                                                  FORM_FILES)
            if not name:
                self.box.setCurrentIndex(self._last_index)
                return
            self.select(name)
            return
        self._load(value)

    def _load(self, value: str | None) -> None:
        self._last_index = self.box.currentIndex()
        self.form, self.problem_text = None, ""
        if value:
            try:
                self.form = svc.load_form_choice(value, self.kind)
            except (MedreviewError, OSError) as exc:
                self.problem_text = exc.message if isinstance(exc, MedreviewError) else str(exc)
        t = self._descriptions.get(value or "")
        if self.form is None:
            about = ""
        elif t is not None:
            about = t.description
        else:  # a file: its own words, shown as plain text
            count = len(self.form.questions)
            about = (f"{self.form.name} (key {self.form.key}, version {self.form.version}): "
                     f"{count} question{'s' if count != 1 else ''}. "
                     f"{' '.join((self.form.description or '').split())}").strip()
        self.about.setText(visible_text(about))
        self.about.setVisible(bool(about))
        show_problem(self.problem, self.problem_text)
        self.sig_changed.emit()

    @property
    def ok(self) -> bool:
        return not self.problem_text and (self.form is not None or self.box.currentData() is None)


class NewProjectDialog(QDialog):
    sig_created = Signal(object)
    """A ``Created`` once the project exists (the dialog then closes)."""

    def __init__(self, parent: QWidget | None = None, parent_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(640)
        self.running = False
        self.token: CancelToken | None = None
        self._executor: DbExecutor | None = None
        self._folder_edited = False
        self._parent_folder = parent_folder or default_parent()
        lay = QVBoxLayout(self)
        title = QLabel("Set up a review project")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        intro = QLabel("A project is one folder holding the cases, the models' answers, the "
                       "rubric raters grade with and every grade. You can add cases and "
                       "answers now or later (Project → Import…).")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Chest pain answers, spring 2025")
        self.name_problem = problem_label()
        form.addRow("Project name:", self._stack(self.name, self.name_problem))

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a new folder, or an empty one")
        self.folder.textEdited.connect(self._on_folder_edited)
        choose = QPushButton("Choose…")
        choose.setAutoDefault(False)
        choose.clicked.connect(self._choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(choose)
        self.folder_problem = problem_label()
        form.addRow("Folder:", self._stack(row, self.folder_problem))

        self.rubric = FormPicker("rubric", optional=False, parent=self)
        index = self.rubric.box.findData("quality_harm")
        if index >= 0:
            self.rubric.box.setCurrentIndex(index)
            self.rubric.select("quality_harm")
        self.rubric.add_to(form, "Rubric:")
        self.taxonomy = FormPicker("taxonomy", optional=True, parent=self)
        self.taxonomy.add_to(form, "Error taxonomy:")
        self.edit_after = QCheckBox("Then open the rubric editor (adapt the questions, write "
                                    "grading guidelines)")
        self.edit_after.setToolTip("Study → Edit rubric and guidelines… on the new project")
        form.addRow("", self.edit_after)

        self.rater = QLineEdit()
        self.rater.setPlaceholderText("the name your own grades are saved under")
        self.rater_problem = problem_label()
        form.addRow("Your name:", self._stack(self.rater, self.rater_problem))

        self.files = QListWidget()
        self.files.setMaximumHeight(90)
        self.files.setToolTip("Cases and answers (JSONL, CSV, HealthBench, inspect-ai logs) or "
                              "image folders; the import dialog opens with them after the "
                              "project is created")
        add_files = QPushButton("Add files…")
        add_folder = QPushButton("Add an image folder…")
        remove = QPushButton("Remove")
        for b, slot in ((add_files, self._add_files), (add_folder, self._add_folder),
                        (remove, self._remove_files)):
            b.setAutoDefault(False)
            b.clicked.connect(slot)
        buttons_row = QHBoxLayout()
        for b in (add_files, add_folder, remove):
            buttons_row.addWidget(b)
        buttons_row.addStretch(1)
        files_box = QVBoxLayout()
        files_box.addWidget(self.files)
        files_box.addLayout(buttons_row)
        form.addRow("First import (optional):", files_box)
        lay.addLayout(form)
        lay.addStretch(1)

        self.progress = QProgressBar()
        self.progress.hide()
        lay.addWidget(self.progress)
        self.status = problem_label()
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.create_button = self.buttons.addButton("Create project",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.create_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.reject)
        lay.addWidget(self.buttons)

        self.name.textChanged.connect(self._on_name_changed)
        self.rater.textChanged.connect(self._validate)
        self.folder.textChanged.connect(self._validate)
        self.rubric.sig_changed.connect(self._validate)
        self.taxonomy.sig_changed.connect(self._validate)
        self._touched: set[str] = set()
        self.name.textEdited.connect(lambda: self._touched.add("name"))
        self.rater.textEdited.connect(lambda: self._touched.add("rater"))
        self._validate()
        # Room for a template's description, within the screen (1366x768 at 150 % too).
        fit_to_screen(self, (760, 620))

    @staticmethod
    def _stack(field: QWidget | QHBoxLayout, problem: QLabel) -> QVBoxLayout:
        box = QVBoxLayout()
        box.setSpacing(2)
        if isinstance(field, QWidget):
            box.addWidget(field)
        else:
            box.addLayout(field)
        box.addWidget(problem)
        return box

    # fields -----------------------------------------------------------------------------------
    def _on_name_changed(self, text: str) -> None:
        if not self._folder_edited:  # the folder follows the name until it is edited
            self.folder.setText(str(self._parent_folder / slug(text)) if text.strip() else "")
        self._validate()

    def _on_folder_edited(self, _text: str) -> None:
        self._folder_edited = True
        self._touched.add("folder")

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder for the new project (new or empty)", str(self._parent_folder))
        if folder:
            self.set_folder(Path(folder))

    def set_folder(self, folder: Path) -> None:
        self._folder_edited = True
        self._touched.add("folder")
        self.folder.setText(str(folder))

    def add_import_paths(self, paths: list[Path]) -> None:
        known = {self.files.item(i).text() for i in range(self.files.count())}
        for p in paths:
            if str(p) not in known:
                self.files.addItem(str(p))

    def import_paths(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def _add_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Files to import", "",
            "Cases and answers (*.jsonl *.ndjson *.json *.csv *.tsv *.eval);;All files (*)")
        self.add_import_paths([Path(n) for n in names])

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images (DICOM, PNG, JPEG)")
        if folder:
            self.add_import_paths([Path(folder)])

    def _remove_files(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))

    def problems(self) -> dict[str, str]:
        """Each field's one-line reason ("" when it is fine)."""
        out = {"name": "", "folder": "", "rubric": self.rubric.problem_text,
               "taxonomy": self.taxonomy.problem_text, "rater": ""}
        for key, check, value in (("name", svc.check_name, self.name.text()),
                                  ("folder", svc.check_folder, self.folder.text())):
            try:
                check(value)
            except MedreviewError as exc:
                out[key] = exc.message
        if self.rubric.form is None and not out["rubric"]:
            out["rubric"] = "choose a rubric"
        if not self.rater.text().strip():
            out["rater"] = "give your name: your grades are saved under it"
        return out

    def _validate(self) -> None:
        problems = self.problems()
        # An empty field someone has not typed into yet is not an error yet.
        shown = {k: v if k not in ("name", "rater") or k in self._touched else ""
                 for k, v in problems.items()}
        if not self.name.text().strip() and "folder" not in self._touched:
            shown["folder"] = ""
        show_problem(self.name_problem, shown["name"])
        show_problem(self.folder_problem, shown["folder"])
        show_problem(self.rater_problem, shown["rater"])
        self.create_button.setEnabled(not self.running and not any(problems.values()))

    # creating ---------------------------------------------------------------------------------
    def plan(self) -> svc.NewProject:
        assert self.rubric.form is not None
        return svc.NewProject(folder=svc.check_folder(self.folder.text()),
                              name=svc.check_name(self.name.text()), rubric=self.rubric.form,
                              taxonomy=self.taxonomy.form, rater=self.rater.text().strip())

    def start(self) -> None:
        if self.running:
            return
        self._touched.update(("name", "rater", "folder"))
        self._validate()
        if not self.create_button.isEnabled():
            return
        plan = self.plan()
        self.running = True
        self.token = CancelToken()
        self._executor = DbExecutor()
        for w in (self.name, self.folder, self.rubric, self.taxonomy, self.rater, self.files,
                  self.edit_after):
            w.setEnabled(False)
        self.create_button.setEnabled(False)
        show_busy(self.progress)
        self.progress.show()
        show_problem(self.status, "")
        relay = ProgressRelay(self._show_progress, parent=self)
        Op(self, svc.create_new_project, plan, relay, self.token) \
            .success(self._created).failure(self._failed).run(self._executor)

    def _show_progress(self, done: int, total: int | None, message: str) -> None:
        show_progress(self.progress, done, total, message)

    def _stop(self) -> None:
        self.running = False
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _created(self, result: tuple[Path, int | None]) -> None:
        self._stop()
        folder, rater_id = result
        self.sig_created.emit(Created(folder, rater_id, tuple(self.import_paths()),
                                      self.edit_after.isChecked()))
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._stop()
        self.progress.hide()
        for w in (self.name, self.folder, self.rubric, self.taxonomy, self.rater, self.files,
                  self.edit_after):
            w.setEnabled(True)
        if isinstance(exc, Cancelled):
            super().reject()
            return
        text = exc.message if isinstance(exc, MedreviewError) else f"{type(exc).__name__}: {exc}"
        show_problem(self.status, f"Nothing was created: {text}")
        self._validate()

    def reject(self) -> None:
        if self.running and self.token is not None:
            self.token.cancel()  # the worker takes back what it made, then _failed closes
            return
        super().reject()


def _when_open(window: MainWindow, folder: Path, then: Callable[[], object],
               tries: int = 600) -> None:
    """Run ``then`` once ``window`` has ``folder`` open (opening may finish later)."""
    if window.project is not None and Path(window.project.path) == folder \
            and window.executor is not None:
        then()
    elif tries > 0:
        QTimer.singleShot(50, _widget(window), lambda: _when_open(window, folder, then, tries - 1))


def open_created(window: MainWindow, created: Created) -> None:
    """Open the new project in ``window``; then the rubric editor if asked for, then the
    import dialog with the chosen files."""
    window.open_project(created.folder, rater_id=created.rater_id)
    if created.edit_rubric or created.imports:
        _when_open(window, created.folder, lambda: _after_open(window, created))


def _after_open(window: MainWindow, created: Created) -> None:
    editor = getattr(window, "show_form_editor", None)
    if created.edit_rubric and editor is not None:
        editor("rubric")  # modal: returns once the lead closes the editor
    if created.imports and window.project is not None \
            and Path(window.project.path) == created.folder:
        show_first_import(window, created.imports)


def show_first_import(window: MainWindow, paths: tuple[Path, ...]) -> QDialog | None:
    from medreview.qt.import_dialog import ImportDialog

    if window.project is None or window.executor is None:
        return None
    dlg = ImportDialog(window.project, window.executor, window.bus, _widget(window))
    dlg.add_paths(list(paths))
    dlg.import_button.setDefault(True)
    dlg.import_button.setFocus()
    dlg.finished.connect(lambda _code: _open_first_item(window))
    dlg.open()
    return dlg


def _open_first_item(window: MainWindow, tries: int = 100) -> None:
    """After the first import the project has items but none is open: open the first one
    once the queue has reloaded, so the keys grade at once (no click in the queue)."""
    c = window.controller
    if c is None or c.item is not None:
        window.restore_grading_focus()
        return
    if window.queue.model.rowCount():
        window.open_item(window.queue.model.row_at(0).output_id)
    elif tries > 0:  # the queue reloads on the database thread after the import
        QTimer.singleShot(50, _widget(window), lambda: _open_first_item(window, tries - 1))


def open_demo(window: MainWindow) -> QProgressDialog | None:
    """The start page's "Open the demo project": open it, building it first (a few seconds,
    on a worker thread with progress) when this is the first time."""
    from medreview.demo import build_full_demo
    from medreview.paths import demo_project_dir

    path = demo_project_dir()
    if is_project(path):
        window.open_project(path)
        return None
    busy = QProgressDialog("Building the demo project…", "", 0, 0, _widget(window))
    busy.setWindowTitle("Demo project")
    busy.setCancelButton(None)  # the build takes back a half-made folder itself on failure
    busy.setMinimumDuration(0)
    busy.setAutoClose(False)  # reaching 100 % must not finish it before the project opens
    busy.setAutoReset(False)
    busy.setWindowModality(Qt.WindowModality.WindowModal)
    executor = DbExecutor()

    def show(done: int, total: int | None, message: str) -> None:
        if total:
            busy.setRange(0, total)
            busy.setValue(min(done, total))
        busy.setLabelText(f"Building the demo project: {message}…")

    def finish(error: BaseException | None) -> None:
        executor.shutdown(wait=False)
        busy.close()
        busy.deleteLater()
        if error is None:
            window.open_project(path)
        else:
            text = error.message if isinstance(error, MedreviewError) else str(error)
            show_error(_widget(window), "Cannot build the demo project", text)

    relay = ProgressRelay(show, parent=busy)
    Op(busy, build_full_demo, path, progress=relay).success(lambda _p: finish(None)) \
        .failure(finish).run(executor)
    busy.show()
    return busy


def new_project(window: MainWindow) -> NewProjectDialog:
    """Project → New project…: the dialog, window-modal; the project opens when created."""
    dlg = NewProjectDialog(_widget(window))
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.sig_created.connect(lambda created: open_created(window, created))
    dlg.finished.connect(lambda _result: window.restore_grading_focus())  # cancelled too
    dlg.open()
    return dlg


def preview_dialog(window: MainWindow) -> NewProjectDialog:
    """The dialog as a lead fills it in, for ``qt/preview.py`` (docs/screenshots)."""
    dlg = NewProjectDialog(_widget(window))
    dlg.name.setText("Chest pain answers, spring 2025")
    dlg.taxonomy.select("medval_errors")
    dlg.rater.setText("Dr. Mei Tanaka")
    dlg.add_import_paths([Path.home() / "Documents" / "chest-pain-answers.jsonl"])
    dlg.show()
    return dlg
