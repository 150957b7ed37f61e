"""The tabs of the statistics dashboard. Each reads the ProjectStats tables generically (rows and
columns it does not know are shown as they are) and emits ``sig_open_items(ids, label)`` when a
row with disagreeing items is activated; a click on a row's Disagree count lists those items
with every rater's answer (``items_list.ItemsDialog``). Rows with a κ/α paradox note are tinted
and the notes are shown above the table, with Gwet's AC1 beside κ/α."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.stats.format import (
    interval,
    is_missing,
    items_label,
    number,
    question_name,
    reference_name,
    statistic_name,
    variant_name,
)
from medreview.qt.stats.items_list import AnswerIndex, ItemsDialog
from medreview.qt.stats.plots import (
    ErrorBarPlot,
    HeatmapPlot,
    HistogramPlot,
    ReliabilityPlot,
    color,
)
from medreview.qt.stats.table import (
    IDS,
    ITEMS,
    PARADOX,
    STANDARD,
    Column,
    StatsTable,
    columns_for,
    hint_label,
)

QUESTION = Column("question_id", "Question", "custom",
                  fmt=lambda r: question_name(r["question_id"]))
CORE = [STANDARD["statistic"], STANDARD["value"], STANDARD["ci"], STANDARD["n_items"],
        STANDARD["n_raters"], STANDARD[IDS]]


# The last few tables converted to rows (a tab filters one table many times per refresh;
# converting it once saves most of the time it takes to fill the tabs). The table is kept
# beside its rows, so its id cannot be reused while cached.
_ROWS: dict[int, tuple[Any, list[dict[str, Any]]]] = {}


def _all_records(df: Any) -> list[dict[str, Any]]:
    hit = _ROWS.get(id(df))
    if hit is not None and hit[0] is df:
        return hit[1]
    rows = list(df.to_dict("records"))
    while len(_ROWS) >= 16:
        del _ROWS[next(iter(_ROWS))]
    _ROWS[id(df)] = (df, rows)
    return rows


def records(df: Any, **equal: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame as dicts, keeping only rows whose columns equal ``equal``."""
    if df is None or df.empty:
        return []
    keys = [(k, v) for k, v in equal.items() if k in df.columns]
    return [dict(r) for r in _all_records(df) if all(r[k] == v for k, v in keys)]


def records_column(df: Any, column: str) -> list[str]:
    if df is None or df.empty or column not in df.columns:
        return []
    return [str(v) for v in df[column].unique()]


def fill_combo(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
    """Replace a combo's items, keeping the current choice when it still exists."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    i = combo.findData(current)
    combo.setCurrentIndex(i if i >= 0 else 0)
    combo.blockSignals(False)


def titled(title: str, widget: QWidget, note: str = "") -> QGroupBox:
    box = QGroupBox(title)
    lay = QVBoxLayout(box)
    lay.setContentsMargins(8, 6, 8, 8)
    if note:
        lay.addWidget(hint_label(note))
    lay.addWidget(widget)
    return box


def picker(label: str, combo: QComboBox) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(QLabel(label))
    lay.addWidget(combo)
    combo.setMinimumWidth(140)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return w


OPEN_HINT = ("Click a Disagree number to list those items with every rater's answer; "
             "double-click a row (or select it and press Enter) to open them.")


def paradox_html(rows: list[dict[str, Any]]) -> str:
    """The paradox notes of ``rows``, one line per table of answers (question, error category
    or model): the first κ/α row's note (it names Gwet's AC1) and the other low κ/α values."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get(PARADOX):
            where = question_name(r["question_id"])
            if r.get("category"):
                where += f" · {r['category']}"
            if r.get("scope") == "model":
                where += f" · model {r.get('group')}"
            blocks.setdefault(where, []).append(r)
    if not blocks:
        return ""
    lines = []
    for where, block in blocks.items():
        also = ", ".join(f"{statistic_name(r['statistic'])} {number(r['value'], 2)}"
                         for r in block[1:])
        note = html.escape(str(block[0][PARADOX]), quote=False)
        lines.append(f"<li><b>{html.escape(where, quote=False)}</b>: {note}"
                     + (f" Also low: {html.escape(also, quote=False)}." if also else "") + "</li>")
    more = len(lines) - 4
    return ("<b>⚠ High agreement, low κ/α (the kappa paradox)</b> — the tinted rows:"
            "<ul style='margin:2px 0 0 -20px'>" + "".join(lines[:4])
            + (f"<li>… and {more} more (hover a tinted value)</li>" if more > 0 else "")
            + "</ul>")


