"""HistoryDialog: every saved revision of the current item (history is append-only), shown
as question → answer in words, not as stored ids."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import escaped_html
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, cannot_assess_of, is_not_applicable
from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.grading.safe_text import SafeTextBrowser
from medreview.qt.table_cells import cell
from medreview.services.views import RevisionView


def answer_text(q: Question, value: Any) -> str:
    """A stored answer in the words the rater saw."""
    if value is None:
        return "—"
    if is_not_applicable(value):
        return "not applicable (N/A)"
    if q.kind is QuestionKind.CRITERION:
        return "met" if value is True else "not met"
    labels = {o.value: o.label for o in q.options}
    if q.kind is QuestionKind.MULTI_CHOICE:
        return ", ".join(str(labels.get(v, v)) for v in value) or "none"
    if q.kind is QuestionKind.ERROR:
        cats = {c.id: c.label for c in q.categories}
        sevs = {s.value: s.label for s in q.severities}
        parts = []
        for e in value:
            span = e.get("span") or {}
            quote = f" “{span.get('text', '')[:50]}”" if span else ""
            parts.append(f"{cats.get(e.get('category'), e.get('category'))} "
                         f"({sevs.get(e.get('severity'), e.get('severity'))}){quote}")
        return "; ".join(parts) or "no error found"
    if q.kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        return str(labels.get(value, value))
    return str(value)


def revision_html(d: JudgmentDraft, questions: tuple[Question, ...]) -> str:
    esc = escaped_html  # data: literal, hidden characters marked
    rows = [f"<tr><td>{esc(q.prompt)}</td><td><b>"
            f"{esc(answer_text(q, d.answers.get(q.id)))}</b></td></tr>"
            for q in questions]
    known = {q.id for q in questions} | {CANNOT_ASSESS_KEY}
    rows += [f"<tr><td>{esc(k)}</td><td><b>{esc(str(v))}</b></td></tr>"
             for k, v in d.answers.items() if k not in known]
    cannot = cannot_assess_of(d.answers)
    if cannot is not None:  # first: nothing below it counts as a rating
        rows.insert(0, f"<tr><td>Cannot assess</td><td><b>{esc(cannot.label)}</b></td></tr>")
    conf = "—" if d.confidence is None else f"{d.confidence:.0%}"
    score = "—" if d.overall_score is None else f"{d.overall_score:.0%}"
    facts = (f"<p>Score {score} · confidence {conf} · {'flagged · ' if d.flagged else ''}"
             f"{'skipped · ' if d.skipped else ''}{d.time_on_task_s:.0f} s on task · "
             f"{sum(1 for a in d.annotations if a.region is not None)} image mark(s)</p>")
    rationale = (f"<p><i>Rationale:</i> {esc(d.rationale)}</p>" if d.rationale else "")
    return (f"{facts}{rationale}<table cellpadding='3' width='100%'>{''.join(rows)}</table>")


class HistoryDialog(QDialog):
    def __init__(self, revisions: list[RevisionView], questions: tuple[Question, ...] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Revision history")
        self.resize(980, 560)
        self.revisions = revisions
        self.questions = questions
        self.table = QTableWidget(len(revisions), 4)
        self.table.setHorizontalHeaderLabels(["Rev", "Saved (UTC)", "Source", "Status"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, rev in enumerate(revisions):
            for c, text in enumerate((str(rev.revision_no),
                                      rev.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                                      rev.source, rev.status)):
                self.table.setItem(r, c, cell(text, tip=f"by {rev.author}; form "
                                              f"{rev.form_key} v{rev.form_version}"))
        self.table.resizeColumnsToContents()
        self.detail = SafeTextBrowser()
        self.table.currentCellChanged.connect(lambda row, *_: self._show(row))
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setSizes([360, 620])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        lay.addWidget(buttons)
        if revisions:
            self.table.selectRow(len(revisions) - 1)
            self._show(len(revisions) - 1)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.revisions):
            self.detail.setHtml(revision_html(self.revisions[row].draft, self.questions))
