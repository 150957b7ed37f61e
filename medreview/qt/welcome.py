"""WelcomePage: start a new project, open one (recent, a folder, a rater package, the demo), or
drop a project folder on the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medreview.errors import MedreviewError
from medreview.services.server_projects import describe, is_server_url

INTRO = (
    "<h1>medreview</h1>"
    "<p style='font-size:11pt'>Grade AI models' answers to medical cases against rubrics and "
    "error taxonomies. Your work is saved as you go, on this computer only.</p>"
    "<ul>"
    "<li><b>1–9</b> pick a scale point or option, <b>Y</b>/<b>N</b> mark a criterion met or "
    "not, <b>J</b>/<b>K</b> move between questions</li>"
    "<li>select words in the answer and press <b>E</b> to tag an error</li>"
    "<li><b>Ctrl+Enter</b> saves the item as done and opens the next; <b>?</b> lists every "
    "key</li>"
    "</ul>"
    "<p>No project yet? Start a <b>new project</b> (a rubric from the built-in templates, then "
    "your cases and answers), or open the <b>demo project</b> to try medreview on example "
    "cases.</p>"
)


def _server_item(url: str) -> QListWidgetItem:
    """A server project in the recent list (its URL never holds a password)."""
    try:
        database, where = describe(url)
        label = f"{database}    —    server {where}"
    except MedreviewError:
        label = url
    item = QListWidgetItem(label)
    item.setData(Qt.ItemDataRole.UserRole, url)
    item.setToolTip(url)
    return item


class WelcomePage(QWidget):
    sig_open = Signal(str)
    """A project folder path (or a server project's URL) the user asked to open."""
    sig_server = Signal()
    """The user wants to open a project on a PostgreSQL server."""
    sig_browse = Signal()
    """The user wants a folder dialog."""
    sig_package = Signal()
    """The user wants to open a rater package (.mrpkg) sent by the study lead."""
    sig_new = Signal()
    """The user wants to set up a new project."""
    sig_demo = Signal()
    """The user wants the demo project (built on first use)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QWidget()
        column.setMaximumWidth(820)
        lay = QVBoxLayout(column)
        lay.setContentsMargins(0, 40, 0, 40)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(intro)
        self.new = QPushButton("New project…  (Ctrl+N)")
        self.new.clicked.connect(self.sig_new.emit)
        self.browse = QPushButton("Open a project folder…  (Ctrl+O)")
        self.browse.clicked.connect(self.sig_browse.emit)
        self.package = QPushButton("Open a rater package from the study lead…")
        self.package.clicked.connect(self.sig_package.emit)
        self.demo = QPushButton("Open the demo project")
        self.demo.setToolTip("Example cases with CT images, models' answers and physicians' "
                             "grades; built on first use, in your user data folder")
        self.demo.clicked.connect(self.sig_demo.emit)
        self.server = QPushButton("Open a server project…")
        self.server.setToolTip("A study on the hospital's PostgreSQL server: the URL your study "
                               "lead sent, and your password")
        self.server.clicked.connect(self.sig_server.emit)
        for row in ((self.new, self.browse), (self.package, self.demo), (self.server,)):
            buttons = QHBoxLayout()
            for b in row:
                buttons.addWidget(b)
            buttons.addStretch(1)
            lay.addLayout(buttons)
        lay.addSpacing(16)
        lay.addWidget(QLabel("<b>Recent projects</b> — Enter or double-click opens; you can "
                             "also drop a project folder anywhere on this window"))
        self.recent = QListWidget()
        self.recent.setMaximumHeight(220)
        self.recent.itemActivated.connect(
            lambda it: self.sig_open.emit(it.data(Qt.ItemDataRole.UserRole)))
        lay.addWidget(self.recent)
        self.empty = QLabel("No recent projects.")
        self.empty.setEnabled(False)
        lay.addWidget(self.empty)
        lay.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(column, 4)
        outer.addStretch(1)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for p in paths:
            if is_server_url(p):
                self.recent.addItem(_server_item(p))
                continue
            path = Path(p)
            if path.exists():
                item = QListWidgetItem(f"{path.name}    —    {path.parent}")
                item.setData(Qt.ItemDataRole.UserRole, str(path))
                item.setToolTip(str(path))
                self.recent.addItem(item)
        if self.recent.count():
            self.recent.setCurrentRow(0)
        self.recent.setVisible(bool(self.recent.count()))
        self.empty.setVisible(not self.recent.count())
