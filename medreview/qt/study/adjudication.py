"""AdjudicationWindow: settle physicians' disagreements into gold labels.

Its own top-level window, so the main window's single-key grading shortcuts never fire here:
left the disagreement queue (rules and question filter), centre the case, answer and images,
right every rating side by side and the gold editor. Keys: M accepts the majority, Enter saves
the gold answer with its rationale; both move on to the next disagreement. Digits and letters
answer the gold question: the rule fields take keys only once clicked. Escape leaves a field
for the queue, and from the queue closes the window. Sized to fit the screen (1366×768 too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.domain.rubric import Question
from medreview.qt.bridge import Op
from medreview.qt.grading.answer_view import AnswerView
from medreview.qt.grading.case_view import CaseView
from medreview.qt.grading.image_pane import ImagePane
from medreview.qt.grading.peer_comments import comments_html
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.qt.keys import ADJUDICATION_KEYS
from medreview.qt.shortcuts import install_keymap
from medreview.qt.study.disagreement_queue import DisagreementQueue
from medreview.qt.study.gold_editor import GoldEditor
from medreview.qt.study.ratings_table import RatingsTable
from medreview.qt.study.values import error_text, rater_labels
from medreview.qt.window_size import fit_to_screen
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import study as svc
from medreview.services.comments import CommentsView, item_comments
from medreview.services.escalation import escalated_items
from medreview.services.projects import Project
from medreview.services.views import ItemView

PREFERRED_SIZE = (1680, 980)  # on a screen that has room; smaller screens get what they have


def _load_output(project: Project, output_id: int
                 ) -> tuple[ItemView, svc.OutputRatings, CommentsView, tuple[str, str, str]]:
    """One database round trip per output: what the centre and the right side show (the
    comments as the lead's screen reads them: every physician's, with names; the senior the
    item was escalated to, if it was)."""
    return svc.load_output(project, output_id), svc.output_ratings(project, output_id), \
        item_comments(project, output_id, None), escalation_line(project, output_id)


def escalation_line(project: Project, output_id: int) -> tuple[str, str, str]:
    """(senior, their status, reason) of the item's escalation, or empty texts."""
    found = escalated_items(project, output_id)
    return (found[0].senior, found[0].status, found[0].reason) if found else ("", "", "")