def paradox_label() -> QLabel:
    label = QLabel("")
    label.setObjectName("paradoxNote")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setVisible(False)
    return label


def show_paradoxes(label: QLabel, rows: list[dict[str, Any]]) -> None:
    text = paradox_html(rows)
    label.setText(text)
    label.setVisible(bool(text))


class StatsTab(QWidget):
    sig_open_items = Signal(list, str)
    sig_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats: Any = None
        self.inputs: Any = None
        self._answers: AnswerIndex | None = None
        self.items_dialog: ItemsDialog | None = None
        # The tab's content scrolls rather than forcing a minimum window size: the window fits
        # a 1366x768 screen at 150 % scale (910x512 logical pixels) with nothing cut off.
        self.body = QWidget()
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def show_stats(self, inputs: Any, stats: Any) -> None:
        self.inputs, self.stats = inputs, stats
        self._answers = None  # rebuilt on the next click, from these inputs
        self.refresh()

    def answers(self) -> AnswerIndex:
        if self._answers is None:
            self._answers = AnswerIndex(getattr(self.inputs, "ratings", None),
                                        getattr(self.inputs, "questions", None))
        return self._answers

    def list_items(self, row: dict[str, Any], *parts: str) -> None:
        """The items behind a row's Disagree count, in a window of their own."""
        items = [(int(o), str(q)) for o, q in row.get(ITEMS) or ()]
        if not items:
            items = [(int(o), str(row.get("question_id", ""))) for o in row.get(IDS) or ()]
        raters = None
        if row.get("rater_a"):
            raters = [str(row["rater_a"]), str(row["rater_b"])]
        if self.items_dialog is not None:
            self.items_dialog.close()
        title = " · ".join(p for p in parts if p)
        dialog = ItemsDialog(items, self.answers(), title, raters, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.sig_open_items.connect(self.sig_open_items)
        dialog.destroyed.connect(lambda *_: setattr(self, "items_dialog", None))
        self.items_dialog = dialog
        dialog.show()

    def refresh(self) -> None:
        raise NotImplementedError

    def open_row(self, row: dict[str, Any], *parts: str) -> None:
        ids = [int(i) for i in row.get(IDS) or ()]
        if not ids:
            self.sig_message.emit("No disagreeing items in this row.")
            return
        self.sig_open_items.emit(ids, items_label(list(parts), len(ids)))

    def table(self, columns: Sequence[Column], label: Any) -> StatsTable:
        t = StatsTable(columns)
        t.sig_activated.connect(lambda row: self.open_row(row, *label(row)))
        t.sig_count_clicked.connect(lambda row: self.list_items(row, *label(row)))
        return t


class OverviewTab(StatsTab):
    """The methods-section table: every physician agreement statistic per question."""

    LEAD = (QUESTION, *CORE)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.paradox = paradox_label()
        self.agreement = self.table(self.LEAD, lambda r: (question_name(r["question_id"]),
                                                          "physicians"))
        self.methods = StatsTable([Column("method", "Method"),
                                   Column("missing", "Missing data"),
                                   Column("ci", "Confidence interval")])
        # "Not applicable" per question and "cannot assess" per reason: out of every
        # statistic, counted here (domain.not_assessed).
        self.not_assessed = StatsTable([
            Column("what", "Not assessed", fmt=lambda r: "Not applicable"
                   if r["what"] == "not_applicable" else "Cannot assess", kind="custom"),
            Column("item", "Question / reason", kind="custom", fmt=lambda r: question_name(
                r["question_id"]) if r["question_id"] else str(r["label"])),
            Column("rater_kind", "Raters"), Column("count", "Count", "int")])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(titled("Agreement among physicians, per question", self.agreement,
                               OPEN_HINT))
        split.addWidget(titled("Methods", self.methods))
        split.addWidget(titled("Not assessed (left out of every statistic)",
                               self.not_assessed))
        split.setSizes([520, 200, 120])
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.summary)
        lay.addWidget(self.paradox)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        meta = self.stats.meta
        ci = (f"95% CIs with {meta.get('n_resamples')} bootstrap resamples where the method "
              f"uses the bootstrap (seed {meta.get('seed')})" if meta.get("ci") else "no CIs")
        self.summary.setText(
            f"<b>{meta.get('n_outputs', 0)}</b> outputs rated · "
            f"<b>{meta.get('n_physicians', 0)}</b> physicians · "
            f"<b>{meta.get('n_judges', 0)}</b> judge rater"
            f"{'' if meta.get('n_judges', 0) == 1 else 's'} · {ci}. "
            "Items are outputs; per-case criteria are pooled.")
        rows = records(self.stats.agreement, scope="physicians")
        self.agreement.set_rows(rows, columns_for(list(self.stats.agreement.columns), self.LEAD,
                                                  hidden=("scope", "group")))
        show_paradoxes(self.paradox, rows + records(self.stats.errors))
        lines = self.stats.methods_table().splitlines()[2:]
        methods = []
        for line in lines:
            cells = [c.strip() for c in line.split("|")]
            cells += [""] * (3 - len(cells))
            methods.append({"method": statistic_name(cells[0]) if "_" in cells[0] else cells[0],
                            "missing": cells[1], "ci": " | ".join(cells[2:]).strip(" |")})
        self.methods.set_rows(methods)
        na = getattr(self.stats, "not_assessed", None)
        self.not_assessed.set_rows([] if na is None else records(na))


