"""CalibrationWindow: one judge on one rubric question against each physician, the physicians'
majority and gold labels, next to the physician-versus-physician ceiling.

Pick a reference row to see its confusion matrix, reliability diagram (ECE, Brier), leniency and
the items the judge and that reference disagree on; double-click opens them in the grading
window through ``sig_open_items(output_ids, label)``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.progress import CancelToken, Progress
from medreview.qt.stats.confusion import ConfusionTable
from medreview.qt.stats.dashboard import empty_page
from medreview.qt.stats.dashboard_tabs import fill_combo, picker, titled
from medreview.qt.stats.format import (
    interval,
    is_missing,
    items_label,
    number,
    question_name,
    value_text,
    variant_name,
)
from medreview.qt.stats.plots import ReliabilityPlot, ScatterPlot
from medreview.qt.stats.runner import (
    RefreshOnChange,
    StatsJob,
    StatusStrip,
    mark_stale,
    mirror_status,
)
from medreview.qt.stats.table import IDS, Column, StatsTable, hint_label
from medreview.qt.stats.table import ITEMS as ITEM_KEYS
from medreview.qt.stats.window import StatsWindow
from medreview.qt.window_size import fit_to_screen
from medreview.services import dashboard
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project
from medreview.services.tasks import Executor

NO_JUDGE_TEXT = (
    "<h3>No LLM judge has graded this project yet</h3>"
    "<p>Run a judge over the project's answers with any OpenAI-compatible endpoint, e.g.</p>"
    "<pre>medreview judge &lt;project folder&gt; --base-url http://127.0.0.1:11434/v1 "
    "--model &lt;model name&gt;</pre>"
    "<p>Its grades appear as the rater <i>judge: &lt;model&gt;</i>; then press Refresh (F5) "
    "to calibrate it against the physicians.</p>")
NO_RATINGS_TEXT = ("<h3>No finished judgments yet</h3><p>The calibration view compares a judge "
                   "with finished physician grades; there are none in this project yet.</p>")


@dataclass(frozen=True)
class Outcome:
    """What one background run found: the choices and the comparison for the chosen pair."""

    judges: list[str]
    judge: str | None
    questions: list[str]
    question: str | None
    result: dashboard.JudgeCalibration | None


def compute_outcome(inputs: dashboard.StatsInputs, judge: str | None, question: str | None,
                    progress: Progress, token: CancelToken) -> Outcome:
    """Runs on the work executor: resolve the picks against the data, then compare."""
    judges = dashboard.judge_raters(inputs)
    if not judges:
        return Outcome([], None, [], None, None)
    j = judge if judge in judges else judges[0]
    questions = dashboard.calibration_questions(inputs, j)
    if not questions:
        return Outcome(judges, j, [], None, None)
    q = question if question in questions else questions[0]
    result = dashboard.judge_calibration(inputs, j, q, progress=progress, token=token)
    return Outcome(judges, j, questions, q, result)


def _stat_cell(row: dict[str, Any], key: str) -> str:
    v, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if is_missing(v):
        return "–"
    if is_missing(lo) or is_missing(hi):
        return number(v)
    return f"{number(v)}  {interval(lo, hi)}"


def _col(key: str, title: str, tip: str = "") -> Column:
    return Column(key, title, "custom", tip, fmt=lambda r: _stat_cell(r, key))


CATEGORICAL = (
    Column("label", "Judge against"), Column("n_items", "Items", "int"),
    _col("accuracy", "Accuracy (95% CI)", "share of (judge, reference) pairs that agree"),
    _col("cohen_kappa", "Cohen's κ"), _col("macro_f1", "Macro F1"),
    _col("leniency", "Leniency (95% CI)",
         "mean signed difference judge − reference (met = 1); positive: the judge says "
         "'met' / scores higher more often"),
    _col("ece", "ECE", "expected calibration error of the judge's confidence"),
    _col("brier", "Brier"), Column(IDS, "Disagree", "count"),
)
NUMERIC = (
    Column("label", "Judge against"), Column("n_items", "Items", "int"),
    _col("mad", "Mean abs. difference"),
    _col("leniency", "Leniency (95% CI)",
         "mean signed difference judge − reference; positive: the judge scores higher"),
    _col("spearman_rho", "Spearman ρ"), Column(IDS, "Disagree", "count"),
)
DETAIL = (Column("statistic", "Statistic", "stat"),
          Column("variant", "Variant", "custom", fmt=lambda r: variant_name(r["variant"])),
          Column("value", "Value", "num"), Column("ci", "95% CI", "ci"),
          Column("n_items", "Items", "int"), Column("note", "Note"))
ITEMS = (Column("output_id", "Output", "int"), Column("case_external_id", "Case"),
         Column("model", "Model"), Column("judge_text", "Judge"),
         Column("reference_text", "Reference"), Column("confidence", "Confidence", "num"),
         Column("criterion", "Criterion"))


def summary_rows(res: dashboard.JudgeCalibration) -> list[dict[str, Any]]:
    """One row per reference plus the judge and the physicians on the ceiling's items."""
    numeric = res.kind == "numeric"
    rows = []
    for ref in res.references:
        t = ref.agreement
        row: dict[str, Any] = {"reference": ref.reference, "label": ref.label,
                               "n_items": ref.n_items, IDS: ref.disagreeing_output_ids,
                               ITEM_KEYS: ref.disagreeing_items,
                               "leniency": ref.leniency, "leniency_lo": ref.leniency_ci[0],
                               "leniency_hi": ref.leniency_ci[1], "note": ref.note}
        for stat in ("accuracy", "cohen_kappa", "macro_f1", "spearman_rho"):
            hit = t[(t["statistic"] == stat) & (t["variant"] == "pooled")] if len(t) else t
            if len(hit):
                r = hit.iloc[0]
                row.update({stat: r["value"], f"{stat}_lo": r["ci_low"],
                            f"{stat}_hi": r["ci_high"]})
        if numeric and ref.n_items:
            it = ref.items
            row["mad"] = float((it["judge"].astype(float) - it["reference"].astype(float))
                               .abs().mean())
        if ref.calibration is not None:
            row.update({"ece": ref.calibration.ece, "brier": ref.calibration.brier})
        rows.append(row)
    c = res.ceiling
    if c is not None and len(c):
        key = {"mean_absolute_difference": "mad", "mean_signed_difference": "leniency"}
        judge_row: dict[str, Any] = {"reference": "ceiling:judge", "_muted": True, IDS: [],
                                     "label": "All physicians, pooled (ceiling items)"}
        phys_row: dict[str, Any] = {"reference": "ceiling:physicians", "_muted": True, IDS: [],
                                    "label": "Ceiling: physician vs the others [range]"}
        for r in c.to_dict("records"):
            k = key.get(str(r["statistic"]), str(r["statistic"]))
            judge_row[k] = r["judge"]
            judge_row["n_items"] = phys_row["n_items"] = r["n_items"]
            phys_row.update({k: r["physician_mean"], f"{k}_lo": r["physician_min"],
                             f"{k}_hi": r["physician_max"]})
        rows += [judge_row, phys_row]
    return rows


