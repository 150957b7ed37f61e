"""RunProgressPanel: a running judge's progress bar, live counts, usage and cost, then its
summary and the failed items with their reasons.

The bar is driven by ``show_progress``/``show_busy`` (``qt/progress_relay.py``) and the failed
items are shared ``qt/table_cells.cell``s (server replies are data), like the other screens."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.judge.text import duration, plural, status_label, tokens, usd
from medreview.qt.progress_relay import show_busy, show_progress
from medreview.qt.table_cells import cell
from medreview.services.judging import JudgeFailure, JudgeLive, JudgeRunSummary

TILES = (("judged", "Judged"), ("cached", "From cache"), ("failed", "Failed"),
         ("requests", "Requests"), ("tokens", "Tokens in / out"), ("cost", "Est. cost"))


class _Tile(QFrame):
    def __init__(self, caption: str) -> None:
        super().__init__()
        self.setObjectName("tile")
        self.value = QLabel("—")
        self.value.setObjectName("tileValue")
        self.caption = QLabel(caption)
        self.caption.setObjectName("tileCaption")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(0)
        lay.addWidget(self.value)
        lay.addWidget(self.caption)


class RunProgressPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("No run yet")
        self.heading.setObjectName("runHeading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)  # names the model
        self.state = QLabel()
        self.state.setObjectName("runState")
        self.bar = QProgressBar()
        show_progress(self.bar, 0, 1, "")
        self.bar.setTextVisible(True)
        self.detail = QLabel("Choose the settings, then press Start run.")
        self.detail.setObjectName("runDetail")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)  # names the rater
        self.tiles = {key: _Tile(caption) for key, caption in TILES}
        self.message = QLabel()
        self.message.setObjectName("runMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.failures = QTableWidget(0, 4)
        self.failures.setHorizontalHeaderLabels(("Case", "Output", "Item", "Reason"))
        self.failures.verticalHeader().hide()
        self.failures.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.failures.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.failures.setAlternatingRowColors(True)
        self.failures.setShowGrid(False)
        self.failures.setWordWrap(False)
        fh = self.failures.horizontalHeader()
        fh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col in range(3):
            fh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        fh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.failures_title = QLabel("Failed items")
        self.failures_title.setObjectName("sectionTitle")
        self.failures_title.hide()
        self.failures.hide()

        head = QHBoxLayout()
        head.addWidget(self.heading, 1)
        head.addWidget(self.state)
        grid = QGridLayout()
        grid.setSpacing(8)
        for i, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, i // 3, i % 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.bar)
        lay.addWidget(self.detail)
        lay.addLayout(grid)
        lay.addWidget(self.message)
        lay.addWidget(self.failures_title)
        lay.addWidget(self.failures, 1)
        lay.addStretch(0)
        self._started = 0.0
        self._done_at_start: int | None = None
        self.reset()
        self.detail.setText("Choose the settings, then press Start run.")

    def reset(self, heading: str = "No run yet") -> None:
        self.heading.setText(heading)
        self._set_state("", "")
        self._started = 0.0
        self._done_at_start = None
        self.detail.setText("")
        show_progress(self.bar, 0, 1, "")
        for tile in self.tiles.values():
            tile.value.setText("—")
            for w in (tile, tile.value):
                w.setProperty("alert", False)
                self._repolish(w)
        self.message.hide()
        self.failures.setRowCount(0)
        self.failures.hide()
        self.failures_title.hide()

    def start(self, heading: str) -> None:
        self.reset(heading)
        self._started = time.monotonic()
        self._done_at_start = None
        self._set_state("Starting", "running")
        show_busy(self.bar)  # until the plan is known
        self.detail.setText("Planning the items…")

    def elapsed(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    def show_live(self, live: JudgeLive, *, cancelling: bool = False) -> None:
        info = live.info
        self.heading.setText(f"Run #{info.run_id} · {info.model}")
        if not cancelling:
            self._set_state("Running", "running")
        if live.total is not None:
            if self._done_at_start is None:
                self._done_at_start = live.done
            show_progress(self.bar, min(live.done, live.total), max(1, live.total),
                          f"{live.done} / {live.total} items  (%p%)")
            self.detail.setText(self._detail(live))
        self._tiles(info.n_done, info.n_cached, info.n_failed, info.n_requests,
                    info.prompt_tokens, info.completion_tokens, info.cost_usd)
        # Worth a line of its own: waiting for another writer, a parameter the server refused.
        if live.message.startswith(("waiting", "database busy", "the endpoint refused")):
            self.show_message(html.escape(live.message), "warn")

    def tick(self, live: JudgeLive | None) -> None:
        """Once a second while running: keep elapsed time and the time left current."""
        if live is not None and live.total is not None:
            self.detail.setText(self._detail(live))

    def show_cancelling(self) -> None:
        self._set_state("Cancelling…", "warn")
        self.detail.setText("Stopping: no new requests are sent; finished items are kept.")

    def show_summary(self, s: JudgeRunSummary, final: JudgeLive | None) -> None:
        label = status_label(s.status)
        level = {"done": "ok", "cancelled": "warn"}.get(s.status, "warn")
        self._set_state(label, level)
        finished = s.items_total - s.failed if s.status != "cancelled" else (
            final.done if final is not None else s.already_done + s.judged + s.cached)
        show_progress(self.bar, min(finished, s.items_total), max(1, s.items_total),
                      f"{finished} / {s.items_total} items  (%p%)")
        if final is not None:
            i = final.info
            self._tiles(i.n_done, i.n_cached, i.n_failed, i.n_requests, i.prompt_tokens,
                        i.completion_tokens, i.cost_usd)
        self.detail.setText(f"{duration(self.elapsed())} · rater “{s.rater_name}”")
        parts = [f"This session: <b>{s.judged}</b> judged by the model, <b>{s.cached}</b> from "
                 f"the cache, {plural(s.requests, 'request')}, "
                 f"{tokens(s.prompt_tokens)} prompt + {tokens(s.completion_tokens)} completion "
                 f"tokens, est. {usd(s.cost_usd)}."]
        if s.already_done:
            parts.append(f"{s.already_done} items were already done before this session.")
        if s.dropped_params:
            parts.append("The endpoint refused " + html.escape(", ".join(s.dropped_params))
                         + "; the run went on without it (recorded with the run).")
        if s.status == "cancelled":
            parts.append(f"<b>Cancelled.</b> Finished items are saved; select run "
                         f"#{s.run_id} under Earlier runs and press Resume to finish it "
                         "without sending them again.")
        elif s.failed:
            parts.append(f"<b>{plural(s.failed, 'item')} failed</b> (reasons below). Resume "
                         f"run #{s.run_id} to retry only those.")
        else:
            parts.append("Every item was judged; the judgments are in the project.")
        self.show_message(" ".join(parts), "ok" if s.status == "done" else "warn")

    def show_failures(self, failures: list[JudgeFailure]) -> None:
        self.failures.setRowCount(len(failures))
        for row, f in enumerate(failures):
            tries = f" (after {plural(f.attempts, 'attempt')})" if f.attempts > 1 else ""
            for col, text in enumerate((f.case_external_id, str(f.output_id), f.item_key,
                                        f.reason + tries)):
                self.failures.setItem(row, col, cell(text))
        self.failures_title.setText(f"Failed items ({len(failures)})")
        self.failures.setVisible(bool(failures))
        self.failures_title.setVisible(bool(failures))

    def show_error(self, text: str, state: str = "") -> None:
        self._set_state(state or ("Not started" if self._done_at_start is None else "Stopped"),
                        "error")
        if self.bar.maximum() == 0:  # busy no more
            show_progress(self.bar, 0, 1, self.bar.format())
        self.detail.setText("")
        self.show_message(html.escape(text), "error")

    def show_message(self, rich: str, level: str) -> None:
        self.message.setText(rich)
        self.message.setProperty("level", level)
        self._repolish(self.message)
        self.message.show()

    def _detail(self, live: JudgeLive) -> str:
        elapsed = self.elapsed()
        text = f"{duration(elapsed)} elapsed"
        assert live.total is not None
        moved = live.done - (self._done_at_start or 0)
        left = live.total - live.done
        if moved > 0 and left > 0 and elapsed > 1:
            text += f" · about {duration(elapsed / moved * left)} left"
        return text

    def _tiles(self, judged: int, cached: int, failed: int, requests: int, pt: int, ct: int,
               cost: float) -> None:
        values = {"judged": str(judged), "cached": str(cached), "failed": str(failed),
                  "requests": str(requests), "tokens": f"{tokens(pt)} / {tokens(ct)}",
                  "cost": usd(cost)}
        for key, text in values.items():
            self.tiles[key].value.setText(text)
        tile = self.tiles["failed"]
        for w in (tile, tile.value):
            w.setProperty("alert", failed > 0)
            self._repolish(w)

    def _set_state(self, text: str, level: str) -> None:
        self.state.setText(text)
        self.state.setVisible(bool(text))
        self.state.setProperty("level", level)
        self._repolish(self.state)

    @staticmethod
    def _repolish(w: QWidget) -> None:
        w.style().unpolish(w)
        w.style().polish(w)