class ByQuestionTab(StatsTab):
    """Per-question agreement with CIs (plot) and agreement per error category."""

    ERR_LEAD = (QUESTION, Column("category", "Category"), Column("prevalence", "Prevalence", "num"),
                *CORE)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.statistic = QComboBox()
        self.statistic.currentIndexChanged.connect(lambda _: self._plot())
        self.plot = ErrorBarPlot("Agreement among physicians per question (95% CI)",
                                 "Coefficient value", "")
        self.errors = self.table(self.ERR_LEAD, lambda r: (
            f"{question_name(r['question_id'])}: {r.get('category', '')}", "physicians"))
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(picker("Statistic:", self.statistic), 0, Qt.AlignmentFlag.AlignLeft)
        tl.addWidget(self.plot, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(titled("Agreement per error category (presence of the category)",
                               self.errors, OPEN_HINT))
        split.setSizes([480, 320])
        self.paradox = paradox_label()
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.paradox)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        rows = records(self.stats.agreement, scope="physicians")
        stats = list(dict.fromkeys(str(r["statistic"]) for r in rows))
        fill_combo(self.statistic, [("All statistics", "")] +
                   [(statistic_name(s), s) for s in stats])
        self._plot()
        err = self.stats.errors
        self.errors.set_rows(records(err), columns_for(list(err.columns), self.ERR_LEAD))
        show_paradoxes(self.paradox, records(self.stats.agreement, scope="physicians")
                       + records(err))

    def _plot(self) -> None:
        if self.stats is None:
            return
        want = self.statistic.currentData()
        rows = [r for r in records(self.stats.agreement, scope="physicians")
                if not want or r["statistic"] == want]
        labels = [f"{question_name(r['question_id'])} · {statistic_name(r['statistic'])}"
                  if not want else question_name(r["question_id"]) for r in rows]
        self.plot.set_data(labels, [r["value"] for r in rows], [r["ci_low"] for r in rows],
                           [r["ci_high"] for r in rows])


