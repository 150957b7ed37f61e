"""The rubric / taxonomy editor (Study → Edit rubric… / Edit taxonomy…).

Questions on the left (add any kind, remove, reorder), the selected question's fields on the
right, the form's own fields and its grading guidelines (a rubric's or a taxonomy's) in further
tabs. After
every edit the whole form is checked by the file loader itself (``services.form_editing``), and
its message (the field path and the reason) is shown under the tabs: the editor never has a
second set of rules. Saving stores a new form version when the stored one is in use (graded
work keeps its version); each guidelines save is a new guidelines version.

Keys: Ctrl+S save, Ctrl+N add a question, Alt+Up / Alt+Down move it, Delete remove it (in the
list), Ctrl+Tab next tab, Escape close (asks first if something is unsaved).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import unmark, visible_text
from medreview.domain.rubric import FormKind, QuestionKind
from medreview.domain.scoring import SCORING_RULES
from medreview.errors import MedreviewError
from medreview.qt.bridge import Op
from medreview.qt.form_editor.draft import (
    KIND_LABELS,
    blank_form,
    from_form,
    new_question,
    question_index,
)
from medreview.qt.form_editor.guideline_pane import show_markdown
from medreview.qt.form_editor.question_editor import QuestionEditor
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.qt.keys import FORM_EDITOR_KEYS, FORM_LIST_KEYS, keys_text
from medreview.qt.messages import ask
from medreview.qt.shortcuts import install_keymap
from medreview.qt.window_size import fit_to_screen
from medreview.services import form_editing
from medreview.services.bus import ChangeBus
from medreview.services.form_editing import FormSnapshot, GuidelineView, SavedForm
from medreview.services.projects import Project
from medreview.services.tasks import Executor

PREFERRED_SIZE = (1180, 720)  # fits 1366x768 with the frame and a taskbar
OK_STYLE = "color: #1b5e20;"
PROBLEM_STYLE = "color: #b00020; font-weight: 600;"


def _short(text: str, n: int = 70) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1] + "…"


class FormEditorDialog(QDialog):
    sig_saved = Signal(object)
    """The ``SavedForm`` of a save (the guidelines, if changed, are saved right after)."""

    def __init__(self, project: Project, db: Executor, bus: ChangeBus, kind: FormKind,
                 parent: QWidget | None = None, author: str = "") -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.bus = bus
        self.kind = kind
        self.author = author
        self.snapshot: FormSnapshot | None = None
        self.data: dict[str, Any] = blank_form(kind)
        self.saved_data: dict[str, Any] | None = None  # what the project holds
        self.guideline: GuidelineView | None = None
        self.guideline_versions: list[GuidelineView] = []
        self.problem: str | None = None
        self.loaded = False
        self.saving = False
        self.last_saved: SavedForm | None = None
        self._after_note = ""  # what the form save said, shown after the guidelines save
        noun = "rubric" if kind is FormKind.RUBRIC else "error taxonomy"
        self.setWindowTitle(f"Edit {noun}")
        self.header = QLabel("Loading…")
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_questions(), "&Questions")
        self.tabs.addTab(self._build_form_tab(), "&Form")
        self.guideline_tab = self._build_guidelines()
        self.tabs.addTab(self.guideline_tab, "&Guidelines")
        self.status = QLabel("")
        self.status.setObjectName("formProblem")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.template_button = QPushButton("Start from &template")
        self.template_menu = QMenu(self)
        self.template_button.setMenu(self.template_menu)
        self.template_menu.aboutToShow.connect(self._fill_templates)
        self.load_button = QPushButton("&Load file…")
        self.load_button.clicked.connect(self.load_file)
        self.export_button = QPushButton("&Export…")
        self.export_button.clicked.connect(self.export_file)
        self.save_button = QPushButton("&Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for b in (self.template_button, self.load_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        install_keymap(self, FORM_EDITOR_KEYS, {"save": self.save, "add": self._show_add_menu})
        fit_to_screen(self, PREFERRED_SIZE)
        self._set_enabled(False)
        Op(self, form_editing.load_active, project, kind).success(self._on_loaded) \
            .failure(self._on_failed).run(db)

    # building ---------------------------------------------------------------------------------
    def _build_questions(self) -> QWidget:
        self.question_list = QListWidget()
        self.question_list.setMinimumWidth(260)
        self.question_list.currentRowChanged.connect(self._on_row_changed)
        self.question_list.installEventFilter(self)
        self.add_button = QPushButton("&Add question")
        self.add_menu = QMenu(self)
        for kind, label in KIND_LABELS.items():
            act = QAction(label, self)
            act.triggered.connect(lambda _c=False, k=kind: self.add_question(k))
            self.add_menu.addAction(act)
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.clicked.connect(self.remove_question)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip(keys_text(FORM_LIST_KEYS, "move_up"))
        self.up_button.clicked.connect(lambda: self.move_question(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip(keys_text(FORM_LIST_KEYS, "move_down"))
        self.down_button.clicked.connect(lambda: self.move_question(1))
        row = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            row.addWidget(b)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.question_list, 1)
        ll.addLayout(row)
        self.editor = QuestionEditor()
        self.editor.sig_changed.connect(self._on_question_edited)
        self.empty_note = QLabel("No question selected. Add one with Ctrl+N.")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.addWidget(self.empty_note)
        il.addWidget(self.editor)
        scroll.setWidget(inner)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 800])
        split.setChildrenCollapsible(False)
        return split

    def _build_form_tab(self) -> QWidget:
        self.key_edit = QLineEdit()
        self.name_edit = QLineEdit()
        self.description_edit = QPlainTextEdit()
        self.description_edit.setTabChangesFocus(True)
        self.scoring_box = QComboBox()
        self.scoring_box.addItem("No score", None)
        for rule in SCORING_RULES:
            self.scoring_box.addItem(rule, rule)
        self.per_case_box = QCheckBox("Each case brings its own criteria (HealthBench)")
        self.references_edit = QPlainTextEdit()
        self.references_edit.setTabChangesFocus(True)
        self.references_edit.setPlaceholderText("one publication or link per line")
        self.key_note = QLabel("")
        self.key_note.setTextFormat(Qt.TextFormat.PlainText)
        self.key_note.setWordWrap(True)
        w = QWidget()
        f = QFormLayout(w)
        f.addRow("&Key", self.key_edit)
        f.addRow("", self.key_note)
        f.addRow("&Name", self.name_edit)
        f.addRow("&Description", self.description_edit)
        f.addRow("S&coring", self.scoring_box)
        f.addRow("", self.per_case_box)
        f.addRow("&References", self.references_edit)
        self.key_edit.textEdited.connect(lambda t: self._set_form("key", unmark(t), True))
        self.name_edit.textEdited.connect(lambda t: self._set_form("name", unmark(t), True))
        self.description_edit.textChanged.connect(lambda: self._set_form(
            "description", unmark(self.description_edit.toPlainText())))
        self.scoring_box.activated.connect(
            lambda i: self._set_form("scoring", self.scoring_box.itemData(i)))
        self.per_case_box.toggled.connect(
            lambda on: self._set_form("per_case_criteria", True if on else None))
        self.references_edit.textChanged.connect(lambda: self._set_form("references", [
            line.strip() for line in unmark(self.references_edit.toPlainText()).splitlines()
            if line.strip()] or None))
        return w

    def _build_guidelines(self) -> QWidget:
        self.guideline_edit = QPlainTextEdit()
        self.guideline_edit.setTabChangesFocus(True)
        self.guideline_edit.setPlaceholderText(
            f"How to apply this {'rubric' if self.kind is FormKind.RUBRIC else 'error taxonomy'}"
            ", in Markdown: definitions, borderline cases, examples.")
        self.guideline_edit.textChanged.connect(self._on_guideline_edited)
        self.guideline_preview = SafeTextBrowser()
        self.guideline_preview.setObjectName("guidelinePreview")
        self.guideline_versions_box = QComboBox()
        self.guideline_versions_box.activated.connect(self._on_guideline_version_picked)
        self.guideline_note = QLabel("")
        self.guideline_note.setTextFormat(Qt.TextFormat.PlainText)
        self.guideline_note.setWordWrap(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Preview of"))
        top.addWidget(self.guideline_versions_box, 1)
        rl.addLayout(top)
        rl.addWidget(self.guideline_preview, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.guideline_edit)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(self.guideline_note)
        lay.addWidget(split, 1)
        return w

    # loading ----------------------------------------------------------------------------------
    def _on_loaded(self, snap: FormSnapshot, then: Callable[[], None] | None = None) -> None:
        """Show a loaded form; its guidelines follow from the database, then ``then()``."""
        self.snapshot = snap
        self.saved_data = from_form(snap.form) if snap.form is not None else None
        self.set_data(copy.deepcopy(self.saved_data) if self.saved_data else blank_form(self.kind))
        self.loaded = True
        self._set_enabled(True)
        self._show_header()
        if snap.form is not None:
            self._load_guidelines(snap.form.key, then)
        else:
            self._show_guidelines([])
            if then is not None:
                then()
        self.question_list.setFocus()

    def _load_guidelines(self, key: str, then: Callable[[], None] | None = None) -> None:
        # Only the newest load is shown: an older one arriving late would put an earlier
        # version's text back into the editor while a save is on its way.
        def shown(versions: list[GuidelineView]) -> None:
            self._show_guidelines(versions)
            if then is not None:
                then()

        Op(self, form_editing.guideline_history, self.project, key).latest("guidelines") \
            .success(shown).failure(self._on_failed).run(self.db)

    def _show_guidelines(self, versions: list[GuidelineView]) -> None:
        # Text the lead typed before the stored guidelines arrived stays (it is then unsaved);
        # after a save the editor holds what was stored, so it is simply replaced.
        typed = self.guideline_dirty and not self.saving
        self.guideline_versions = versions
        self.guideline = versions[0] if versions else None
        if not typed:
            self.guideline_edit.blockSignals(True)
            self.guideline_edit.setPlainText(self.guideline.text if self.guideline else "")
            self.guideline_edit.blockSignals(False)
        self.guideline_versions_box.clear()
        self.guideline_versions_box.addItem("what you are writing", None)
        for g in versions:
            self.guideline_versions_box.addItem(
                f"version {g.version} · {g.created_at:%Y-%m-%d %H:%M}"
                + (f" · {visible_text(g.author)}" if g.author else ""), g.version)
        self._guideline_note()
        show_markdown(self.guideline_preview, self.guideline_edit.toPlainText())

    def _guideline_note(self) -> None:
        g = self.guideline
        text = (f"Saved as version {g.version}. Saving a change adds version {g.version + 1}; "
                "every version is kept, and each grade records the version the rater had."
                if g else "No guidelines saved yet. Raters see them beside the grading panel "
                "(key G); each grade records the version shown.")
        if self.guideline_dirty:
            text = "Unsaved changes. " + text
        set_plain(self.guideline_note, text)

    def _on_failed(self, exc: BaseException) -> None:
        self.saving = False
        self._set_enabled(self.loaded)
        self._show_status(str(exc), problem=True)

    def set_data(self, data: dict[str, Any]) -> None:
        """Show ``data`` (a form mapping) for editing."""
        self.data = data
        self._fill_form_tab()
        self._fill_list(0 if self._questions() else -1)
        self._validate()

    def _questions(self) -> list[dict[str, Any]]:
        qs = self.data.get("questions")
        if not isinstance(qs, list):
            qs = []
            self.data["questions"] = qs
        return qs

    def _fill_form_tab(self) -> None:
        d = self.data
        for w in (self.key_edit, self.name_edit, self.description_edit, self.scoring_box,
                  self.per_case_box, self.references_edit):
            w.blockSignals(True)
        self.key_edit.setText(visible_text(str(d.get("key", ""))))
        self.name_edit.setText(visible_text(str(d.get("name", ""))))
        self.description_edit.setPlainText(visible_text(str(d.get("description", ""))))
        self.scoring_box.setCurrentIndex(max(0, self.scoring_box.findData(d.get("scoring"))))
        self.per_case_box.setChecked(bool(d.get("per_case_criteria")))
        refs = d.get("references") or []
        self.references_edit.setPlainText(
            visible_text("\n".join(str(r) for r in refs)) if isinstance(refs, list) else "")
        for w in (self.key_edit, self.name_edit, self.description_edit, self.scoring_box,
                  self.per_case_box, self.references_edit):
            w.blockSignals(False)
        self._key_note()

    def _key_note(self) -> None:
        stored = self.snapshot.form.key if self.snapshot and self.snapshot.form else None
        key = self.data.get("key")
        if stored is None:
            text = "The stable name of this form (letters, digits, _ . -)."
        elif key == stored:
            text = "The form's stable name; keep it to save a new version of the same form."
        else:
            text = (f"A new key makes a different form; {stored!r} is kept (inactive) with "
                    "everything graded under it.")
        set_plain(self.key_note, text)

    def _item_text(self, i: int, q: dict[str, Any]) -> str:
        kind = q.get("type", "?")
        req = " · required" if q.get("required") else ""
        return f"{i + 1}. {_short(visible_text(str(q.get('prompt', ''))))}  [{kind}{req}]"

    def _fill_list(self, select: int) -> None:
        qs = self._questions()
        self.question_list.blockSignals(True)
        self.question_list.clear()
        for i, q in enumerate(qs):
            self.question_list.addItem(QListWidgetItem(self._item_text(i, q)))
        self.question_list.blockSignals(False)
        if 0 <= select < len(qs):
            self.question_list.setCurrentRow(select)
        self._on_row_changed(self.question_list.currentRow())

    def _on_row_changed(self, row: int) -> None:
        qs = self._questions()
        has = 0 <= row < len(qs)
        self.editor.setVisible(has)
        self.empty_note.setVisible(not has)
        if has:
            taken = {str(q.get("id")) for i, q in enumerate(qs) if i != row}
            self.editor.load(qs[row], taken)
        self._mark_problem()

    # editing ----------------------------------------------------------------------------------
    def _on_question_edited(self, question: dict[str, Any]) -> None:
        row = self.question_list.currentRow()
        qs = self._questions()
        if 0 <= row < len(qs):
            qs[row] = question
            item = self.question_list.item(row)
            if item is not None:
                item.setText(self._item_text(row, question))
            self._validate()

    def _set_form(self, key: str, value: Any, keep_empty: bool = False) -> None:
        if value in (None, "", []) and not keep_empty:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        if key == "key":
            self._key_note()
        self._validate()

    def add_question(self, kind: QuestionKind) -> None:
        qs = self._questions()
        row = self.question_list.currentRow()
        at = row + 1 if 0 <= row < len(qs) else len(qs)
        qs.insert(at, new_question(kind, {str(q.get("id")) for q in qs}))
        self._fill_list(at)
        self._validate()
        self.editor.prompt_edit.setFocus()
        self.editor.prompt_edit.selectAll()

    def _show_add_menu(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.add_menu.popup(self.add_button.mapToGlobal(self.add_button.rect().bottomLeft()))

    def remove_question(self) -> None:
        qs = self._questions()
        row = self.question_list.currentRow()
        if 0 <= row < len(qs):
            del qs[row]
            self._fill_list(min(row, len(qs) - 1))
            self._validate()

    def move_question(self, step: int) -> None:
        qs = self._questions()
        row = self.question_list.currentRow()
        to = row + step
        if 0 <= row < len(qs) and 0 <= to < len(qs):
            qs[row], qs[to] = qs[to], qs[row]
            self._fill_list(to)
            self._validate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.question_list and event.type() == QEvent.Type.KeyPress \
                and isinstance(event, QKeyEvent):
            alt = event.modifiers() & Qt.KeyboardModifier.AltModifier
            if alt and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                self.move_question(-1 if event.key() == Qt.Key.Key_Up else 1)
                return True
            if event.key() == Qt.Key.Key_Delete:
                self.remove_question()
                return True
        return super().eventFilter(watched, event)

    # validation -------------------------------------------------------------------------------
    def _validate(self) -> None:
        self.problem = form_editing.problem(self.data)
        if self.problem is None:
            self._show_status(self._ok_text(), problem=False)
        else:
            self._show_status(self.problem, problem=True)
        self.export_button.setEnabled(self.loaded and self.problem is None)
        self.save_button.setEnabled(self.loaded and not self.saving and self.problem is None)
        self._mark_problem()

    def _ok_text(self) -> str:
        if not self.form_dirty and not self.guideline_dirty:
            return "The form is valid. Nothing to save."
        snap = self.snapshot
        if not self.form_dirty:
            return "The form is valid. Save stores the guidelines as a new version."
        if snap is not None and snap.form is not None and snap.in_use \
                and self.data.get("key") == snap.form.key:
            return (f"The form is valid. Save stores it as version {snap.form.version + 1}; "
                    f"version {snap.form.version} keeps the work graded with it.")
        return "The form is valid. Save stores it."

    def _mark_problem(self) -> None:
        bad = question_index(self._problem_path())
        for i in range(self.question_list.count()):
            item = self.question_list.item(i)
            text = item.text().removeprefix("⚠ ")
            item.setText(f"⚠ {text}" if i == bad else text)

    def _problem_path(self) -> str | None:
        if self.problem is None:
            return None
        return self.problem.split(":", 1)[0]

    def _show_status(self, text: str, *, problem: bool) -> None:
        set_plain(self.status, text)
        self.status.setStyleSheet(PROBLEM_STYLE if problem else OK_STYLE)

    @property
    def form_dirty(self) -> bool:
        """The working copy differs from the stored form (compared as forms when valid)."""
        if not self.loaded:
            return False
        if self.saved_data is None:
            return bool(self._questions())
        if self.problem is None:
            return form_editing.build(self.data) != form_editing.build(self.saved_data)
        return self.data != self.saved_data

    @property
    def guideline_dirty(self) -> bool:
        if not self.loaded:
            return False
        saved = self.guideline.text if self.guideline is not None else ""
        return self.guideline_edit.toPlainText() != saved

    @property
    def dirty(self) -> bool:
        return self.form_dirty or self.guideline_dirty

    # guidelines -------------------------------------------------------------------------------
    def _on_guideline_edited(self) -> None:
        if self.guideline_versions_box.currentIndex() <= 0:
            show_markdown(self.guideline_preview, self.guideline_edit.toPlainText())
        self._guideline_note()
        self._validate()

    def _on_guideline_version_picked(self, index: int) -> None:
        version = self.guideline_versions_box.itemData(index)
        g = next((g for g in self.guideline_versions if g.version == version), None)
        show_markdown(self.guideline_preview,
                      g.text if g is not None else self.guideline_edit.toPlainText())

    # files ------------------------------------------------------------------------------------
    def _fill_templates(self) -> None:
        from medreview.rubrics.templates import list_templates

        self.template_menu.clear()
        try:
            templates = [t for t in list_templates() if t.kind is self.kind]
        except MedreviewError as exc:
            self._show_status(str(exc), problem=True)
            return
        for t in templates:
            act = QAction(f"{t.name} ({t.key})", self)
            act.triggered.connect(lambda _c=False, key=t.key: self.start_from(key))
            self.template_menu.addAction(act)

    def start_from(self, key_or_path: str) -> bool:
        """Replace the working copy with a template or a form file (nothing saved yet).

        Read as New project reads one: size cap, YAML alias-bomb guard, the loader's messages
        (file and line), and the kind checked."""
        from medreview.services.new_project import load_form_choice

        try:
            form = load_form_choice(key_or_path, self.kind.value)
        except MedreviewError as exc:
            self._show_status(str(exc), problem=True)
            return False
        self.set_data(from_form(form))
        return True

    def load_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a rubric or taxonomy file", "",
                                              "Forms (*.yaml *.yml *.json)")
        if path:
            self.start_from(path)

    def export_file(self) -> bool:
        if self.problem is not None:
            return False
        default = f"{self.data.get('key', 'form')}.yaml"
        path, _ = QFileDialog.getSaveFileName(self, "Export the form", default,
                                              "YAML (*.yaml *.yml);;JSON (*.json)")
        return bool(path) and self.export_to(Path(path))

    def export_to(self, path: Path) -> bool:
        try:
            form_editing.export_form(form_editing.build(self.data), path)
        except MedreviewError as exc:
            self._show_status(str(exc), problem=True)
            return False
        self._show_status(f"Exported to {path}.", problem=False)
        return True

    # saving -----------------------------------------------------------------------------------
    def save(self) -> None:
        if not self.loaded or self.saving:
            return
        self._validate()
        if self.problem is not None:
            return
        form = form_editing.build(self.data)
        self.saving = True
        self._set_enabled(False)
        self._show_status("Saving…", problem=False)
        guideline = self.guideline_edit.toPlainText() if self.guideline_dirty else None
        if self.form_dirty:
            Op(self, form_editing.save_form, self.project, form) \
                .success(lambda saved: self._on_form_saved(saved, guideline)) \
                .failure(self._on_failed).run(self.db)
        else:
            self._save_guideline(form.key, guideline)

    def _on_form_saved(self, saved: SavedForm, guideline: str | None) -> None:
        self.last_saved = saved
        self.bus.emit(saved.changes, self)
        self.sig_saved.emit(saved)
        if saved.unchanged:
            note = f"Version {saved.version} already holds this form."
        elif saved.new_version:
            note = (f"Saved as version {saved.version}; version {saved.version - 1} keeps the "
                    "work graded with it.")
        else:
            note = f"Saved as version {saved.version}."
        self._after_note = note
        if guideline is not None:
            self._save_guideline(saved.key, guideline)
        else:
            self._reload(note)

    def _save_guideline(self, key: str, text: str | None) -> None:
        if text is None:
            self._reload(self._after_note or "Nothing to save.")
            return

        def done(res: tuple[GuidelineView, bool]) -> None:
            g, added = res
            note = self._after_note
            extra = f"Guidelines saved as version {g.version}." if added else ""
            self._reload(" ".join(t for t in (note, extra) if t))

        Op(self, form_editing.save_guideline, self.project, key, text,
           self.author or "study lead").success(done).failure(self._on_failed).run(self.db)

    def _reload(self, note: str) -> None:
        self._after_note = ""

        def loaded(snap: FormSnapshot) -> None:
            row = self.question_list.currentRow()
            tab = self.tabs.currentIndex()

            def done() -> None:  # saved once the form and its guidelines show what was stored
                self.saving = False
                self._show_status(note, problem=False)

            self._on_loaded(snap, done)
            self._fill_list(row)
            self.tabs.setCurrentIndex(tab)

        Op(self, form_editing.load_active, self.project, self.kind).success(loaded) \
            .failure(self._on_failed).run(self.db)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.tabs, self.template_button, self.load_button):
            w.setEnabled(on)
        self.save_button.setEnabled(on and self.problem is None)
        self.export_button.setEnabled(on and self.problem is None)

    def _show_header(self) -> None:
        snap = self.snapshot
        noun = "rubric" if self.kind is FormKind.RUBRIC else "error taxonomy"
        if snap is None or snap.form is None:
            text = (f"This project has no {noun} yet. Start from a template, load a file or "
                    "add questions; Save makes it the one physicians grade with.")
        else:
            f = snap.form
            used = (f"{snap.judgments} judgment revision(s) were made with it, so saving a "
                    f"change stores version {f.version + 1} and leaves them as they are."
                    if snap.judgments else
                    f"It is in a rater package or a judge run, so saving a change stores "
                    f"version {f.version + 1}." if snap.in_use else
                    "Nothing has been graded with it yet, so a change replaces this version.")
            text = (f"{noun.capitalize()} “{visible_text(f.name)}” ({f.key}), "
                    f"version {f.version}. {used}")
        set_plain(self.header, text)

    # closing ---------------------------------------------------------------------------------
    def confirm_drop(self) -> bool:
        return ask(self, "Unsaved changes", "Close the editor and drop the unsaved changes?",
                   default_no=True)

    def reject(self) -> None:
        """Escape, Close and the window's close button: ask first if something is unsaved
        (QDialog's closeEvent comes here too, and keeps the window if this does not hide it)."""
        if self.dirty and not self.saving and not self.confirm_drop():
            return
        super().reject()
