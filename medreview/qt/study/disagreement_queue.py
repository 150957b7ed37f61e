"""The adjudication queue pane: editable disagreement rules, a question filter and the list of
disagreements, most disagreement first."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import tooltip_text, visible_text
from medreview.qt.flow_layout import FlowLayout
from medreview.qt.status import tone_color
from medreview.qt.study.values import PROVENANCE_TEXT
from medreview.qt.table_cells import cell
from medreview.services.study import Disagreement, DisagreementRules

KIND_GROUPS = (  # checkbox label -> question kinds it covers
    ("Criteria", ("criterion",)),
    ("Choices", ("single_choice", "pairwise", "multi_choice")),
    ("Scales", ("ordinal",)),
    ("Numbers", ("number",)),
    ("Errors", ("error",)),
)
RULES_DELAY_MS = 300
ALL = ""


class RuleFieldGuard(QObject):
    """Event filter on the rule fields: the wheel counts only once a field has focus (scrolling
    the pane never changes a rule), and Enter in a field applies the value instead of firing
    the window's "save gold" shortcut."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) \
                and not watched.hasFocus():
            event.ignore()
            return True
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # delivered to the field as a key press
            return True
        return False


def _item(text: str, tip: str = "") -> QTableWidgetItem:
    return cell(text, tip=tip)  # case ids and prompts are data


def score_bar(score: float) -> str:
    """A ten-step bar: how much the raters disagree, readable at a glance."""
    n = max(1, round(score * 10))
    return "▮" * n + "▯" * (10 - n)


