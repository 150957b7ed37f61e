"""Grading guidelines beside the grading panel: a dock the rater shows on demand (key G or the
toolbar button), holding the rubric's newest guidelines rendered by the one safe display policy.

The version on screen is the version recorded with every revision the grading screen saves
(``GradingController.guideline_version``): it is reloaded with every item, so a rater who graded
before the lead saved new guidelines is recorded with the version they actually had.
Rendering: ``domain.display_text.answer_html`` (Markdown without HTML, links or images; hidden
characters as markers) in a ``SafeTextBrowser`` that loads nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QVBoxLayout, QWidget

from medreview.domain.display_text import answer_html
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.services.form_editing import GuidelineView

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