class AdjudicationWindow(QMainWindow):
    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A window of its own even with a parent: the main window's shortcuts stay there.
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.project = project
        self.db = db
        self.bus = bus
        self.item: ItemView | None = None
        self.ratings: svc.OutputRatings | None = None
        self.comments: CommentsView | None = None
        self.escalation: tuple[str, str, str] = ("", "", "")
        self.pseudonyms: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.current: tuple[int, str] | None = None  # (output, question) in the editor
        self._loading_output: int | None = None
        self._busy = False
        self.setWindowTitle("Adjudication — medreview")
        self._build_toolbar()
        self.queue = DisagreementQueue()
        self.queue.sig_selected.connect(self._on_queue_selected)
        self.queue.sig_rules_changed.connect(self.reload)
        self.case_view = CaseView()
        self.answer_view = AnswerView()
        self.image_pane = ImagePane()
        self.image_pane.hide()
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.case_view)
        centre.addWidget(self.answer_view)
        # The viewer's toolbar is wider than the centre on a small screen: scroll, never clip.
        self.image_scroll = QScrollArea()
        self.image_scroll.setWidgetResizable(True)
        self.image_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.image_scroll.setWidget(self.image_pane)
        self.image_scroll.hide()
        centre.addWidget(self.image_scroll)
        centre.setSizes([380, 420, 300])
        self.table = RatingsTable()
        self.table.sig_question.connect(self._on_question_picked)
        self.editor = GoldEditor()
        self.editor.sig_accept_majority.connect(self.accept_majority)
        self.editor.sig_save.connect(self.save_gold)
        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 0, 0)
        head = QLabel("Ratings side by side")
        head.setObjectName("paneTitle")
        rlay.addWidget(head)
        self.escalated = QLabel("")  # whom an escalation rule gave this item, and why
        self.escalated.setWordWrap(True)
        self.escalated.hide()
        rlay.addWidget(self.escalated)
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.table)
        self.comments_view = SafeTextBrowser()  # the raters' rationales and notes
        self.comments_view.setPlaceholderText("Raters' comments on this item")
        self.comments_view.setMinimumHeight(1)  # gives way first on a small screen
        right_split.addWidget(self.comments_view)
        right_split.addWidget(self.editor)
        right_split.setSizes([330, 150, 420])
        right_split.setChildrenCollapsible(False)  # the Save button can't be dragged away
        rlay.addWidget(right_split, 1)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.queue)
        self.split.addWidget(centre)
        self.split.addWidget(right)
        self.split.setSizes([380, 560, 740])
        self.split.setChildrenCollapsible(False)
        self.split.setContentsMargins(6, 6, 6, 6)
        self.setCentralWidget(self.split)
        fit_to_screen(self, PREFERRED_SIZE)
        self.shortcuts: dict[str, list[QShortcut]] = {}
        self._install_shortcuts()
        self.statusBar().showMessage("Loading disagreements…")
        unsubscribe = bus.subscribe(self._on_bus_changed)
        self._unsubscribe = unsubscribe
        # Closed with its parent window, it gets no closeEvent: leave the bus anyway.
        self.destroyed.connect(lambda *_: unsubscribe())
        Op(self, svc.assignment_overview, project).success(self._on_raters) \
            .failure(self._on_failed).run(db)

    # chrome -----------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Adjudication")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Adjudicator: "))
        self.adjudicator = QComboBox()
        self.adjudicator.setEditable(True)
        self.adjudicator.setMinimumWidth(220)
        # Reached by a click (or sent here when the name is missing): never by the keyboard
        # walk, so digits meant for the gold answer can't end up in the name.
        self.adjudicator.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        line = self.adjudicator.lineEdit()
        if line is not None:
            line.setPlaceholderText("your name (recorded with each label)")
        bar.addWidget(self.adjudicator)
        bar.addSeparator()
        self.hide_names = QCheckBox("Hide rater names")
        self.hide_names.setChecked(True)
        self.hide_names.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide_names.toggled.connect(self._on_hide_toggled)
        bar.addWidget(self.hide_names)
        self.show_resolved = QCheckBox("Show resolved")
        self.show_resolved.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_resolved.toggled.connect(lambda _on: self.reload())
        bar.addWidget(self.show_resolved)
        bar.addSeparator()
        refresh = QAction("Refresh (F5)", self)  # F5 itself is in the keymap
        refresh.triggered.connect(self.reload)
        bar.addAction(refresh)

    def _install_shortcuts(self) -> None:
        """The window's keys, from ``keys.ADJUDICATION_KEYS`` (shown in the cheat sheet)."""
        self.shortcuts = install_keymap(self, ADJUDICATION_KEYS, {
            "majority": self.accept_majority,
            "save": self.save_gold,
            **{f"digit_{n}": partial(self._widget_call, "digit", n) for n in range(1, 10)},
            "clear": self._clear_value,
            "yes": lambda: self._widget_call("yes_no", True),
            "no": lambda: self._widget_call("yes_no", False),
            "edit": lambda: self._widget_call("edit"),
            "rationale": self.editor.rationale.setFocus,
            "next_question": lambda: self.table.step(1),
            "prev_question": lambda: self.table.step(-1),
            "next": lambda: self.queue.step(1),
            "prev": lambda: self.queue.step(-1),
            "names": self.hide_names.toggle,
            "refresh": self.reload,
            "leave": self._escape,
        })

    def _escape(self) -> None:
        """Escape leaves a field for the queue; from the queue it closes the window."""
        if self.queue.table.hasFocus():
            self.close()
        else:
            self.queue.table.setFocus()

    def _widget_call(self, method: str, *args: Any) -> None:
        w = self.editor.widget
        if w is not None:
            getattr(w, method)(*args)

    def _clear_value(self) -> None:
        w = self.editor.widget
        if w is not None and not w.zero():
            w.clear()

    # loading ----------------------------------------------------------------------------------
    def _on_raters(self, ov: svc.AssignmentOverview) -> None:
        # Numbered among the physicians who finished a judgment, in pseudonym order: the same
        # "Rater n" for a person on every item of this session.
        self.pseudonyms = {r.name: r.pseudonym for r in ov.raters if r.done}
        self.labels = rater_labels(self.pseudonyms, self.pseudonyms,
                                   self.hide_names.isChecked())
        # Only people who adjudicated before: listing every physician would show the names
        # that "Hide rater names" hides.
        adjudicators = [r.name for r in ov.raters if r.is_adjudicator]
        self.adjudicator.addItems(adjudicators)
        self.adjudicator.setCurrentText(adjudicators[0] if adjudicators else "")
        self.reload()

    def reload(self) -> None:
        # Keep what is selected when the list arrives: the adjudicator may have moved on
        # (PgDown) while it loaded, and must not be sent back.
        Op(self, svc.adjudication_queue, self.project, self.queue.rules(),
           include_resolved=self.show_resolved.isChecked()).latest("items") \
            .success(lambda items: self._on_items(items, self.current)) \
            .failure(self._on_failed).run(self.db)

    def _on_items(self, items: list[svc.Disagreement], keep: tuple[int, str] | None) -> None:
        before = len(self.queue.items)
        self._relabel([r for d in items for r in d.ratings])
        self.queue.set_items(items, keep=keep)
        if not items:
            # Say so, with the rules: an emptied queue must never pass for "all settled".
            self.statusBar().showMessage(
                f"No disagreements under these rules ({self.queue.describe_rules()})"
                + (f" — there were {before} before; loosen the rules on the left to see "
                   "them again." if before else "."))
            self.current = None
            self.editor.show_question(None, None, None, False, self.labels)
        else:
            self.statusBar().showMessage(f"{len(items)} disagreement(s) loaded.", 4000)
        self._keys_to_queue()

    def _keys_to_queue(self) -> None:
        """Digits and letters answer the gold question: give the keys to the queue unless the
        adjudicator is typing a rationale or a name."""
        focus = self.focusWidget()
        typing = focus is not None and focus is not self.queue.table and (
            focus is self.editor.rationale or focus is self.adjudicator
            or self.adjudicator.isAncestorOf(focus) or self.queue.isAncestorOf(focus))
        if not typing:
            self.queue.table.setFocus()

    def _on_queue_selected(self, output_id: int, question_id: str) -> None:
        self.current = (output_id, question_id)
        if self.item is not None and self.item.output_id == output_id and self.ratings:
            self._show_ratings()
            return
        self._loading_output = output_id
        Op(self, _load_output, self.project, output_id).latest("output") \
            .success(self._on_output_loaded).failure(self._on_failed).run(self.db)

    def _on_output_loaded(self, result: tuple[ItemView, svc.OutputRatings, CommentsView,
                                              tuple[str, str, str]]) -> None:
        item, ratings, self.comments, self.escalation = result
        if self._loading_output != item.output_id:
            return  # the adjudicator has moved on already
        self.item = item
        self.ratings = ratings
        self._relabel([r for by in ratings.ratings.values() for r in by]
                      + [c.label for c in self.comments.comments])  # drafts' authors too
        c = item.case
        self.case_view.show_case(f"{c.title}  ·  {c.external_id}", c.tags, c.messages, c.context)
        self.answer_view.show_answer(item.shown_model, item.answer)
        self.image_pane.setVisible(bool(item.series))
        self.image_scroll.setVisible(bool(item.series))
        if item.series:
            self.image_pane.show_series(item.series)
        self._show_ratings()

    def _questions(self) -> list[Question]:
        return list(self.item.questions()) if self.item is not None else []

    def _show_ratings(self, editor: bool = True) -> None:
        """Fill the ratings table; ``editor``: also put the question up in the gold editor
        (a fresh answer widget, the typed rationale cleared)."""
        if self.item is None or self.ratings is None or self.current is None:
            return
        oid, qid = self.current
        disputed = {d.question_id for d in self.queue.items if d.output_id == oid}
        self.table.show_ratings(self._questions(), self.ratings, self.labels, disputed)
        senior, status, reason = self.escalation
        if senior:  # the senior named as the columns are, never by name while names hide
            who = self.labels.get(senior) or (
                "a senior rater" if self.hide_names.isChecked() else senior)
            set_plain(self.escalated, f"Escalated to {who} ({status}): {reason}")
        self.escalated.setVisible(bool(senior))
        if self.comments is not None:  # named as the columns are ("Hide rater names")
            self.comments_view.setHtml(comments_html(CommentsView(tuple(
                dataclasses.replace(c, label=self.labels.get(c.label, c.label))
                for c in self.comments.comments))))
        self.table.blockSignals(True)  # the editor is set once, below
        self.table.select_question(qid)
        self.table.blockSignals(False)
        if editor:
            self._show_editor(qid)

    def _on_question_picked(self, question_id: str) -> None:
        if self.item is not None and self.current is not None:
            self.current = (self.item.output_id, question_id)
            self._show_editor(question_id)

    def _show_editor(self, question_id: str) -> None:
        assert self.ratings is not None
        q = next((q for q in self._questions() if q.id == question_id), None)
        self.editor.show_question(q, self.ratings.gold.get(question_id),
                                  self.ratings.majority.get(question_id),
                                  question_id in self.ratings.majority, self.labels)

    def _relabel(self, seen: list[str]) -> None:
        """Labels for every rater known so far (``seen`` adds any who finished since)."""
        for name in seen:
            self.pseudonyms.setdefault(name, "~" + name)
        self.labels = rater_labels(self.pseudonyms, self.pseudonyms,
                                   self.hide_names.isChecked())

    def _on_hide_toggled(self, _hide: bool) -> None:
        self._relabel([])
        self._show_ratings(editor=False)  # keep what the adjudicator has typed

    # gold -------------------------------------------------------------------------------------
    def _adjudicator(self) -> str | None:
        name = " ".join(self.adjudicator.currentText().split())
        if not name:
            self.statusBar().showMessage("Enter your name as adjudicator first (top left).",
                                         8000)
            self.adjudicator.setFocus()
            return None
        return name

    def accept_majority(self) -> None:
        if self.current is None or self._busy:
            return
        if self.ratings is None or self.current[1] not in self.ratings.majority:
            self.statusBar().showMessage("There is no strict majority to accept here.", 6000)
            return
        who = self._adjudicator()
        if who is None:
            return
        oid, qid = self.current
        self._write(svc.accept_majority, self.project, oid, qid, adjudicator=who,
                    rationale=self.editor.rationale_text())

    def save_gold(self) -> None:
        if self.current is None or self._busy or self.editor.question is None:
            return
        value = self.editor.value()
        if value is None:
            self.statusBar().showMessage("Choose the gold answer first (or press M for the "
                                         "majority).", 6000)
            return
        rationale = self.editor.rationale_text()
        if not rationale:
            self.statusBar().showMessage("Write a rationale (R): it is kept with the gold "
                                         "label.", 6000)
            self.editor.rationale.setFocus()
            return
        who = self._adjudicator()
        if who is None:
            return
        oid, qid = self.current
        self._write(svc.set_gold, self.project, oid, qid, value, rationale=rationale,
                    adjudicator=who)

    def _write(self, fn: Callable[..., tuple[Any, Any]], *args: Any, **kwargs: Any) -> None:
        self._busy = True
        key = self.current
        Op(self, fn, *args, **kwargs).emits(self.bus, lambda result: result[1]) \
            .success(lambda result: self._on_gold_saved(key, result)) \
            .failure(self._on_write_failed).run(self.db)

    def _on_gold_saved(self, key: tuple[int, str] | None, result: tuple[Any, Any]) -> None:
        self._busy = False
        label, _changes = result  # on the bus already (Op.emits)
        self.statusBar().showMessage(
            f"Gold saved for {key[1] if key else ''} (revision {label.revision_no}, "
            f"{label.provenance}).", 5000)
        if key is None:
            return
        if self.item is not None and self.item.output_id == key[0]:
            self.ratings = None  # its gold column is stale: reloaded when shown next
        self.queue.mark_resolved(key, remove=not self.show_resolved.isChecked())
        if self.current == key:  # nothing further was selected: show the saved gold here
            self._on_queue_selected(*key)

    def _on_write_failed(self, exc: BaseException) -> None:
        self._busy = False
        self._on_failed(exc)

    def _on_failed(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Not saved: {error_text(exc)}", 12000)

    # window -----------------------------------------------------------------------------------
    def visible_texts(self) -> list[str]:
        """Every text this window shows (tests check that hidden names never appear)."""
        from PySide6.QtWidgets import QAbstractButton, QLabel, QTableWidget

        texts: list[str] = [self.windowTitle()]
        for w in self.findChildren(QWidget):
            if not w.isVisible():
                continue
            if isinstance(w, QLabel | QAbstractButton):
                texts.append(w.text())
            if isinstance(w, QTableWidget):
                for r in range(w.rowCount()):
                    for c in range(w.columnCount()):
                        it = w.item(r, c)
                        if it is not None:
                            texts += [it.text(), it.toolTip()]
                for c in range(w.columnCount()):
                    h = w.horizontalHeaderItem(c)
                    if h is not None:
                        texts.append(h.text())
        return texts

    def _on_bus_changed(self, changes: Changes, initiator: object | None) -> None:
        # Grading, merging or another screen's gold labels change the queue; our own saves
        # are already applied locally.
        if initiator is not self and (changes.judgments or changes.gold or changes.project):
            self.reload()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._unsubscribe()
        self.image_pane.close_viewer()
        super().closeEvent(event)