class ByModelTab(StatsTab):
    """Physician agreement within each model's outputs."""

    LEAD = (Column("group", "Model"), *CORE)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = QComboBox()
        self.statistic = QComboBox()
        self.question.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.statistic.currentIndexChanged.connect(lambda _: self._plot())
        self.plot = ErrorBarPlot("Agreement among physicians per model (95% CI)",
                                 "Coefficient value", "")
        self.table_ = self.table(self.LEAD, lambda r: (question_name(r["question_id"]),
                                                       f"model {r['group']}"))
        bar = QHBoxLayout()
        bar.addWidget(picker("Question:", self.question))
        bar.addWidget(picker("Statistic:", self.statistic))
        bar.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(titled("Agreement per model", self.table_, OPEN_HINT))
        split.setSizes([360, 420])
        self.paradox = paradox_label()
        lay = QVBoxLayout(self.body)
        lay.addLayout(bar)
        lay.addWidget(self.paradox)
        lay.addWidget(split, 1)

    def _rows(self) -> list[dict[str, Any]]:
        return records(self.stats.agreement, scope="model")

    def refresh(self) -> None:
        qs = list(dict.fromkeys(str(r["question_id"]) for r in self._rows()))
        fill_combo(self.question, [(question_name(q), q) for q in qs])
        self.refresh_view()

    def refresh_view(self) -> None:
        if self.stats is None:
            return
        q = self.question.currentData()
        rows = [r for r in self._rows() if r["question_id"] == q]
        stats = list(dict.fromkeys(str(r["statistic"]) for r in rows))
        fill_combo(self.statistic, [(statistic_name(s), s) for s in stats])
        self.table_.set_rows(rows, columns_for(list(self.stats.agreement.columns), self.LEAD,
                                               hidden=("scope", "question_id")))
        show_paradoxes(self.paradox, rows)
        self._plot()

    def _plot(self) -> None:
        if self.stats is None:
            return
        q, s = self.question.currentData(), self.statistic.currentData()
        rows = [r for r in self._rows() if r["question_id"] == q and r["statistic"] == s]
        if not rows:
            self.plot.show_message("No per-model statistics (each model needs outputs rated "
                                   "by two or more physicians).")
            return
        self.plot.set_data([str(r["group"]) for r in rows], [r["value"] for r in rows],
                           [r["ci_low"] for r in rows], [r["ci_high"] for r in rows],
                           colors=[color(i) for i in range(len(rows))])


