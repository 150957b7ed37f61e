"""Two lines of the study design on the grading screen (issue #18):

* the escalation banner: a senior rater given an item by an escalation rule reads why, in one
  plain-text line above the screen (``ItemView.escalation_reason``);
* the other raters' comments (key in ``qt/keys.py``): shown only through
  ``services.comments`` — nothing before this rater has submitted the item, then the others'
  submitted comments as "Rater 1", "Rater 2"… (names only for an adjudicator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from medreview.domain.display_text import escaped_html
from medreview.qt.bridge import Op
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain
from medreview.qt.status import window_banner
from medreview.services.comments import CommentsView, item_comments
from medreview.services.views import ItemView

if TYPE_CHECKING:
    from medreview.qt.grading.controller import GradingController

BANNER = "escalationBanner"
MAX_REASON = 300  # characters of a stored reason shown (the line is data)


def comments_html(view: CommentsView) -> str:
    if view.hidden:
        return f"<p>{escaped_html(view.hidden)}</p>"
    if not view.comments:
        return "<p>No other rater has submitted a comment on this item yet.</p>"
    parts = []
    for c in view.comments:
        state = "" if c.status == "done" else f" ({escaped_html(c.status)})"
        notes = "".join(f"<li>{escaped_html(n)}</li>" for n in c.notes)
        parts.append(f"<h4>{escaped_html(c.label)}{state}</h4>"
                     + (f"<p>{escaped_html(c.rationale)}</p>" if c.rationale.strip() else "")
                     + (f"<ul>{notes}</ul>" if notes else ""))
    return "".join(parts)


class CommentsDialog(QDialog):
    """The comments a viewer may read on one item; Escape or Enter closes it."""

    def __init__(self, view: CommentsView, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Other raters' comments — {title}")
        self.resize(640, 420)
        lay = QVBoxLayout(self)
        self.text = SafeTextBrowser()
        self.text.setHtml(comments_html(view))
        lay.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setDefault(True)
        self.close_button.setFocus()


def show_peer_comments(window: Any) -> None:
    """The comments key: read on the database thread, shown in a modal dialog."""
    c = window.controller
    if c is None or c.item is None:
        return
    item: ItemView = c.item

    def show(view: CommentsView) -> None:
        dialog = CommentsDialog(view, f"{item.case.title} — {item.shown_model}", window)
        dialog.exec()
        dialog.deleteLater()
        window.restore_grading_focus()

    Op(c, item_comments, c.project, item.output_id, c.rater_id).success(show) \
        .failure(lambda exc: window.statusBar().showMessage(
            f"Cannot show the comments: {exc}", 8000)).run(c.executor)


class EscalationBanner(QObject):
    """Shows the escalation reason of each item the controller loads (hidden if none)."""

    def __init__(self, window: Any, controller: GradingController) -> None:
        super().__init__(controller)
        self.banner = self._banner(window)
        self.banner.hide()
        controller.sig_item_loaded.connect(self.show_item)

    @staticmethod
    def _banner(window: Any) -> QLabel:
        return window_banner(window, BANNER, "info")

    def show_item(self, item: ItemView) -> None:
        reason = " ".join(item.escalation_reason.split())[:MAX_REASON]
        set_plain(self.banner, f"Escalated to you for a senior opinion: {reason}"
                  if reason else "")
        self.banner.setVisible(bool(reason))


def attach_escalation(window: Any, controller: GradingController) -> EscalationBanner:
    return EscalationBanner(window, controller)