class DisagreementQueue(QWidget):
    sig_rules_changed = Signal()
    """The rules were edited: the window reloads the queue."""
    sig_selected = Signal(int, str)
    """(output id, question id) of the chosen disagreement."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Disagreements")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        rules = QGroupBox("Rules")
        form = QFormLayout(rules)
        self.ordinal = QDoubleSpinBox()
        self.ordinal.setRange(0.5, 100)
        self.ordinal.setSingleStep(1)
        self.ordinal.setDecimals(1)
        self.ordinal.setValue(2.0)
        self.ordinal.setToolTip("A scale question is a disagreement when the highest and lowest "
                                "rating differ by at least this much")
        form.addRow("Scale spread ≥", self.ordinal)
        self.number = QDoubleSpinBox()
        self.number.setRange(0, 1e9)
        self.number.setDecimals(1)
        self.number.setSpecialValueText("any difference")
        self.number.setToolTip("Number questions: the spread that counts as a disagreement")
        form.addRow("Number spread ≥", self.number)
        kinds = FlowLayout()
        self.kind_boxes: list[tuple[QCheckBox, tuple[str, ...]]] = []
        for label, group in KIND_GROUPS:
            box = QCheckBox(label)
            box.setChecked(True)
            box.toggled.connect(self._on_rule_edited)
            kinds.addWidget(box)
            self.kind_boxes.append((box, group))
        form.addRow("Kinds", kinds)
        lay.addWidget(rules)
        # Rules change only deliberately: the keyboard walk and stray digits (meant for the
        # gold answer) never reach them, a typed value counts on Enter, the wheel only once
        # clicked; Enter hands the keys back to the queue.
        self._wheel_guard = RuleFieldGuard(self)
        for spin in (self.ordinal, self.number):
            spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            spin.setKeyboardTracking(False)
            spin.installEventFilter(self._wheel_guard)
            spin.valueChanged.connect(self._on_rule_edited)
            spin.editingFinished.connect(self._back_to_queue)
        for box, _group in self.kind_boxes:
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        filt = QHBoxLayout()
        filt.addWidget(QLabel("Question"))
        self.question = QComboBox()
        self.question.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.question.setMinimumContentsLength(18)
        self.question.currentIndexChanged.connect(self._apply_filter)
        self.question.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.question.installEventFilter(self._wheel_guard)
        filt.addWidget(self.question, 1)
        lay.addLayout(filt)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Disagreement", "Case", "Question", "Gold"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)
        lay.addWidget(self.table, 1)
        self.count = QLabel("")
        self.count.setEnabled(False)
        lay.addWidget(self.count)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RULES_DELAY_MS)
        self._timer.timeout.connect(self.sig_rules_changed.emit)
        self.items: list[Disagreement] = []
        self.shown: list[Disagreement] = []
        self.resolved: set[tuple[int, str]] = set()
        self._emitted: tuple[int, str] | None = None

    # rules ------------------------------------------------------------------------------------
    def rules(self) -> DisagreementRules:
        kinds = tuple(k for box, group in self.kind_boxes if box.isChecked() for k in group)
        number = self.number.value()
        return DisagreementRules(ordinal_threshold=self.ordinal.value(),
                                 number_threshold=number if number > 0 else None, kinds=kinds)

    def _on_rule_edited(self, *_: object) -> None:
        self._timer.start()

    def _back_to_queue(self) -> None:
        if self.ordinal.hasFocus() or self.number.hasFocus():
            self.table.setFocus()

    def describe_rules(self) -> str:
        """The rules in words, for the message that says they leave nothing to settle."""
        number = self.number.value()
        kinds = [box.text() for box, _g in self.kind_boxes if box.isChecked()]
        return (f"scale spread ≥ {self.ordinal.value():g}, number spread "
                f"{'≥ ' + format(number, 'g') if number > 0 else 'any'}, kinds: "
                f"{', '.join(kinds) or 'none'}")

    # content ----------------------------------------------------------------------------------
    def set_items(self, items: list[Disagreement], keep: tuple[int, str] | None = None,
                  row: int | None = None) -> None:
        """Show ``items``; select ``keep`` if still listed, else display row ``row``, else 0."""
        self.items = list(items)
        self.resolved = {(d.output_id, d.question_id) for d in items
                         if d.gold_provenance == "adjudicated"}
        chosen = self.question.currentData() or ALL
        self.question.blockSignals(True)
        self.question.clear()
        self.question.addItem(f"All questions ({len(items)})", ALL)
        prompts: dict[str, tuple[str, int]] = {}
        for d in items:
            text, n = prompts.get(d.question_id, (d.prompt, 0))
            prompts[d.question_id] = (text, n + 1)
        for qid, (text, n) in sorted(prompts.items(), key=lambda kv: -kv[1][1]):
            short = text if len(text) <= 60 else text[:57] + "…"
            self.question.addItem(visible_text(f"{short} ({n})"), qid)
            self.question.setItemData(self.question.count() - 1, tooltip_text(text),
                                      Qt.ItemDataRole.ToolTipRole)
        idx = self.question.findData(chosen)
        self.question.setCurrentIndex(max(idx, 0))
        self.question.blockSignals(False)
        self._apply_filter(keep=keep, row=row)

    def _apply_filter(self, *_: object, keep: tuple[int, str] | None = None,
                      row: int | None = None) -> None:
        qid = self.question.currentData() or ALL
        self.shown = [d for d in self.items if qid == ALL or d.question_id == qid]
        self._emitted = None  # a new list: its selection is news even if the key is not
        self.table.blockSignals(True)
        self.table.clearSelection()  # so selecting the same row index again is news
        self.table.setRowCount(len(self.shown))
        for i, d in enumerate(self.shown):
            self._fill_row(i, d)
        self.table.blockSignals(False)
        open_n = sum(1 for d in self.shown if (d.output_id, d.question_id) not in self.resolved)
        self.count.setText(f"{open_n} open · {len(self.shown) - open_n} resolved · "
                           f"sorted by disagreement" if self.items else
                           "No disagreements under these rules.")
        target = self.row_of(keep) if keep else None
        if target is None:
            target = min(row, len(self.shown) - 1) if row is not None else 0
        if self.shown:
            self.select_row(target)
            # Qt keeps the current cell through a refill and may then see no change.
            self._on_selection()

    def _fill_row(self, row: int, d: Disagreement) -> None:
        done = (d.output_id, d.question_id) in self.resolved
        bar = _item(score_bar(d.score), f"disagreement {d.score:.2f} (0 = none, 1 = total)")
        bar.setForeground(QBrush(tone_color("error" if d.score >= 0.5 else "warn")))
        prov = "adjudicated" if done else PROVENANCE_TEXT.get(d.gold_provenance or "", "")
        cells = [bar, _item(d.case_external_id), _item(d.prompt, d.prompt), _item(prov)]
        for col, item in enumerate(cells):
            if done:
                item.setForeground(QBrush(tone_color("muted")))
            self.table.setItem(row, col, item)

    def row_of(self, key: tuple[int, str] | None) -> int | None:
        for row, d in enumerate(self.shown):
            if key == (d.output_id, d.question_id):
                return row
        return None

    def current(self) -> Disagreement | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.shown):
            return None
        return self.shown[rows[0].row()]

    def select_row(self, row: int) -> None:
        if 0 <= row < len(self.shown):
            self.table.setCurrentCell(row, 0)
            item = self.table.item(row, 0)
            if item is not None:
                self.table.scrollToItem(item)

    def step(self, delta: int) -> None:
        cur = self.current()
        row = self.shown.index(cur) if cur is not None else -1
        self.select_row(min(max(row + delta, 0), len(self.shown) - 1))

    def mark_resolved(self, key: tuple[int, str], remove: bool) -> None:
        """After a gold label: drop the row (or grey it) and select the next open one."""
        row = self.row_of(key)
        self.resolved.add(key)
        if remove:
            resolved = set(self.resolved)
            self.set_items([d for d in self.items if (d.output_id, d.question_id) != key],
                           row=row or 0)
            self.resolved |= resolved
            return
        if row is not None:
            self._fill_row(row, self.shown[row])
        nxt = next((r for r in range(len(self.shown))
                    if r > (row if row is not None else -1)
                    and (self.shown[r].output_id, self.shown[r].question_id) not in self.resolved),
                   None)
        if nxt is not None:
            self.select_row(nxt)

    def _on_selection(self) -> None:
        d = self.current()
        if d is not None and self._emitted != (d.output_id, d.question_id):
            self._emitted = (d.output_id, d.question_id)
            self.sig_selected.emit(d.output_id, d.question_id)
