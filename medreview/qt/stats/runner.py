"""Background computation for the statistics windows: a read on the database thread, the
computation on the work pool, progress and Cancel, stale results dropped; plus the header strip
(status, progress bar, Cancel, Refresh) and a debounced refresh on project changes.

Progress goes through the screens' one ``ProgressRelay`` (thinned out, delivered on the UI
thread), the bar through ``show_progress``/``show_busy``, the error tone from ``qt/status.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.progress import Cancelled, CancelToken
from medreview.qt.bridge import Op
from medreview.qt.progress_relay import ProgressRelay, show_busy, show_progress
from medreview.qt.status import set_tone
from medreview.services.bus import ChangeBus
from medreview.services.tasks import Executor

Compute = Callable[[Any, Callable[..., None], CancelToken], Any]


class StatsJob(QObject):
    """``start(load, compute)``: ``load()`` on ``db``, ``compute(inputs, progress, token)`` on
    ``work``. Only the newest start reports; an older run is cancelled and its result dropped."""

    sig_started = Signal()
    sig_progress = Signal(int, int, str)
    sig_finished = Signal(object, object)  # (inputs, result)
    sig_failed = Signal(str)
    sig_cancelled = Signal()

    def __init__(self, db: Executor, work: Executor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._work = work
        self._generation = 0
        self._token: CancelToken | None = None
        self._relay: ProgressRelay | None = None
        self.running = False

    def start(self, load: Callable[[], Any], compute: Compute) -> None:
        self.cancel(quiet=True)
        self._generation += 1
        gen = self._generation
        token = CancelToken()
        self._token = token
        self.running = True
        self.sig_started.emit()

        def report(done: int, total: int | None, message: str) -> None:  # on the UI thread
            if self._alive(gen):
                self.sig_progress.emit(done, total or 0, message)

        # One relay per run: an older run's reports still on their way go to its own relay.
        if self._relay is not None:
            self._relay.deleteLater()
        progress = self._relay = ProgressRelay(report, parent=self)

        def computed(inputs: Any) -> None:
            if not self._alive(gen):
                return
            (Op(self, compute, inputs, progress, token)
             .success(lambda result: self._done(gen, inputs, result))
             .failure(lambda exc: self._fail(gen, exc))
             .run(self._work))

        Op(self, load).success(computed).failure(lambda exc: self._fail(gen, exc)).run(self._db)

    def cancel(self, quiet: bool = False) -> None:
        if self._token is not None:
            self._token.cancel()
        if self.running:
            self.running = False
            self._generation += 1  # whatever still arrives belongs to a dead run
            if not quiet:
                self.sig_cancelled.emit()

    def _alive(self, gen: int) -> bool:
        return shiboken6.isValid(self) and gen == self._generation

    def _done(self, gen: int, inputs: Any, result: Any) -> None:
        if self._alive(gen):
            self.running = False
            self.sig_finished.emit(inputs, result)

    def _fail(self, gen: int, exc: BaseException) -> None:
        if not self._alive(gen):
            return
        self.running = False
        if isinstance(exc, Cancelled):
            self.sig_cancelled.emit()
        else:
            self.sig_failed.emit(f"{type(exc).__name__}: {exc}")


class StatusStrip(QWidget):
    """Status text, a progress bar with Cancel while computing, and Refresh.

    The window's one busy indicator: the bar and Cancel show exactly while the job runs, and
    the status says "Computing" exactly then (progress messages go on the bar; none says
    "done"). ``sig_status`` repeats the status text for a placeholder page that stands in for
    the results until the first ones arrive (``mirror_status``), so the page and the header
    never tell different stories."""

    sig_status = Signal(str, bool)  # text, is an error

    def __init__(self, job: StatsJob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("")
        self.status.setObjectName("statsStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setWordWrap(True)  # a long status wraps instead of widening the window
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Recompute from the current judgments (F5)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status, 1)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        lay.addWidget(self.refresh_button)
        self.cancel_button.clicked.connect(lambda: job.cancel())
        job.sig_started.connect(self._on_started)
        job.sig_progress.connect(self._on_progress)
        job.sig_finished.connect(lambda *_: self._idle())
        job.sig_failed.connect(lambda msg: self._idle(f"Could not compute: {msg}", error=True))
        job.sig_cancelled.connect(lambda: self._idle("Cancelled — press Refresh to compute "
                                                     "again."))
        self._idle("")

    def _on_started(self) -> None:
        show_busy(self.bar, self.bar.format())  # until the first progress report
        self.bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.set_status("Computing statistics…")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        show_progress(self.bar, done, total, message[:40] if message else self.bar.format())

    def _idle(self, text: str | None = None, *, error: bool = False) -> None:
        self.bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self.bar.setFormat("%p%")
        if text is not None:
            self.set_status(text, error=error)

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.sig_status.emit(text, error)
        # Errors in the error tone; everything else in the theme's secondary colour.
        set_tone(self.status, "error" if error else None, bold=True)
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)


def mirror_status(strip: StatusStrip, page: QLabel, showing_results: Callable[[], bool]
                  ) -> None:
    """Show the strip's status on ``page`` while no results are shown."""
    import html

    def show(text: str, error: bool) -> None:
        if not showing_results() and text:
            page.setText(f"<h3>{html.escape(text)}</h3>")

    strip.sig_status.connect(show)


STALE_TEXT = "Out of date: the project changed — recomputing shortly…"


def mark_stale(strip: StatusStrip, job: StatsJob) -> Callable[[], None]:
    """``on_stale`` for a window: its header says the tables are out of date (unless a
    computation is already running and says so itself)."""

    def stale() -> None:
        if shiboken6.isValid(strip) and not job.running:
            strip.set_status(STALE_TEXT)

    return stale


RELEVANT = ("judgments", "gold", "raters", "judge_runs", "rubrics", "outputs", "cases",
            "project")


def relevant(changes: Changes) -> bool:
    """Whether a change can alter the statistics (queue-only changes cannot)."""
    return any(bool(getattr(changes, name)) for name in RELEVANT)


class RefreshOnChange(QObject):
    """Debounced ``refresh()`` after relevant bus changes; deferred while the window is hidden."""

    def __init__(self, bus: ChangeBus, window: QWidget, refresh: Callable[[], None],
                 delay_ms: int = 1500, on_stale: Callable[[], None] | None = None) -> None:
        super().__init__(window)
        self.stale = False
        self._on_stale = on_stale  # e.g. the header stops saying "up to date"
        self._window = window
        self._refresh = refresh
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self._fire)
        unsubscribe = bus.subscribe(self._on_changes)
        self.destroyed.connect(lambda *_: unsubscribe())

    def _on_changes(self, changes: Changes, initiator: object | None) -> None:
        if not shiboken6.isValid(self) or not relevant(changes):
            return
        self.stale = True
        if self._on_stale is not None:
            self._on_stale()
        self.timer.start()  # restarting the timer is the debounce

    def _fire(self) -> None:
        if self.stale and self._window.isVisible():
            self.stale = False
            self._refresh()

    def window_shown(self) -> None:
        if self.stale:
            self.timer.start(0)