class RaterPairsTab(StatsTab):
    """Rater x rater agreement: a heat map (judges included against each physician)."""

    LEAD = (Column("rater_a", "Rater A"), Column("rater_b", "Rater B"), *CORE)
    KINDS = (("Cohen's κ", "kappa"), ("Percent agreement", "percent"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = QComboBox()
        self.kind = QComboBox()
        fill_combo(self.kind, list(self.KINDS))
        self.question.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.kind.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.heatmap = HeatmapPlot("Rater x rater agreement")
        self.heatmap.setMinimumHeight(240)
        self.heatmap.sig_cell_activated.connect(self._on_cell)
        self.table_ = self.table(self.LEAD, lambda r: (question_name(r["question_id"]),
                                                       f"{r['rater_a']} vs {r['rater_b']}"))
        self.cells: dict[tuple[str, str], dict[str, Any]] = {}
        bar = QHBoxLayout()
        bar.addWidget(picker("Question:", self.question))
        bar.addWidget(picker("Show:", self.kind))
        hint = hint_label("Click a cell to open the items the two raters disagree on.")
        bar.addWidget(hint, 1)
        bar.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.heatmap)
        split.addWidget(titled("Pairs", self.table_, OPEN_HINT))
        split.setSizes([560, 640])
        lay = QVBoxLayout(self.body)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

    def pair_rows(self, question: str, kind: str) -> list[dict[str, Any]]:
        """Physician pairs from the agreement table plus each judge against each physician."""
        out = []
        for r in records(self.stats.agreement, scope="rater_pair", question_id=question):
            stat = str(r["statistic"])
            if (kind == "kappa") != stat.startswith("cohen_kappa"):
                continue
            a, _, b = str(r["group"]).partition(" | ")
            out.append({**r, "rater_a": a, "rater_b": b})
        kappa_stats = {str(r["statistic"]) for r in out} or {"cohen_kappa"}
        for r in records(self.stats.judge, question_id=question, variant="pooled"):
            ref = str(r["reference"])
            stat = str(r["statistic"])
            if not ref.startswith("physician:"):
                continue
            if (kind == "kappa" and stat in kappa_stats) or (kind == "percent" and
                                                             stat == "accuracy"):
                out.append({**r, "rater_a": str(r["judge"]), "rater_b": reference_name(ref),
                            "statistic": "percent_agreement" if kind == "percent" else stat})
        return out

    def refresh(self) -> None:
        rows = records(self.stats.agreement, scope="rater_pair")
        qs = list(dict.fromkeys(str(r["question_id"]) for r in rows))
        defined = {str(r["question_id"]) for r in rows if not is_missing(r["value"])}
        qs.sort(key=lambda q: q not in defined)  # undefined (numeric) pairs last
        fill_combo(self.question, [(question_name(q), q) for q in qs])
        self.refresh_view()

    def refresh_view(self) -> None:
        if self.stats is None:
            return
        q, kind = self.question.currentData(), self.kind.currentData()
        rows = self.pair_rows(q, kind) if q else []
        cols = columns_for(list(self.stats.agreement.columns), self.LEAD,
                           hidden=("scope", "group", "question_id", "judge", "reference",
                                   "variant"))
        self.table_.set_rows(rows, cols)
        judges = set(records_column(self.stats.judge, "judge"))
        everyone = {r["rater_a"] for r in rows} | {r["rater_b"] for r in rows}
        # Physicians first, judges last: the judge row reads against the physician block.
        names = sorted(everyone - judges) + sorted(everyone & judges)
        idx = {n: i for i, n in enumerate(names)}
        m = [[math.nan] * len(names) for _ in names]
        self.cells = {}
        for r in rows:
            a, b = idx[r["rater_a"]], idx[r["rater_b"]]
            v = float(r["value"]) if not is_missing(r["value"]) else math.nan
            m[a][b] = m[b][a] = v
            self.cells[(r["rater_a"], r["rater_b"])] = self.cells[(r["rater_b"], r["rater_a"])] = r
        label = "Cohen's κ" if kind == "kappa" else "Percent agreement"
        self.heatmap.set_labels(f"{label}: {question_name(q)}" if q else label, "", "")
        notes = [str(r.get("note") or "") for r in rows if r.get("note")]
        why = (f"{label} is not defined for any pair here"
               + (f":\n{notes[0].removeprefix('undefined: ')}" if notes else "."))
        self.heatmap.set_matrix(names, m, (-1.0, 1.0) if kind == "kappa" else (0.0, 1.0), label,
                                empty_text=why)

    def _on_cell(self, i: int, j: int) -> None:
        names = self.heatmap.names
        row = self.cells.get((names[i], names[j]))
        if row is not None:
            self.open_row(row, question_name(row["question_id"]),
                          f"{row['rater_a']} vs {row['rater_b']}")


class JudgeTab(StatsTab):
    """The judge against the physicians, next to the physician ceiling, and its calibration."""

    LEAD = (Column("judge", "Judge"),
            Column("reference", "Reference", "custom", fmt=lambda r: reference_name(
                r["reference"])),
            Column("variant", "Variant", "custom", fmt=lambda r: variant_name(r["variant"])),
            *CORE)
    CEIL = (Column("judge", "Judge"), STANDARD["statistic"],
            Column("judge_value", "Judge value", "num"),
            Column("physician_mean", "Physicians (mean)", "num",
                   "each physician scored against the other physicians, then averaged"),
            Column("range", "Physician range", "custom",
                   fmt=lambda r: interval(r["physician_min"], r["physician_max"])),
            Column("n_items", "Items", "int"), Column("n_physicians", "Physicians", "int"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = QComboBox()
        self.question.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.table_ = self.table(self.LEAD, lambda r: (
            question_name(r["question_id"]), f"{r['judge']} vs {reference_name(r['reference'])}"))
        self.ceiling = StatsTable(self.CEIL)
        self.reliability = ReliabilityPlot()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.reliability)
        right.addWidget(titled("Judge next to the physician-vs-physician ceiling", self.ceiling))
        right.setSizes([420, 260])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(titled("Judge versus physicians", self.table_, OPEN_HINT))
        split.addWidget(right)
        split.setSizes([820, 560])
        bar = QHBoxLayout()
        bar.addWidget(picker("Question:", self.question))
        bar.addStretch(1)
        lay = QVBoxLayout(self.body)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        qs = list(dict.fromkeys(str(r["question_id"]) for r in records(self.stats.judge)))
        calibrated = set(records_column(self.stats.calibration, "question_id"))
        qs.sort(key=lambda q: q not in calibrated)  # the reliability diagram first
        fill_combo(self.question, [(question_name(q), q) for q in qs])
        self.refresh_view()

    def refresh_view(self) -> None:
        if self.stats is None:
            return
        q = self.question.currentData()
        j = self.stats.judge
        # One judge (the usual case): its name in every row is noise.
        single = len(records_column(j, "judge")) <= 1
        lead = [c for c in self.LEAD if not (single and c.key == "judge")]
        ceil = [c for c in self.CEIL if not (single and c.key == "judge")]
        self.table_.set_rows(records(j, question_id=q) if q else [],
                             columns_for(list(j.columns), lead,
                                         hidden=("question_id", "judge")))
        c = self.stats.ceiling
        self.ceiling.set_rows(records(c, question_id=q) if q else [],
                              columns_for(list(c.columns), ceil,
                                          hidden=("physician_min", "physician_max",
                                                  "question_id", "judge")))
        self._reliability(q)

    def _reliability(self, q: str | None) -> None:
        plot = self.reliability
        cal = records(self.stats.calibration, question_id=q) if q else []
        if not cal:
            plot.show_message("No calibration: the judge stated no confidence for this question,\n"
                              "or its answers are numeric scores.")
            plot.set_labels("Reliability diagram", "Judge confidence (bin mean)",
                            "Observed rate the judge is right")
            return
        plot.start(f"Reliability vs strict physician majority: {question_name(q)}")
        judges = list(dict.fromkeys(str(r["judge"]) for r in cal))
        for i, judge in enumerate(judges):
            rows = [r for r in cal if r["judge"] == judge]
            scores = {str(r["statistic"]): r["value"] for r in records(
                self.stats.judge, question_id=q, judge=judge, variant="calibration")}
            name = (f"{judge.removeprefix('judge: ')}: ECE {number(scores.get('ece'))}, "
                    f"Brier {number(scores.get('brier'))}")
            plot.add_series(name, [r["mean_confidence"] for r in rows],
                            [r["observed_rate"] for r in rows], [r["count"] for r in rows], i)


class ScoresTab(StatsTab):
    """Distribution of the numeric answers per model."""

    SUMMARY = (Column("model", "Model"), Column("n", "Ratings", "int"),
               Column("outputs", "Outputs", "int"), Column("mean", "Mean", "num"),
               Column("sd", "SD", "num"), Column("median", "Median", "num"),
               Column("min", "Min", "num"), Column("max", "Max", "num"))
    KINDS = (("Physicians", "physician"), ("Judges", "judge"), ("Everyone", ""))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = QComboBox()
        self.kind = QComboBox()
        fill_combo(self.kind, list(self.KINDS))
        self.question.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.kind.currentIndexChanged.connect(lambda _: self.refresh_view())
        self.plot = HistogramPlot("Score distribution per model", "Score", "")
        self.summary = StatsTable(self.SUMMARY)
        bar = QHBoxLayout()
        bar.addWidget(picker("Question:", self.question))
        bar.addWidget(picker("Rated by:", self.kind))
        bar.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(titled("Per model", self.summary))
        split.setSizes([520, 220])
        lay = QVBoxLayout(self.body)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        s = self.stats.scores
        qs = sorted({str(q) for q in s["question_id"]}, key=lambda q: (q != "score", q)) \
            if not s.empty else []
        fill_combo(self.question, [(question_name(q), q) for q in qs])
        self.refresh_view()

    def refresh_view(self) -> None:
        if self.stats is None:
            return
        s = self.stats.scores
        q, kind = self.question.currentData(), self.kind.currentData()
        if s.empty or q is None:
            self.plot.show_message("No numeric answers (criteria, ordinal scales, scores) yet.")
            self.summary.set_rows([])
            return
        sub = s[s["question_id"] == q]
        if kind:
            sub = sub[sub["rater_kind"] == kind]
        groups = {str(m): g["value"].astype(float).tolist() for m, g in sub.groupby("model")}
        x_label = "Criterion met (0 = no, 1 = yes)" if q.startswith("criterion:") else (
            "Rubric score (points met / positive points)" if q == "score" else "Answer value")
        self.plot.set_groups(groups, x_label, f"Score distribution per model: {question_name(q)}")
        rows = []
        for m, g in sub.groupby("model"):
            v = g["value"].astype(float)
            rows.append({"model": str(m), "n": len(v), "outputs": g["output_id"].nunique(),
                         "mean": v.mean(), "sd": v.std(ddof=1) if len(v) > 1 else math.nan,
                         "median": v.median(), "min": v.min(), "max": v.max()})
        self.summary.set_rows(rows)