class CalibrationWindow(StatsWindow):
    sig_open_items = Signal(list, str)

    def __init__(self, project: Project, db: Executor, work: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("Judge calibration")
        self.project = project
        self.inputs: dashboard.StatsInputs | None = None
        self.outcome: Outcome | None = None
        self.current: dashboard.ReferenceComparison | None = None
        self.job = StatsJob(db, work, self)
        self.job.sig_finished.connect(self._on_finished)
        self.strip = StatusStrip(self.job)
        self.strip.refresh_button.clicked.connect(self.refresh)
        self.judge_box = QComboBox()
        self.question_box = QComboBox()
        self.judge_box.activated.connect(lambda _: self.recompute())
        self.question_box.activated.connect(lambda _: self.recompute())
        top = QHBoxLayout()
        top.addWidget(picker("Judge:", self.judge_box))
        top.addWidget(picker("Question:", self.question_box))
        top.addStretch(1)

        self.summary = StatsTable(CATEGORICAL)
        self.summary.sig_activated.connect(self._open_reference)
        self.summary.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self._select_row(cur.row()))
        self.reliability = ReliabilityPlot()
        self.scatter = ScatterPlot("Judge against reference", "", "")
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.reliability)
        self.plot_stack.addWidget(self.scatter)
        self.metrics = QLabel("")
        self.metrics.setTextFormat(Qt.TextFormat.RichText)  # rater names inside are escaped
        self.metrics.setObjectName("calibrationMetrics")
        self.metrics.setWordWrap(True)
        self.confusion = ConfusionTable()
        self.detail = StatsTable(DETAIL)
        self.items = StatsTable(ITEMS)
        self.items.sig_activated.connect(self._open_item)
        self.open_all = QPushButton("Open all disagreeing items")
        self.open_all.clicked.connect(self._open_current)

        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        self.confusion_box = titled("Confusion matrix", self.confusion)
        ml.addWidget(self.confusion_box)
        self.metrics_box = titled("Calibration and leniency", self.metrics)
        ml.addWidget(self.metrics_box)
        ml.addStretch(1)
        items_box = QWidget()
        il = QVBoxLayout(items_box)
        il.setContentsMargins(6, 6, 6, 6)
        il.addWidget(hint_label("Double-click an item (or press Enter) to open it in the "
                                "grading window."))
        il.addWidget(self.items, 1)
        il.addWidget(self.open_all, 0, Qt.AlignmentFlag.AlignRight)
        self.details = QTabWidget()
        self.details.addTab(items_box, "Disagreeing items")
        self.details.addTab(self.detail, "All statistics")
        # A click on a row's Disagree count selects the row: its items are listed here.
        self.summary.sig_count_clicked.connect(lambda _row: self.details.setCurrentIndex(0))
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.plot_stack)
        bottom.addWidget(middle)
        bottom.addWidget(self.details)
        bottom.setSizes([450, 340, 650])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(titled("Judge against each reference, next to the physician ceiling",
                              self.summary, "Select a row for its details below; double-click "
                              "opens the items the judge and that reference disagree on."))
        body.addWidget(bottom)
        body.setSizes([290, 570])
        self.empty = empty_page("")  # the strip's status until the first outcome
        mirror_status(self.strip, self.empty, lambda: self.outcome is not None)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(body)
        self.body = body
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(top)
        lay.addWidget(self.strip)  # a row of its own: the pickers and it fit 910 px at 150 %
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.watch = RefreshOnChange(bus, self, self.refresh,
                                     on_stale=mark_stale(self.strip, self.job))
        fit_to_screen(self, (1440, 920))  # built first: the size hint is known

    # computing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the project and recompute the current judge and question."""
        project = self.project
        self._start(lambda: dashboard.load_inputs(project))

    def recompute(self) -> None:
        """Another judge or question: reuse the loaded ratings."""
        inputs = self.inputs
        if inputs is None:
            self.refresh()
            return
        self._start(lambda: inputs)

    def _start(self, load: Any) -> None:
        judge, question = self.judge_box.currentData(), self.question_box.currentData()

        def compute(inputs: dashboard.StatsInputs, progress: Progress, token: CancelToken
                    ) -> Outcome:
            return compute_outcome(inputs, judge, question, progress, token)

        self.job.start(load, compute)

    def _on_finished(self, inputs: dashboard.StatsInputs, outcome: Outcome) -> None:
        self.inputs, self.outcome = inputs, outcome
        self.setWindowTitle(f"Judge calibration — {inputs.project_name}")
        fill_combo(self.judge_box, [(j, j) for j in outcome.judges])
        fill_combo(self.question_box, [(dashboard.question_label(inputs, q), q)
                                       for q in outcome.questions])
        self.judge_box.setEnabled(len(outcome.judges) > 1)
        res = outcome.result
        if res is None or not res.references:
            why = (res.note if res else "") or ("The judge answered no question the "
                                                "physicians also answered.")
            text = (NO_RATINGS_TEXT if inputs.ratings.empty else
                    NO_JUDGE_TEXT if not outcome.judges else
                    f"<h3>Nothing to compare</h3><p>{why}</p>")
            self.empty.setText(text)
            self.stack.setCurrentWidget(self.empty)
            self.strip.set_status("No judge to calibrate." if not outcome.judges else
                                  "Nothing to compare.")
            return
        self.stack.setCurrentWidget(self.body)
        numeric = res.kind == "numeric"
        self.summary.set_rows(summary_rows(res), NUMERIC if numeric else CATEGORICAL)
        self.plot_stack.setCurrentWidget(self.scatter if numeric else self.reliability)
        self.confusion_box.setVisible(not numeric)
        # Numeric scores: no confusion matrix, no reliability diagram (no per-answer
        # confidence to calibrate against a number); leniency and the scatter instead.
        self.metrics_box.setTitle("Leniency" if numeric else "Calibration and leniency")
        rows = self.summary.rows()
        pick = next((i for i, r in enumerate(rows) if r["reference"] == "majority"), 0)
        self.summary.selectRow(pick)
        self._select_row(pick)
        self.strip.set_status(f"{res.judge} on {question_name(res.question_id)}: "
                              f"{len(res.physicians)} physicians — up to date")

    # details --------------------------------------------------------------------------------
    def reference_at(self, view_row: int) -> dashboard.ReferenceComparison | None:
        res = self.outcome.result if self.outcome else None
        if res is None or not 0 <= view_row < self.summary.proxy.rowCount():
            return None
        name = self.summary.row_at(view_row)["reference"]
        return next((r for r in res.references if r.reference == name), None)

    def _select_row(self, view_row: int) -> None:
        ref = self.reference_at(view_row)
        if ref is None:
            return  # the ceiling rows have no details of their own
        self.current = ref
        res = self.outcome.result if self.outcome else None
        assert res is not None
        self.confusion.set_matrix(ref.confusion, _short_reference(ref))
        self.detail.set_rows(list(ref.agreement.to_dict("records")) if len(ref.agreement)
                             else [])
        self._plot(res, ref)
        it = ref.items
        bad = it[~it["agree"]] if len(it) else it
        if res.kind == "numeric" and len(bad):
            gap = (bad["judge"].astype(float) - bad["reference"].astype(float)).abs()
            bad = bad.assign(_gap=gap).sort_values("_gap", ascending=False)
        questions = self.inputs.questions if self.inputs else {}
        pooled = res.question_id == dashboard.POOLED_CRITERIA
        self.items.set_rows([
            {**r, "judge_text": value_text(r["judge"]),
             "reference_text": value_text(r["reference"]),
             "criterion": _question_text(questions, str(r["question_id"]))}
            for r in bad.to_dict("records")],
            # Which criterion differs matters only when criteria are pooled.
            [c for c in ITEMS if pooled or c.key != "criterion"])
        n = len(ref.disagreeing_output_ids)
        self.details.setTabText(0, f"Disagreeing items ({len(bad)})")
        self.open_all.setText(f"Open all {n} disagreeing outputs")
        self.open_all.setEnabled(n > 0)

    def _plot(self, res: dashboard.JudgeCalibration, ref: dashboard.ReferenceComparison) -> None:
        if res.kind == "numeric":
            it = ref.items
            self.scatter.set_points(it["reference"].astype(float).tolist() if len(it) else [],
                                    it["judge"].astype(float).tolist() if len(it) else [],
                                    ref.label)
            self.metrics.setText(f"Leniency (judge − {html.escape(ref.label)}): "
                                 f"{number(ref.leniency)}, "
                                 f"95% CI {interval(*ref.leniency_ci)}, over {ref.n_items} "
                                 "outputs; positive = the judge scores higher.")
            return
        cal = ref.calibration
        if cal is None:
            self.reliability.show_message("The judge stated no confidence for these answers.")
            self.metrics.setText("")
            return
        self.reliability.start(f"Reliability — {ref.label.removesuffix(' (more than half)')}")
        b = cal.bins
        name = f"{res.judge.removeprefix('judge: ')} (n={cal.n})"
        self.reliability.add_series(name, b["mean_confidence"].tolist(),
                                    b["observed_rate"].tolist(), b["count"].tolist())
        self.metrics.setText(
            f"<b>ECE {number(cal.ece)}</b> · MCE {number(cal.mce)} · Brier "
            f"{number(cal.brier)} over {cal.n} answers ({cal.n_bins} equal-width bins). "
            f"Leniency {number(ref.leniency)}, 95% CI {interval(*ref.leniency_ci)}: "
            "positive = the judge says “met” more often than the reference.")

    # opening items ----------------------------------------------------------------------------
    def _label(self, ref_label: str, n: int) -> str:
        res = self.outcome.result if self.outcome else None
        q = question_name(res.question_id) if res else ""
        return items_label([q, f"judge vs {ref_label}"], n)

    def _open_reference(self, row: dict[str, Any]) -> None:
        ids = [int(i) for i in row.get(IDS) or ()]
        if ids:
            self.sig_open_items.emit(ids, self._label(str(row["label"]), len(ids)))
        else:
            self.strip.set_status("No disagreeing items in this row.")

    def _open_current(self) -> None:
        ref = self.current
        if ref is not None and ref.disagreeing_output_ids:
            ids = ref.disagreeing_output_ids
            self.sig_open_items.emit(ids, self._label(ref.label, len(ids)))

    def _open_item(self, row: dict[str, Any]) -> None:
        ref = self.current
        label = ref.label if ref else "reference"
        self.sig_open_items.emit([int(row["output_id"])], self._label(label, 1))


def _short_reference(ref: dashboard.ReferenceComparison) -> str:
    """The reference's name in the confusion matrix row headers."""
    if ref.reference.startswith("physician:"):
        parts = ref.label.split()
        return parts[-1] if parts else ref.label
    return {"majority": "majority", "gold": "gold"}.get(ref.reference, "reference")


def _question_text(questions: Any, qid: str) -> str:
    q = questions.get(qid)
    text = q.prompt if q is not None and q.prompt else qid
    return text if len(text) <= 70 else text[:67] + "…"
