"""Grading guidelines beside the grading panel: a dock the rater shows on demand (key G or the
toolbar button), holding the newest guidelines of the rubric and of the error taxonomy (each
under a heading when both exist), rendered by the one safe display policy.

The versions on screen are recorded with every revision the grading screen saves
(``GradingController.guideline_version``): it is reloaded with every item, so a rater who graded
before the lead saved new guidelines is recorded with the version they actually had.
Rendering: ``domain.display_text.answer_html`` (Markdown without HTML, links or images; hidden
characters as markers) in a ``SafeTextBrowser`` that loads nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QVBoxLayout, QWidget

from medreview.domain.display_text import answer_html
from medreview.domain.guideline_versions import recorded_versions
from medreview.qt.bridge import Op
from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.services.tasks import Executor
from medreview.services.views import ItemView

if TYPE_CHECKING:  # the storage layer loads when a project opens, not at start-up
    from medreview.services.form_editing import GuidelineView
    from medreview.services.guidelines import ShownGuidelines
    from medreview.services.projects import Project

NO_GUIDELINES = ("No grading guidelines for this rubric or error taxonomy yet. The study lead "
                 "writes them in Study → Edit rubric… (or Edit error taxonomy…) → Guidelines.")
HEADINGS = {"rubric": "Rubric", "taxonomy": "Error taxonomy"}


def show_markdown(browser: SafeTextBrowser, text: str) -> None:
    """Guidelines (Markdown typed by a lead, or arrived in a package) shown safely."""
    browser.setHtml(answer_html(text))


def _label(name: str, *, bold: bool = False) -> QLabel:
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)  # keys, authors: data, never markup
    label.setWordWrap(True)
    label.setObjectName(name)
    if bold:
        label.setStyleSheet("font-weight: 600;")
    return label


class GuidelinePane(QWidget):
    """The rubric's and the error taxonomy's guidelines, each under a heading with a plain-text
    line naming its version; a form without guidelines has no section."""

    sig_version = Signal(object)
    """The rubric's guideline version now shown (int), or None when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = _label("guidelineHeading", bold=True)
        self.version_label = _label("guidelineVersion")
        self.browser = SafeTextBrowser()
        self.browser.setObjectName("guidelineText")
        self.taxonomy_heading = _label("taxonomyGuidelineHeading", bold=True)
        self.taxonomy_label = _label("taxonomyGuidelineVersion")
        self.taxonomy_browser = SafeTextBrowser()
        self.taxonomy_browser.setObjectName("taxonomyGuidelineText")
        self.shown: GuidelineView | None = None
        self.taxonomy_shown: GuidelineView | None = None
        self.form_key = ""
        self.taxonomy_key = ""
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        for w in (self.heading, self.version_label):
            lay.addWidget(w)
        lay.addWidget(self.browser, 1)
        for w in (self.taxonomy_heading, self.taxonomy_label):
            lay.addWidget(w)
        lay.addWidget(self.taxonomy_browser, 1)
        self.show_guideline("", None)

    @property
    def version(self) -> int | None:
        """The rubric's guidelines version shown."""
        return self.shown.version if self.shown is not None else None

    @property
    def taxonomy_version(self) -> int | None:
        return self.taxonomy_shown.version if self.taxonomy_shown is not None else None

    @property
    def recorded(self) -> int | None:
        """The number each revision saved while this is on screen records (both versions)."""
        try:
            return recorded_versions(self.version, self.taxonomy_version)
        except ValueError:  # a version this app never numbers (a forged package): not recorded
            return None

    def show_guideline(self, form_key: str, guideline: GuidelineView | None) -> None:
        """The rubric's guidelines alone (no error taxonomy)."""
        self.show_guidelines(form_key, guideline, "", None)

    def show_guidelines(self, rubric_key: str, rubric: GuidelineView | None,
                        taxonomy_key: str, taxonomy: GuidelineView | None) -> None:
        self.form_key, self.shown = rubric_key, rubric
        self.taxonomy_key, self.taxonomy_shown = taxonomy_key, taxonomy
        both = rubric is not None and taxonomy is not None
        # The rubric's section also says when there are none at all.
        self._section(self.heading, self.version_label, self.browser, rubric_key, rubric,
                      HEADINGS["rubric"] if both else "", visible=taxonomy is None or both)
        self._section(self.taxonomy_heading, self.taxonomy_label, self.taxonomy_browser,
                      taxonomy_key, taxonomy, HEADINGS["taxonomy"] if both else "",
                      visible=taxonomy is not None)
        self.sig_version.emit(self.version)

    @staticmethod
    def _section(heading: QLabel, label: QLabel, browser: SafeTextBrowser, key: str,
                 guideline: GuidelineView | None, title: str, *, visible: bool) -> None:
        set_plain(heading, title)
        heading.setVisible(visible and bool(title))
        browser.setVisible(visible)
        if guideline is None:
            set_plain(label, "")
            label.hide()
            browser.setPlainText(NO_GUIDELINES if visible else "")
            return
        when = guideline.created_at.strftime("%Y-%m-%d")
        by = f" by {guideline.author}" if guideline.author else ""
        set_plain(label, f"Guidelines for {key}, version {guideline.version} ({when}{by})")
        label.setVisible(visible)
        show_markdown(browser, guideline.text)


class GuidelineDock(QDockWidget):
    """The pane as a dock on the right of the grading window, hidden until asked for."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Grading guidelines", parent)
        self.setObjectName("guidelineDock")  # saveState/restoreState need a name
        self.pane = GuidelinePane()
        self.setWidget(self.pane)
        self.setMinimumWidth(220)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.hide()

    def toggle(self) -> None:
        self.setVisible(not self.isVisible())

    def follow(self, project: Project, db: Executor, controller: GradingController | None,
               item: ItemView) -> None:
        """Load the guidelines of the item's rubric and error taxonomy; the controller records
        their versions with each save."""
        key = item.form.key if item.form is not None else ""
        tax = item.taxonomy.key if item.taxonomy is not None else ""
        if not key and not tax:
            self._shown(controller, None)
            return
        from medreview.services import guidelines

        Op(self, guidelines.shown_guidelines, project, key, tax) \
            .success(lambda g: self._shown(controller, g)).latest("guideline").run(db)

    def _shown(self, controller: GradingController | None,
               shown: ShownGuidelines | None) -> None:
        if shown is None:
            self.pane.show_guideline("", None)
        else:
            self.pane.show_guidelines(shown.rubric_key, shown.rubric, shown.taxonomy_key,
                                      shown.taxonomy)
        if controller is not None and shiboken6.isValid(controller):
            controller.guideline_version = self.pane.recorded

    def clear(self) -> None:
        self.pane.show_guideline("", None)
