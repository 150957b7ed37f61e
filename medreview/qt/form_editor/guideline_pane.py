"""Grading guidelines beside the grading panel: a dock the rater shows on demand (key G or the
toolbar button), holding the rubric's newest guidelines rendered by the one safe display policy.

The version on screen is the version recorded with every revision the grading screen saves
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
from medreview.qt.bridge import Op
from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.services.tasks import Executor
from medreview.services.views import ItemView

if TYPE_CHECKING:  # the storage layer loads when a project opens, not at start-up
    from medreview.services.form_editing import GuidelineView
    from medreview.services.projects import Project

NO_GUIDELINES = ("No grading guidelines for this rubric yet. The study lead writes them in "
                 "Study → Edit rubric… → Guidelines.")


def show_markdown(browser: SafeTextBrowser, text: str) -> None:
    """Guidelines (Markdown typed by a lead, or arrived in a package) shown safely."""
    browser.setHtml(answer_html(text))


class GuidelinePane(QWidget):
    """The rendered guidelines with a plain-text line naming the version."""

    sig_version = Signal(object)
    """The guideline version now shown (int), or None when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.version_label = QLabel("")
        self.version_label.setTextFormat(Qt.TextFormat.PlainText)
        self.version_label.setWordWrap(True)
        self.version_label.setObjectName("guidelineVersion")
        self.browser = SafeTextBrowser()
        self.browser.setObjectName("guidelineText")
        self.shown: GuidelineView | None = None
        self.form_key = ""
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.version_label)
        lay.addWidget(self.browser, 1)
        self.show_guideline("", None)

    @property
    def version(self) -> int | None:
        return self.shown.version if self.shown is not None else None

    def show_guideline(self, form_key: str, guideline: GuidelineView | None) -> None:
        self.form_key = form_key
        self.shown = guideline
        if guideline is None:
            set_plain(self.version_label, "")
            self.version_label.hide()
            self.browser.setPlainText(NO_GUIDELINES)
        else:
            when = guideline.created_at.strftime("%Y-%m-%d")
            by = f" by {guideline.author}" if guideline.author else ""
            set_plain(self.version_label,
                      f"Guidelines for {form_key}, version {guideline.version} ({when}{by})")
            self.version_label.show()
            show_markdown(self.browser, guideline.text)
        self.sig_version.emit(self.version)


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
        """Load the guidelines of the item's rubric; the controller records that version."""
        key = item.form.key if item.form is not None else ""
        if not key:
            self._shown(controller, "", None)
            return
        from medreview.services import form_editing

        Op(self, form_editing.current_guideline, project, key) \
            .success(lambda g: self._shown(controller, key, g)).latest("guideline").run(db)

    def _shown(self, controller: GradingController | None, key: str,
               guideline: GuidelineView | None) -> None:
        self.pane.show_guideline(key, guideline)
        if controller is not None and shiboken6.isValid(controller):
            controller.guideline_version = self.pane.version

    def clear(self) -> None:
        self.pane.show_guideline("", None)
