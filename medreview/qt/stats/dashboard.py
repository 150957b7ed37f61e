"""DashboardWindow: the project's agreement statistics in the app (the HTML report's tables and
plots), computed off the UI thread and refreshed when judgments or gold labels change.

Its own top-level window, so the grading window's single-key shortcuts never fire in it.
Rows with disagreeing items emit ``sig_open_items(output_ids, label)``; the main window opens
them in the grading window.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QLabel,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.progress import CancelToken, Progress
from medreview.qt.stats.dashboard_tabs import (
    ByModelTab,
    ByQuestionTab,
    JudgeTab,
    OverviewTab,
    RaterPairsTab,
    ScoresTab,
    StatsTab,
)
from medreview.qt.stats.raters_tab import RatersTab
from medreview.qt.stats.runner import (
    RefreshOnChange,
    StatsJob,
    StatusStrip,
    mark_stale,
    mirror_status,
)
from medreview.qt.stats.team_progress import TEAM_LINK, TeamProgressPanel
from medreview.qt.stats.window import StatsWindow
from medreview.qt.window_size import fit_to_screen
from medreview.services import dashboard
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project
from medreview.services.tasks import Executor

EMPTY_TEXT = ("<h3>No finished judgments yet</h3>"
              "<p>Agreement statistics appear once physicians have finished grading answers "
              "(Ctrl+Enter in the grading window marks an answer done) or judgments were "
              "imported. Drafts are not counted.</p>")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def empty_page(html: str) -> QLabel:
    label = QLabel(html)
    label.setObjectName("statsEmpty")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setContentsMargins(40, 40, 40, 40)
    return label


def _compute(inputs: dashboard.StatsInputs, progress: Progress, token: CancelToken) -> Any:
    return dashboard.compute_dashboard(inputs, progress=progress, token=token)


class DashboardWindow(StatsWindow):
    """Tabs: overview (methods table), by question, by model, rater pairs, judge vs
    physicians, score distributions."""

    sig_open_items = Signal(list, str)

    def __init__(self, project: Project, db: Executor, work: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("Statistics")
        self.project = project
        self.inputs: dashboard.StatsInputs | None = None
        self.stats: Any = None
        self.job = StatsJob(db, work, self)
        self.strip = StatusStrip(self.job)
        self.strip.refresh_button.clicked.connect(self.refresh)
        self.job.sig_finished.connect(self._on_finished)
        self.overview = OverviewTab()
        self.by_question = ByQuestionTab()
        self.by_model = ByModelTab()
        self.pairs = RaterPairsTab()
        self.judge = JudgeTab()
        self.scores = ScoresTab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for tab, title in ((self.overview, "Overview"), (self.by_question, "By question"),
                           (self.by_model, "By model"), (self.pairs, "Rater pairs"),
                           (self.judge, "Judge vs physicians"),
                           (self.scores, "Score distributions")):
            self.tabs.addTab(tab, title)
            tab.sig_open_items.connect(self.sig_open_items)
            tab.sig_message.connect(lambda text: self.strip.set_status(text))
        # Progress per rater, live on a server project (its own reads, not the statistics job).
        self.team = TeamProgressPanel(project, db, bus)
        self.tabs.addTab(self.team, "Team progress")
        # Test-retest, drift and time per rater: its own job (its controls recompute it).
        self.raters = RatersTab(project, db, work)
        self.tabs.addTab(self.raters, "Raters")
        # Until the first results: the strip's status (its bar and Cancel are the one busy
        # indicator), never a "Computing" of its own that could outlive the computation.
        self.empty = empty_page("")
        self.empty.linkActivated.connect(lambda _link: self.show_team_progress())
        mirror_status(self.strip, self.empty, lambda: self.stats is not None)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.strip)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.watch = RefreshOnChange(bus, self, self.refresh,
                                     on_stale=mark_stale(self.strip, self.job))
        fit_to_screen(self, (1400, 900))  # built first: the size hint is known

    @property
    def tab_widgets(self) -> list[StatsTab]:
        return [self.overview, self.by_question, self.by_model, self.pairs, self.judge,
                self.scores]

    def show_team_progress(self) -> None:
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentWidget(self.team)

    def refresh(self) -> None:
        """Recompute everything in the background (the current tables stay until then)."""
        project = self.project
        self.job.start(lambda: dashboard.load_inputs(project), _compute)
        self.raters.refresh()

    def _on_finished(self, inputs: dashboard.StatsInputs, stats: Any) -> None:
        self.inputs, self.stats = inputs, stats
        self.setWindowTitle(f"Statistics — {inputs.project_name}")
        if inputs.ratings.empty:
            self.empty.setText(EMPTY_TEXT + TEAM_LINK)
            self.stack.setCurrentWidget(self.empty)
            self.strip.set_status("No finished judgments to analyse.")
            return
        for tab in self.tab_widgets:
            tab.show_stats(inputs, stats)
        self.stack.setCurrentWidget(self.tabs)
        meta = stats.meta
        self.strip.set_status(" · ".join(plural(int(meta.get(k, 0)), noun) for k, noun in (
            ("n_outputs", "output"), ("n_physicians", "physician"), ("n_judges", "judge")))
            + " — up to date")
