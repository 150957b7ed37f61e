"""The qualification round on screen (issue #18).

* ``QualificationDialog`` (Study → Qualification…): the lead picks physicians, how many gold
  items, the seed and the pass mark, sets the round up, reads each rater's status (score with
  its 95 % CI) and waives a rater.
* ``FeedbackDialog``: after a rater saves a qualification item as done, the gold answer next
  to theirs per question with the gold's rationale; not modal, closed with Escape.
* ``attach_qualification``: hooks both onto the main window's grading controller, and keeps
  the one line "Qualification: 62 % of 80 % needed — ask the study lead" above the grading
  screen while the rater's queue is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.bridge import Op, run_modal
from medreview.qt.grading.history_dialog import answer_text
from medreview.qt.status import set_tone, window_banner
from medreview.qt.study.values import error_text
from medreview.qt.table_cells import cell
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import grading, retests
from medreview.services import qualification as svc
from medreview.services.views import SaveResult

if TYPE_CHECKING:
    from medreview.domain.judgment import JudgmentDraft
    from medreview.qt.grading.controller import GradingController
    from medreview.services.projects import Project
    from medreview.services.qualification import Compared

MAX_SEED = 2**31 - 1
BANNER = "qualificationBanner"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _ci(ci: tuple[float, float] | None) -> str:
    return "—" if ci is None else f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f} %"


class QualificationDialog(QDialog):
    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project, self.db, self.bus = project, db, bus
        self.view: svc.LeadView | None = None
        self.setWindowTitle("Qualification round")
        self.setModal(True)
        self.resize(900, 560)
        outer = QVBoxLayout(self)
        intro = QLabel("A physician's queue shows only their qualification items (outputs with "
                       "gold labels) until every one is done and their share of gold questions "
                       "answered as the gold reaches the pass mark. They see the gold after "
                       "each item (in the app; offline packages get no feedback).")
        intro.setWordWrap(True)
        outer.addWidget(intro)
        row = QHBoxLayout()
        left = QVBoxLayout()
        raters_label = QLabel("&Physicians")
        self.raters = QListWidget()
        self.raters.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        raters_label.setBuddy(self.raters)
        left.addWidget(raters_label)
        left.addWidget(self.raters)
        row.addLayout(left, 1)
        form = QFormLayout()
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(10)
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.pass_mark = QDoubleSpinBox()
        self.pass_mark.setRange(0.0, 100.0)
        self.pass_mark.setDecimals(0)
        self.pass_mark.setSuffix(" %")
        self.pass_mark.setValue(80.0)
        form.addRow("&Gold items per rater", self.count)
        form.addRow("&Seed", self.seed)
        form.addRow("Pass &mark", self.pass_mark)
        self.gold_note = QLabel("")
        form.addRow(self.gold_note)
        row.addLayout(form, 1)
        outer.addLayout(row)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Rater", "Done", "Score", "95 % CI", "Pass mark",
                                              "State"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        outer.addWidget(self.table, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.set_up = self.buttons.addButton("Set up round",
                                             QDialogButtonBox.ButtonRole.ApplyRole)
        self.set_up.setDefault(True)
        self.waive_button = QPushButton("Waive selected rater")
        self.buttons.addButton(self.waive_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAutoDefault(False)
        self.waive_button.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)
        self.set_up.clicked.connect(self._set_up)
        self.waive_button.clicked.connect(self._waive)
        outer.addWidget(self.buttons)
        self.refresh()

    def refresh(self) -> None:
        Op(self, svc.lead_view, self.project).success(self._show).failure(self._failed) \
            .run(self.db)

    def _show(self, view: svc.LeadView) -> None:
        self.view = view
        checked = set(self.chosen())
        self.raters.clear()
        for name in view.physicians:
            it = QListWidgetItem(name)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if name in checked
                             else Qt.CheckState.Unchecked)
            self.raters.addItem(it)
        if self.raters.count():
            self.raters.setCurrentRow(0)
        self.count.setMaximum(max(1, view.gold_outputs))
        self.gold_note.setText(f"{view.gold_outputs} outputs have gold labels")
        self.table.setRowCount(len(view.rounds))
        for r, rd in enumerate(view.rounds):
            for c, text in enumerate((rd.rater, f"{rd.done}/{rd.items}", _pct(rd.score),
                                      _ci(rd.ci), _pct(rd.pass_mark), rd.state)):
                self.table.setItem(r, c, cell(text, tip=""))
        for c in range(5):  # not State: fitting it would undo its stretch
            self.table.resizeColumnToContents(c)
        self.waive_button.setEnabled(bool(view.rounds))

    def chosen(self) -> list[str]:
        return [self.raters.item(i).text() for i in range(self.raters.count())
                if self.raters.item(i).checkState() == Qt.CheckState.Checked]

    def _set_up(self) -> None:
        names = tuple(self.chosen())
        if not names:
            self._say("Tick the physicians who take the round (Space ticks the current one).",
                      "warn")
            return
        Op(self, svc.set_up_round, self.project, names, from_gold=self.count.value(),
           seed=self.seed.value(), pass_mark=self.pass_mark.value() / 100.0) \
            .emits(self.bus, lambda r: r[1]).success(self._done_set_up) \
            .failure(self._failed).run(self.db)

    def _done_set_up(self, result: tuple[svc.RoundSummary, Any]) -> None:
        summary = result[0]
        self._say(f"{summary.added} qualification items added; pass mark "
                  f"{_pct(summary.pass_mark)}.", "ok")
        self.refresh()

    def _waive(self) -> None:
        row = self.table.currentRow()
        if self.view is None or not 0 <= row < len(self.view.rounds):
            self._say("Select a rater in the table first.", "warn")
            return
        name = self.view.rounds[row].rater
        Op(self, svc.waive, self.project, name).emits(self.bus) \
            .success(lambda _c: self._waived(name)).failure(self._failed).run(self.db)

    def _waived(self, name: str) -> None:
        self._say(f"{name}: waived, their queue is open.", "ok")
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self._say(error_text(exc), "error")

    def _say(self, text: str, tone: str) -> None:
        self.status.setText(text)
        set_tone(self.status, tone)


def feedback_html(rows: list[Compared]) -> str:
    """The gold next to the rater's answers, in the words of the form (escaped)."""
    from medreview.domain.display_text import escaped_html as esc

    same = sum(1 for r in rows if r.same)
    out = [f"<p><b>{same} of {len(rows)}</b> answered as the gold.</p>",
           "<table cellpadding='4' width='100%'><tr><th align='left'>Question</th>"
           "<th align='left'>Yours</th><th align='left'>Gold</th><th></th></tr>"]
    for r in rows:
        q = r.question
        yours = answer_text(q, r.answer) if q is not None else str(r.answer)
        gold = answer_text(q, r.gold) if q is not None else str(r.gold)
        mark = "✓ same" if r.same else "✗ differs"
        why = (f"<br/><i>Gold rationale:</i> {esc(r.gold_rationale)}" if r.gold_rationale
               else "")
        out.append(f"<tr><td>{esc(r.question_text)}</td><td>{esc(yours)}</td>"
                   f"<td><b>{esc(gold)}</b>{why}</td><td>{mark}</td></tr>")
    out.append("</table>")
    return "".join(out)


