"""The lead's live progress per rater: assigned, finished, drafts, open right now.

On a server project the panel follows the server's change hints (``services.team.
watch_changes``: LISTEN/NOTIFY on a background thread, re-queried after a reconnect), so
another rater's save shows without pressing Refresh; the hint only triggers a fresh read. On a
folder project it refreshes on this app's own saves (the change bus). Either way it also
re-reads every ``poll_ms`` (a lease that runs out changes "open now" without any write).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.qt.bridge import Op, run_on_main
from medreview.services import team
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project
from medreview.services.tasks import Executor

COLUMNS = ("Rater", "Assigned", "Done", "Drafts", "Open now", "Progress")
# For the dashboard's "no finished judgments yet" page: progress matters before any are.
TEAM_LINK = ('<p><a href="team-progress">Team progress</a> shows who has graded what so far.'
             '</p>')


def _percent(done: int, assigned: int) -> str:
    return f"{100 * min(done, assigned) // assigned} %" if assigned else "—"


class TeamProgressPanel(QWidget):
    """A table of raters and a status line; ``refresh()`` re-reads in the background."""

    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None, *, poll_ms: int = 30_000,
                 debounce_ms: int = 250) -> None:
        super().__init__(parent)
        self.project, self.db = project, db
        self.progress: team.TeamProgress | None = None
        self.revision: int | None = None
        self.online: bool | None = None
        self.refreshes = 0  # finished reads (tests, diagnostics)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("teamProgress")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Reading progress…")
        self.status.setObjectName("teamProgressStatus")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addWidget(self.table, 1)
        # Bursts of hints or saves end in one read.
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(debounce_ms)
        self._soon.timeout.connect(self._refresh_if_shown)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self._refresh_if_shown)
        self._poll.start()
        self._stale = False  # a hint came while hidden: read when shown again
        unsubscribe = bus.subscribe(self._on_bus)
        self.listener = team.watch_changes(project, self._hint_from_thread,
                                           on_online=self._online_from_thread)
        listener = self.listener

        def stop(*_: object) -> None:
            unsubscribe()
            if listener is not None:
                listener.stop(timeout=0.0)  # a daemon thread: it ends within its poll step

        self.destroyed.connect(stop)
        self.refresh()

    # --- hints (listener thread) and bus changes (main thread) --------------------------

    def _hint_from_thread(self, revision: int) -> None:
        run_on_main(lambda: self._on_hint(revision))

    def _online_from_thread(self, online: bool, why: str) -> None:
        run_on_main(lambda: self._on_online(online, why))

    def _on_hint(self, revision: int) -> None:
        if shiboken6.isValid(self):
            self.revision = revision
            self._soon.start()

    def _on_online(self, online: bool, why: str) -> None:
        if shiboken6.isValid(self):
            self.online = online
            self._show_status(why)

    def _on_bus(self, changes: Changes, _initiator: object | None) -> None:
        if shiboken6.isValid(self) and (changes.judgments or changes.queue or changes.raters
                                        or changes.outputs or changes.project):
            self._soon.start()

    # --- reading and showing ------------------------------------------------------------

    def _refresh_if_shown(self) -> None:
        # Kept current while its window is open (ready when the lead switches to the tab);
        # a closed window reads nothing until it shows again.
        if self.window().isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def refresh(self) -> None:
        (Op(self, team.team_progress, self.project)
         .success(self._show)
         .failure(lambda exc: self.status.setText(f"Could not read progress: {exc}"))
         .latest("team-progress")
         .run(self.db))

    def _show(self, progress: team.TeamProgress) -> None:
        self.progress = progress
        self.refreshes += 1
        self.table.setRowCount(len(progress.raters))
        for row, r in enumerate(progress.raters):
            values = (r.name, r.assigned, r.done, r.drafts, r.open_now,
                      _percent(r.done, r.assigned))
            for col, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self._show_status()

    def _show_status(self, why: str = "") -> None:
        p = self.progress
        parts: list[str] = []
        if p is not None:
            parts.append(f"{p.outputs} outputs")
            if p.needed is not None:
                parts.append(f"pool: {p.needed} rating{'s' if p.needed != 1 else ''} each, "
                             f"{p.complete} complete")
        if self.listener is None:
            parts.append("updates with this app's saves and every "
                         f"{self._poll.interval() // 1000} s")
        elif self.online is False:
            parts.append("server unreachable, reconnecting" + (f" ({why})" if why else ""))
        else:
            parts.append("live" + (f" (revision {self.revision})"
                                   if self.revision is not None else ""))
        self.status.setText(" · ".join(parts))

    def row_of(self, name: str) -> dict[str, str]:
        """The shown cells of ``name``'s row, by column title (tests, accessibility)."""
        for row in range(self.table.rowCount()):
            cell = self.table.item(row, 0)
            if cell is not None and cell.text() == name:
                return {title: (self.table.item(row, c) or QTableWidgetItem()).text()
                        for c, title in enumerate(COLUMNS)}
        raise KeyError(name)
