"""GradingView: case, answer(s), images and the rubric panel for one item, in splitters.

It wires the panel's edits to the controller and redraws the score, the missing-question marks
and the span highlights whenever the draft changes. With a pairwise question it shows the
case's other answer beside this one (side-by-side mode).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QSplitter, QVBoxLayout, QWidget

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, cannot_assess_of
from medreview.domain.rubric import QuestionKind
from medreview.qt.grading.answer_view import AnswerView
from medreview.qt.grading.cannot_assess_dialog import CLEAR, CannotAssessDialog
from medreview.qt.grading.case_view import CaseView
from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.image_pane import ImagePane
from medreview.qt.grading.rubric_panel import RubricPanel
from medreview.qt.grading.score_text import healthbench_text, rule_text
from medreview.services.grading_screen import has_pairwise
from medreview.services.regions import region_from_viewer, region_to_viewer
from medreview.services.views import ItemView


class GradingView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller: GradingController | None = None
        self.case_view = CaseView()
        self.answer_view = AnswerView()
        self.other_answer = AnswerView()
        self.other_answer.hide()
        self.image_pane = ImagePane()
        self.panel = RubricPanel()
        self.answers_split = QSplitter(Qt.Orientation.Horizontal)
        self.answers_split.addWidget(self.answer_view)
        self.answers_split.addWidget(self.other_answer)
        self.text_split = QSplitter(Qt.Orientation.Vertical)
        self.text_split.addWidget(self.case_view)
        self.text_split.addWidget(self.answers_split)
        self.text_split.setSizes([340, 520])
        # Images sit above the rubric: the viewer needs ~600 px of width for its toolbar,
        # and the rater reads the answer (left) while looking at image and form (right).
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.image_pane)
        self.right_split.addWidget(self.panel)
        self.right_split.setCollapsible(1, False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.text_split)
        self.splitter.addWidget(self.right_split)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([600, 640])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.splitter)
        self.item: ItemView | None = None
        self._layout_known = False
        self.mark_missing = False  # outline unanswered required questions (after a try)
        self.image_pane.sig_region_drawn.connect(self._on_image_pane_region_drawn)
        self._regions_shown: list[dict[str, Any]] = []

    def attach(self, controller: GradingController) -> None:
        self.controller = controller
        controller.sig_item_loaded.connect(self.show_item)
        controller.sig_preloaded.connect(self._on_controller_preloaded)
        controller.sig_draft_changed.connect(self._on_controller_draft_changed)
        controller.sig_draft_replaced.connect(self.panel.set_values)
        self.panel.sig_answer_changed.connect(controller.set_answer)
        self.panel.sig_rationale_changed.connect(controller.set_rationale)
        self.panel.sig_confidence_changed.connect(controller.set_confidence)
        self.panel.sig_flag_changed.connect(controller.set_flag)
        self.panel.regions.sig_remove.connect(controller.remove_annotation)
        self.panel.regions.sig_meaning.connect(self._on_region_meaning)

    def _on_controller_preloaded(self, item: ItemView) -> None:
        self.answer_view.prepare(item.answer)  # while the rater reads, not on "next"
        self.case_view.prepare(item.case.messages, item.case.context)

    def show_item(self, item: ItemView) -> None:
        self.item = item
        self.mark_missing = False
        c = item.case
        self.case_view.show_case(c.title, c.tags, c.messages, c.context)
        self.answer_view.show_answer(f"{item.shown_model}", item.answer)
        pairwise = has_pairwise(item)
        self.other_answer.setVisible(pairwise)
        if pairwise:
            self.other_answer.show_answer("Other response (loading…)", "")
        draft = item.draft or JudgmentDraft()
        self._show_images(bool(item.series))
        self._regions_shown = self._viewer_regions(draft)
        self.image_pane.show_series(item.series, self._regions_shown, c.metadata)
        self.panel.load(f"{c.title} — {item.shown_model}", item.questions(), draft)
        self.panel.regions.show_marks(draft.annotations, item.series, item.questions())
        if self.controller is not None:  # the keys start where work is left, not on question 1
            self.panel.show_first_missing(self.controller.missing())
        self.panel.setFocus()

    def _show_images(self, on: bool) -> None:
        """Show or hide the image pane, giving its width to (or taking it from) the text."""
        if on == self.image_pane.isVisibleTo(self) and self._layout_known:
            return
        self.image_pane.setVisible(on)
        if not self._layout_known:  # the first time only: later the rater's sizes stand
            height = max(1, sum(self.right_split.sizes()))
            self.right_split.setSizes([int(height * 0.48), int(height * 0.52)])
        self._layout_known = True

    def layout_restored(self) -> None:
        """Saved splitter sizes were applied: do not impose the first-time proportions."""
        self._layout_known = True

    def show_partner(self, partner: ItemView) -> None:
        self.other_answer.show_answer(partner.shown_model, partner.answer)

    def _on_controller_draft_changed(self, draft: JudgmentDraft) -> None:
        ctrl = self.controller
        if ctrl is None or self.item is None:
            return
        score = ctrl.score()
        form = self.item.form
        if score is not None and form is not None and form.scoring == "healthbench":
            self.panel.set_score(*healthbench_text(self.item.questions(), draft.answers, score))
        elif score is not None:
            self.panel.set_score(*rule_text(form.scoring if form else None, score))
        else:
            self.panel.set_score("")
        self.panel.set_missing(ctrl.missing(), mark=self.mark_missing)
        self.panel.show_cannot_assess(cannot_assess_of(draft.answers))
        self._highlight(draft)
        self.panel.regions.show_marks(draft.annotations, self.item.series,
                                      self.item.questions())
        regions = self._viewer_regions(draft)
        if regions != self._regions_shown:  # a mark was removed (new ones are drawn already)
            self._regions_shown = regions
            self.image_pane.set_regions(regions)

    def _viewer_regions(self, draft: JudgmentDraft) -> list[dict[str, Any]]:
        if self.item is None:
            return []
        atts = [a for s in self.item.series for a in s.attachments]
        return [d for a in draft.annotations if a.region is not None
                and (d := region_to_viewer(a.region, atts)) is not None]

    def _on_region_meaning(self, index: int, meaning: str) -> None:
        c = self.controller
        if c is not None and 0 <= index < len(c.draft.annotations):
            c.replace_annotation(index, dataclasses.replace(c.draft.annotations[index],
                                                            note=meaning))

    def _highlight(self, draft: JudgmentDraft) -> None:
        assert self.item is not None
        entries: list[dict[str, Any]] = []
        rank: dict[Any, int] = {}
        for q in self.item.questions():
            if q.kind is QuestionKind.ERROR:
                entries += list(draft.answers.get(q.id) or [])
                rank.update({s.value: i for i, s in enumerate(q.severities)})
        self.answer_view.set_highlights(entries, rank)

    def ask_cannot_assess(self) -> None:
        """C: mark the item "cannot assess" with a reason, change it or remove it (an edit
        like any answer: autosaved, and Ctrl+Z undoes its save)."""
        ctrl = self.controller
        if ctrl is None or ctrl.item is None:
            return
        dlg = CannotAssessDialog(cannot_assess_of(ctrl.draft.answers), self)
        try:
            if dlg.exec() == QDialog.DialogCode.Accepted and dlg.choice is not None:
                ctrl.set_answer(CANNOT_ASSESS_KEY, None if dlg.choice == CLEAR else dlg.choice)
        finally:
            dlg.deleteLater()
        self.panel.setFocus()

    def toggle_raw(self) -> None:
        """V: both answers (side by side too) switch to their raw source, or back."""
        raw = not self.answer_view.is_raw()
        for view in (self.answer_view, self.other_answer):
            if view.is_raw() != raw:
                view.toggle_raw()

    def tag_selection(self) -> bool:
        """Start an error entry for the answer text selected now (key E)."""
        span = self.answer_view.selected_span()
        if span is None:
            return False
        ok = self.panel.start_error_span(span)
        self.panel.setFocus()
        return ok

    def _on_image_pane_region_drawn(self, region: dict[str, Any]) -> None:
        if self.controller is None:
            return
        try:
            found = region_from_viewer(region, self.image_pane.attachments())
        except (TypeError, ValueError):
            return
        if found is not None:
            # Linked to the question in hand, e.g. the criterion that names the finding.
            current = self.panel.current_widget()
            qid = current.question.id if current is not None else None
            self.controller.add_annotation(Annotation(region=found, question_id=qid,
                                                      note="mark"))