class FeedbackDialog(QDialog):
    """Not modal: the rater reads it beside the next item and closes it with Escape."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from medreview.qt.grading.safe_text import SafeTextBrowser

        self.setWindowTitle("Qualification feedback")
        self.setModal(False)
        self.resize(840, 600)  # a six-criterion comparison without scrolling
        self.text = SafeTextBrowser()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setDefault(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)

    def show_feedback(self, rows: list[Compared]) -> None:
        self.text.setHtml(feedback_html(rows))
        self.show()
        self.raise_()
        self.activateWindow()
        self.close_button.setFocus()


class QualificationHook(QObject):
    """The grading controller's saves → feedback and the closed-queue line."""

    def __init__(self, window: Any, controller: GradingController) -> None:
        super().__init__(controller)
        self.window = window
        self.controller = controller
        self.line: str | None = None
        self.dialog: FeedbackDialog | None = None
        self.banner = self._banner()
        controller.sig_saved.connect(self._on_saved)
        self.refresh_line()

    def _banner(self) -> QLabel:
        return window_banner(self.window, BANNER)

    def refresh_line(self, reload_queue: bool = False) -> None:
        c = self.controller
        Op(c, svc.queue_line, c.project, c.rater_id).success(
            lambda line: self._show_line(line, reload_queue)).run(c.executor)

    def _show_line(self, line: str | None, reload_queue: bool) -> None:
        opened = self.line is not None and line is None
        self.line = line
        self.banner.setText(line or "")
        self.banner.setVisible(line is not None)
        if opened and reload_queue:  # passed: the real queue opens now
            c = self.controller
            Op(c, grading.load_queue, c.project, c.rater_id).latest("queue").success(
                lambda rows: self.window.queue.set_rows(rows, self.window.reveal_models)
            ).run(c.executor)

    def _on_saved(self, output_id: int, result: SaveResult, _draft: JudgmentDraft) -> None:
        if result.status not in ("done", "skipped"):
            return
        c = self.controller
        # A finished retest: the screen still holds the retest's answer; shown again from the
        # database it is the study answer, so an edit never makes the retest the study answer.
        Op(c, retests.answered_retest_last, c.project, c.rater_id, output_id).success(
            lambda yes: self._after_retest(output_id) if yes else None).run(c.executor)
        if result.status != "done":
            return
        Op(c, svc.feedback, c.project, c.rater_id, output_id).success(
            lambda rows: self._show_feedback(output_id, rows)).run(c.executor)
        self.refresh_line(reload_queue=True)

    def _after_retest(self, output_id: int) -> None:
        session = self.controller.session  # (its preloaded copy went with the save)
        if session.item is not None and session.item.output_id == output_id:
            session.reload()

    def _show_feedback(self, output_id: int, rows: list[Compared] | None) -> None:
        if rows is None:
            return
        if self.dialog is None:
            self.dialog = FeedbackDialog(self.window)
        self.dialog.setWindowTitle(f"Qualification feedback — item {output_id}")
        self.dialog.show_feedback(rows)


def attach_qualification(window: Any, controller: GradingController) -> QualificationHook:
    return QualificationHook(window, controller)


def show_qualification_dialog(window: Any) -> None:
    """Study → Qualification… (modal, like the other study dialogs)."""
    if window.project is None or window.executor is None:
        return
    run_modal(QualificationDialog(window.project, window.executor, window.bus, window))
    window.restore_grading_focus()
