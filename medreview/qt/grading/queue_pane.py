"""QueuePane: the rater's queue with status tabs, tag/model filters, search and progress."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QTabBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.qt.grading.queue_model import STATUS_TEXT, QueueModel
from medreview.services.grading_screen import STATUS_FILTERS, QueueFilter, models_of, tags_of
from medreview.services.views import QueueRow

# "Can't": the items marked "cannot assess" (short: five tabs share a narrow pane).
TAB_NAMES = {"todo": "To do", "done": "Done", "cannot": "Can't", "flagged": "Flagged",
             "all": "All"}
TITLE_CHARS = 20  # the Title column shows at least this many characters of a case title
CELL_PAD = 14  # a cell's margins around its text


class QueuePane(QWidget):
    sig_open = Signal(int)
    """The rater chose an output (by output id) in the queue."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QueueModel()
        self.reveal_models = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        title = QLabel("My queue")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        # A dashboard or calibration row narrows the queue to the items it is about.
        self.focus_ids: frozenset[int] | None = None
        self.focus_bar = QFrame()
        self.focus_bar.setObjectName("focusBar")
        fl = QHBoxLayout(self.focus_bar)
        fl.setContentsMargins(6, 3, 3, 3)
        self.focus_label = QLabel("")
        self.focus_label.setTextFormat(Qt.TextFormat.PlainText)  # names questions from data
        self.focus_label.setWordWrap(True)
        fl.addWidget(self.focus_label, 1)
        self.focus_clear = QPushButton("Show all")
        self.focus_clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.focus_clear.clicked.connect(self.clear_focus)
        fl.addWidget(self.focus_clear)
        self.focus_bar.hide()
        lay.addWidget(self.focus_bar)
        self.tabs = QTabBar()
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tabs.setExpanding(False)
        self.tabs.setUsesScrollButtons(False)
        for key in STATUS_FILTERS:
            self.tabs.addTab(TAB_NAMES[key])
        cannot_tab = STATUS_FILTERS.index("cannot")
        self.tabs.setTabToolTip(cannot_tab, "Items you marked “cannot assess” (key C): done, "
                                            "but not ratings")
        self.tabs.setTabVisible(cannot_tab, False)  # see refresh_counts
        self.tabs.currentChanged.connect(lambda _i: self._apply_filter())
        lay.addWidget(self.tabs)
        row = QHBoxLayout()
        self.tag_box = QComboBox()
        self.model_box = QComboBox()
        for box in (self.tag_box, self.model_box):
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            box.currentIndexChanged.connect(lambda _i: self._apply_filter())
            row.addWidget(box, 1)
        lay.addLayout(row)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search case, title, tag (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._apply_filter())
        lay.addWidget(self.search)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        # Fixed row heights keep a 100k-row table from measuring every row.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(22)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        # Position and update time are too wide for the pane (search and History cover them).
        self.table.setColumnHidden(0, True)
        self.table.setColumnHidden(6, True)
        self.table.activated.connect(self._on_table_activated)
        self.table.clicked.connect(self._on_table_activated)
        lay.addWidget(self.table, 1)
        self._fit_columns()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        lay.addWidget(self.progress)
        self.count_label = QLabel("")
        lay.addWidget(self.count_label)

    def _fit_columns(self) -> None:
        """Narrow columns sized to their usual content in this font, and a pane minimum wide
        enough that the stretching Title column keeps ``TITLE_CHARS`` characters (the full
        title is in its tooltip). Measured, not fixed, so a larger font or scale still fits."""
        fm = self.table.fontMetrics()

        def fit(*samples: str) -> int:
            return max(fm.horizontalAdvance(x) for x in samples) + CELL_PAD

        widths = {0: fit("0000"), 1: fit("Case", "onc-0000"), 3: fit("Response", "Response A"),
                  4: fit("Status", *STATUS_TEXT.values()), 5: fit("⚑") + 6,
                  6: fit("2026-01-01 00:00")}
        for col, width in widths.items():
            self.table.setColumnWidth(col, width)
        shown = sum(w for c, w in widths.items() if not self.table.isColumnHidden(c))
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        lay = self.layout()
        margins = lay.contentsMargins().left() + lay.contentsMargins().right() if lay else 0
        self.setMinimumWidth(shown + TITLE_CHARS * fm.averageCharWidth() + CELL_PAD + scrollbar
                             + 2 * self.table.frameWidth() + margins)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_columns()  # the rater changed the font size or the theme
        super().changeEvent(event)

    # data -------------------------------------------------------------------------------------
    def set_rows(self, rows: list[QueueRow], reveal_models: bool) -> None:
        self.reveal_models = reveal_models
        for box, values, all_text in ((self.tag_box, tags_of(rows), "All tags"),
                                      (self.model_box, models_of(rows, reveal_models),
                                       "All models" if reveal_models else "All responses")):
            box.blockSignals(True)
            box.clear()
            box.addItem(all_text, None)
            for v in values:
                box.addItem(v, v)
            box.blockSignals(False)
        self.model.set_rows(rows)
        self._apply_filter()
        self.refresh_counts()

    def _apply_filter(self) -> None:
        f = QueueFilter(status=STATUS_FILTERS[max(0, self.tabs.currentIndex())],
                        tag=self.tag_box.currentData(), model=self.model_box.currentData(),
                        text=self.search.text().strip(), reveal_models=self.reveal_models,
                        only=self.focus_ids)
        self.model.set_filter(f)

    def set_focus(self, output_ids: frozenset[int], label: str) -> int:
        """Show only ``output_ids`` (under the All tab); returns how many are in this queue."""
        self.focus_ids = output_ids
        present = sum(1 for oid in output_ids if self.model.row_index(oid) is not None)
        missing = len(output_ids) - present
        note = f" · {missing} not in this queue" if missing else ""
        self.focus_label.setText(visible_text(f"Showing {present} item(s): {label}{note}"))
        self.focus_bar.show()
        self.tabs.blockSignals(True)
        self.set_status_tab("all")
        self.tabs.blockSignals(False)
        self._apply_filter()
        return present

    def clear_focus(self) -> None:
        self.focus_ids = None
        self.focus_bar.hide()
        self._apply_filter()

    def set_status_tab(self, key: str) -> None:
        index = STATUS_FILTERS.index(key)
        self.tabs.setTabVisible(index, True)
        self.tabs.setCurrentIndex(index)

    def update_row(self, row: QueueRow) -> None:
        self.model.update_row(row)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        c = self.model.counts()
        self.progress.setRange(0, max(1, c.total))
        self.progress.setValue(c.done)
        self.progress.setFormat(f"{c.done} / {c.total} done ({c.fraction_done:.0%})")
        cannot = f" · can't assess {c.cannot_assess}" if c.cannot_assess else ""
        self.count_label.setText(f"Started {c.draft} · skipped {c.skipped} · "
                                 f"flagged {c.flagged} · to do {c.todo}{cannot}")
        for i, key in enumerate(STATUS_FILTERS):
            n = {"todo": c.total - c.done, "done": c.done, "cannot": c.cannot_assess,
                 "flagged": c.flagged, "all": c.total}[key]
            self.tabs.setTabText(i, f"{TAB_NAMES[key]} ({n})")
        # Items marked "cannot assess" are done (counted there too); their own tab shows
        # once there are some, so the usual four keep their room in a narrow pane.
        cannot_tab = STATUS_FILTERS.index("cannot")
        self.tabs.setTabVisible(
            cannot_tab, bool(c.cannot_assess) or self.tabs.currentIndex() == cannot_tab)

    def select_output(self, output_id: int) -> None:
        d = self.model.display_row(output_id)
        if d is None:
            self.table.clearSelection()
            return
        idx = self.model.index(d, 0)
        self.table.selectRow(d)
        self.table.scrollTo(idx, QAbstractItemView.ScrollHint.EnsureVisible)

    def _on_table_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sig_open.emit(self.model.row_at(index.row()).output_id)
