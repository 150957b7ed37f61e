"""JudgeRunDialog: set up, start, follow, cancel and resume LLM-judge runs in the background.

Threads, and why the run does not go through the database executor:

* Quick project calls (earlier runs, consent, estimates, failures, recording consent) go
  through the DB executor with ``Op`` like every screen.
* A run takes minutes to hours, so it gets its own thread (``medreview-judge-run``). Holding
  the DB executor that long would freeze saving grades. ``run_judge`` does every database call
  of a run on the thread that calls it (``run_tasks`` delivers outcomes back to that thread),
  each as one short transaction (one commit per item); SQLAlchemy gives that thread its own
  pooled connection. SQLite in WAL mode lets readers run alongside one writer, and the
  engine's ``busy_timeout`` (10 s) makes a writer wait for the other thread's commit instead of
  failing. pysqlite starts the write transaction at the first INSERT/UPDATE, so there is no
  stale read snapshot to upgrade (which SQLite would refuse without waiting). The two threads'
  writes touch different rows (a run writes its own ledger, cache rows, and its own judge
  rater's judgments). Only a DB-executor transaction that kept the write lock for more than
  10 s could make a run stop with "database is locked"; every item finished so far is
  committed and the run is resumable. ``tests/qt/judge`` runs a judge while grades are saved
  on the DB executor.
* Keyring lookups can block (a desktop keyring may ask to unlock), so they run on a helper
  thread too. The API key itself never reaches this dialog: it only learns *where* one is.

Live numbers come from ``run_judge_live`` on the run thread (at most four reports a second)
through the one ``ProgressRelay`` of the screens (the newest report is kept aside, so one the
relay thins out is never lost); each report's newly judged outputs go on the ChangeBus at once
so other screens refresh while the run goes on.

Closing the project never waits on the UI thread: ``release()`` asks the run to cancel, stops
the dialog's timers and threads and returns the run's future; the main window waits for it on
the closing project's database thread before the engine is disposed, and the run's late results
are dropped by ``Op(owner)`` (the dialog is retired).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.errors import MedreviewError
from medreview.judge.config import JudgeConfig
from medreview.judge.privacy import endpoint_host, public_url, redact, store_api_key
from medreview.progress import CancelToken
from medreview.qt.bridge import Op
from medreview.qt.judge.consent_box import ConsentBox, default_consenter
from medreview.qt.judge.progress_panel import RunProgressPanel
from medreview.qt.judge.runs_table import RunsTable
from medreview.qt.judge.settings_form import JudgeSettingsForm
from medreview.qt.judge.style import DIALOG_QSS
from medreview.qt.judge.text import plural, tokens, usd
from medreview.qt.messages import ask
from medreview.qt.progress_relay import ProgressRelay
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services.judging import (
    ConsentState,
    JudgeEstimate,
    JudgeFailure,
    JudgeLive,
    JudgeRunInfo,
    JudgeRunSummary,
    api_key_source,
    consent_state,
    estimate_judge_work,
    judge_run_failures,
    list_judge_runs,
    run_judge_live,
)
from medreview.services.projects import Project, set_consent

log = logging.getLogger(__name__)

ESTIMATE_DEBOUNCE_MS = 400
KEY_DEBOUNCE_MS = 300


class _Newest:
    """The newest live report of the run thread (one attribute store: atomic under the GIL),
    read on the UI thread when the relay delivers."""

    def __init__(self) -> None:
        self.live: JudgeLive | None = None


def _error_text(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, MedreviewError) else f"{type(exc).__name__}: {exc}"
    return redact(text)


class JudgeRunDialog(QDialog):
    sig_finished = Signal(object)
    """The ``JudgeRunSummary`` of a run that ended (done, with failures, or cancelled)."""

    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.bus = bus
        # Who agrees that case data may leave this machine: the main window names the rater.
        self.consenter = default_consenter()
        self.setModal(False)
        self.setWindowTitle("LLM judge")
        self.setStyleSheet(DIALOG_QSS)
        self.resize(1220, 800)

        self._runner = cf.ThreadPoolExecutor(max_workers=1,
                                             thread_name_prefix="medreview-judge-run")
        self._aux = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="medreview-judge-key")
        self._token: CancelToken | None = None
        self._future: cf.Future[tuple[JudgeRunSummary, JudgeRunInfo]] | None = None
        self._live: JudgeLive | None = None
        self._relay: ProgressRelay | None = None
        self._run_id: int | None = None
        self._new_run = False
        self._emitted: set[int] = set()
        self._failures_shown = 0
        self._busy = False
        self._shut = False
        self._estimate_gen = 0
        self._resume_gen = 0
        self._resume_key: tuple[int, str, int, int] | None = None
        self._key_gen = 0
        self.key_source: str | None = None
        """Where the run will find its key (``keyring``, ``env``) or None; never the key."""
        self._runs_loaded = False
        self.last_summary: JudgeRunSummary | None = None
        self.last_error = ""

        self._build()
        self._wire()
        self._unsubscribe = bus.subscribe(self._on_bus)
        self.destroyed.connect(self._unsubscribe)
        self.refresh()

    # layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        title = QLabel("Run an LLM judge")
        title.setObjectName("dialogTitle")
        subtitle = QLabel("Grades this project's outputs through an OpenAI-compatible endpoint. "
                          "Each run becomes a judge rater whose judgments sit next to the "
                          "physicians'. Finished items are saved as they arrive, so a "
                          "cancelled or interrupted run can be resumed.")
        subtitle.setObjectName("dialogSubtitle")
        subtitle.setWordWrap(True)

        self.form = JudgeSettingsForm()
        self.consent = ConsentBox()
        self.form.add_endpoint_note(self.consent)
        self.form.setFixedWidth(500)

        runs_title = QLabel("Earlier runs")
        runs_title.setObjectName("sectionTitle")
        self.runs = RunsTable()
        self.runs.setMinimumHeight(120)
        self.resume_estimate = QLabel("Select an unfinished run to resume it.")
        self.resume_estimate.setObjectName("resumeEstimate")
        self.resume_estimate.setWordWrap(True)
        self.resume_button = QPushButton("Resume run")
        self.resume_button.setEnabled(False)
        self.resume_button.setToolTip("Continue the selected run with its recorded template and "
                                      "parameters; items already done are not sent again.")
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.resume_estimate, 1)
        resume_row.addWidget(self.resume_button)
        progress_title = QLabel("Progress")
        progress_title.setObjectName("sectionTitle")
        self.panel = RunProgressPanel()
        right = QVBoxLayout()
        right.setSpacing(6)
        right.addWidget(runs_title)
        right.addWidget(self.runs, 1)
        right.addLayout(resume_row)
        right.addSpacing(8)
        right.addWidget(progress_title)
        right.addWidget(self.panel, 4)

        body = QHBoxLayout()
        body.setSpacing(18)
        body.addWidget(self.form)
        body.addLayout(right, 1)

        self.estimate = QLabel("Estimating…")
        self.estimate.setObjectName("estimate")
        self.estimate.setWordWrap(True)
        self.close_button = QPushButton("Close")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop sending requests; finished items are kept and the "
                                      "run can be resumed later.")
        self.start_button = QPushButton("Start run")
        self.start_button.setObjectName("primary")
        self.start_button.setDefault(True)
        footer = QHBoxLayout()
        footer.addWidget(self.estimate, 1)
        footer.addSpacing(12)
        footer.addWidget(self.close_button)
        footer.addWidget(self.cancel_button)
        footer.addWidget(self.start_button)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 14, 18, 14)
        lay.setSpacing(10)
        lay.addWidget(title)
        lay.addWidget(subtitle)
        lay.addLayout(body, 1)
        lay.addLayout(footer)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(ESTIMATE_DEBOUNCE_MS)
        self._key_timer = QTimer(self)
        self._key_timer.setSingleShot(True)
        self._key_timer.setInterval(KEY_DEBOUNCE_MS)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)

    def _wire(self) -> None:
        self.form.sig_changed.connect(self._estimate_timer.start)
        self.form.sig_endpoint_changed.connect(self._key_timer.start)
        self.form.sig_endpoint_changed.connect(self._update_consent_box)
        self.form.images.toggled.connect(self._update_consent_box)
        self.form.sig_store_key.connect(self._store_key)
        self._estimate_timer.timeout.connect(self._estimate_new)
        self._key_timer.timeout.connect(self._check_key)
        self._tick.timeout.connect(lambda: self.panel.tick(self._live))
        self.runs.sig_selected.connect(self._on_run_selected)
        self.resume_button.clicked.connect(self.resume_selected)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.consent.sig_changed.connect(self._update_buttons)

    # state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from Start until the run (or recording consent) has ended."""
        return self._busy

    def refresh(self) -> None:
        """Reload earlier runs and consent, look the key up, re-estimate."""
        self._go(Op(self, list_judge_runs, self.project).success(self._on_runs).failure(
            self._on_load_failed), self.db)
        self._go(Op(self, consent_state, self.project).success(self._on_consent).failure(
            self._on_load_failed), self.db)
        self._update_consent_box()
        self._check_key()
        self._estimate_new()

    def _on_bus(self, changes: Changes, initiator: object | None) -> None:
        """Another screen changed something this dialog shows (consent, runs, the plan)."""
        if initiator is self or self._shut:
            return
        if changes.project:
            self._go(Op(self, consent_state, self.project).success(self._on_consent), self.db)
        if changes.judge_runs and not self.running:
            self.refresh_runs()
        if changes.rubrics or changes.outputs or changes.cases:
            self._estimate_timer.start()

    def _on_runs(self, runs: list[JudgeRunInfo]) -> None:
        if not self._runs_loaded and runs:
            self.form.prefill(runs[0])
        self._runs_loaded = True
        self.runs.set_runs(runs)

    def _on_consent(self, state: ConsentState) -> None:
        self.consent.set_state(state)
        self._update_buttons()

    def _on_load_failed(self, exc: BaseException) -> None:
        self.panel.show_error(f"Could not read the project: {_error_text(exc)}")

    def _update_consent_box(self) -> None:
        self.consent.set_endpoint(self.form.base_url(), self.form.images.isChecked())
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.running
        run = self.runs.selected_run()
        self.start_button.setEnabled(not busy)
        self.resume_button.setEnabled(not busy and run is not None and run.resumable)
        self.resume_button.setText(f"Resume run #{run.run_id}" if run is not None
                                   and run.resumable else "Resume run")
        self.cancel_button.setEnabled(busy and self._token is not None
                                      and not self._token.cancelled)
        self.form.set_editable(not busy)
        self.consent.setEnabled(not busy)

    def _go(self, op: Op[Any], executor: Executor) -> None:
        """Run ``op`` unless the dialog was shut down (late callbacks find executors gone)."""
        if not self._shut:
            op.run(executor)

    # API key -----------------------------------------------------------------------------
    def _check_key(self) -> None:
        self._key_gen += 1
        gen = self._key_gen
        url, env, service = (self.form.base_url(), self.form.env_var(),
                             self.form.config().keyring_service)

        def show(source: str | None) -> None:
            if gen == self._key_gen:
                self.key_source = source
                self.form.set_key_status(source)

        lookup = Op(self, api_key_source, url, env_var=env, keyring_service=service)
        self._go(lookup.success(show).failure(lambda _e: show(None)), self._aux)

    def _store_key(self) -> None:
        url = self.form.base_url()
        host = endpoint_host(url)
        if not host:
            self.panel.show_error("Enter the endpoint's base URL before storing its key.")
            return
        key, ok = QInputDialog.getText(
            self, "Store API key", f"API key for {host} (kept in the OS keyring only):",
            QLineEdit.EchoMode.Password)
        key = key.strip()
        if not ok or not key:
            return
        # The key lives only in this call and the keyring call: no attribute, no widget.
        service = self.form.config().keyring_service
        store = Op(self, store_api_key, url, key, keyring_service=service)
        self._go(store.success(lambda _r: self._check_key()).failure(
            lambda e: self.panel.show_error(f"The OS keyring refused the key: {_error_text(e)}")
        ), self._aux)

    # estimates ---------------------------------------------------------------------------
    def _estimate_new(self) -> None:
        if self.running:
            return
        self._estimate_gen += 1
        gen = self._estimate_gen
        config = self.form.config()

        def show(est: JudgeEstimate) -> None:
            if gen == self._estimate_gen:
                self.estimate.setText("New run: " + self._estimate_text(est, config))

        def failed(exc: BaseException) -> None:
            if gen == self._estimate_gen:
                self.estimate.setText(f"New run: {_error_text(exc)}")

        self._go(Op(self, estimate_judge_work, self.project, config, style=self.form.chosen_style(),
           limit=self.form.chosen_limit()).success(show).failure(failed), self.db)

    @staticmethod
    def _estimate_text(est: JudgeEstimate, config: JudgeConfig) -> str:
        if est.already_done:
            parts = [f"{est.to_send} of {plural(est.items, 'item')} left to send"]
        else:
            parts = [f"{plural(est.to_send, 'item')} to send for {plural(est.outputs, 'output')}"]
        if est.cached:
            parts.append(f"{est.cached} from the cache (free)")
        if est.to_send:
            parts.append(f"≈ {tokens(est.prompt_tokens)} prompt tokens")
            priced = config.price_prompt_per_mtok or config.price_completion_per_mtok
            parts.append(f"est. {usd(est.cost_low_usd)}–{usd(est.cost_high_usd)}" if priced
                         else "enter prices for a cost estimate")
        return " · ".join(parts)

    def _on_run_selected(self, run: JudgeRunInfo | None) -> None:
        self._update_buttons()
        if run is None:
            self.resume_estimate.setText("Select an unfinished run to resume it.")
            return
        if not run.resumable:
            self.resume_estimate.setText(f"Run #{run.run_id} is complete "
                                         f"({plural(run.n_done, 'item')} judged).")
            return
        if self.running:
            if run.run_id == self._run_id:
                self.resume_estimate.setText(f"Run #{run.run_id} is running.")
            self._resume_key = None
            return
        # Live updates redraw the table; estimate again only when the run itself changed.
        key = (run.run_id, run.status, run.n_done, run.n_failed)
        if key == self._resume_key:
            return
        self._resume_key = key
        self.resume_estimate.setText(f"Run #{run.run_id}: estimating…")
        self._resume_gen += 1
        gen = self._resume_gen
        config = self._config_for(run)

        def show(est: JudgeEstimate) -> None:
            if gen == self._resume_gen:
                self.resume_estimate.setText(
                    f"Run #{run.run_id} ({run.model}, {run.template_key}): "
                    + self._estimate_text(est, config))

        def failed(exc: BaseException) -> None:
            if gen == self._resume_gen:
                self.resume_estimate.setText(f"Run #{run.run_id}: {_error_text(exc)}")

        estimate = Op(self, estimate_judge_work, self.project, config, resume=run.run_id)
        self._go(estimate.success(show).failure(failed), self.db)

    def _config_for(self, run: JudgeRunInfo) -> JudgeConfig:
        """The form's execution settings (key, concurrency, prices) with the run's endpoint."""
        config = self.form.config()
        url = config.base_url if public_url(config.base_url) == run.base_url else run.base_url
        return replace(config, base_url=url, model=run.model).with_recorded_params(run.params)

    # starting ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a new run with the form's settings; False (with a message) if refused."""
        if self.running:
            return False
        problems = self.form.problems()
        if problems:
            self.panel.show_error("Cannot start: " + "; ".join(problems) + ".")
            self.form.focus_first_problem()
            return False
        config = self.form.config()
        return self._launch(config, self.form.chosen_style(), self.form.chosen_limit(), None)

    def resume_selected(self) -> bool:
        """Resume the selected unfinished run; False (with a message) if refused."""
        run = self.runs.selected_run()
        if self.running or run is None or not run.resumable:
            return False
        self.form.load_run(run)
        self._update_consent_box()
        return self._launch(self._config_for(run), run.template_key, None, run.run_id)

    def _launch(self, config: JudgeConfig, style: str, limit: int | None,
                resume: int | None) -> bool:
        self.consent.set_endpoint(config.base_url, config.images)
        if self.consent.needs_recording() and not self.consent.ready():
            host = endpoint_host(config.base_url)
            self.consent.show_refusal()
            self.panel.reset(f"New run · {config.model}" if resume is None else f"Run #{resume}")
            self.panel.show_error(state="Refused", text=
                f"Not started: {host} is not on this machine and the project has no recorded "
                "consent to send case data elsewhere. Tick the consent box (if your approval "
                "covers it) or use a local endpoint. Nothing was sent.")
            return False
        self.last_summary, self.last_error = None, ""
        self._busy = True
        self._token = CancelToken()
        self._live = None
        self._emitted = set()
        self._failures_shown = 0
        self._run_id, self._new_run = resume, resume is None
        self.runs.active_run = resume
        self.panel.start(f"Run #{resume}" if resume else f"New run · {config.model}")
        self._update_buttons()
        if self.consent.needs_recording():
            # Record consent first (a user action, on the DB executor), then start.
            def recorded(_changes: Changes) -> None:  # on the bus already (Op.emits)
                self._go(Op(self, consent_state, self.project).success(self._on_consent), self.db)
                self._submit(config, style, limit, resume)

            record = Op(self, set_consent, self.project, True, self.consenter).emits(self.bus)
            self._go(record.success(recorded).failure(self._on_failed), self.db)
        else:
            self._submit(config, style, limit, resume)
        return True

    def _submit(self, config: JudgeConfig, style: str, limit: int | None,
                resume: int | None) -> None:
        token = self._token
        assert token is not None
        self.runs.active_run = resume
        newest = _Newest()

        def deliver(_done: int, _total: int | None, _message: str) -> None:
            if newest.live is not None:
                self._on_live(newest.live)

        # A child of the dialog: once the dialog is gone, reports still coming are dropped
        # (the run itself goes on to its end). One per run; the last run's has delivered.
        if self._relay is not None:
            self._relay.deleteLater()
        relay = self._relay = ProgressRelay(deliver, parent=self)

        def on_update(live: JudgeLive) -> None:
            newest.live = live
            relay(live.done, live.total, live.message)

        self._future = Op(self, run_judge_live, self.project, config, style=style, limit=limit,
                          resume=resume, on_update=on_update, token=token).success(
            self._on_done).failure(self._on_failed).run(self._runner)
        self._tick.start()
        self._update_buttons()

    # while running -----------------------------------------------------------------------
    def _on_live(self, live: JudgeLive) -> None:
        if self._shut:  # the project closed: nothing to show, nothing to announce
            return
        first = self._live is None
        self._live = live
        info = live.info
        self._run_id = info.run_id
        self.runs.active_run = info.run_id
        cancelling = self._token is not None and self._token.cancelled
        self.panel.show_live(live, cancelling=cancelling)
        fresh = set(info.judged_outputs) - self._emitted
        self._emitted |= fresh
        changes = Changes(judgments=frozenset(fresh), judge_runs=True,
                          raters=first and self._new_run)
        if first or fresh:
            self.bus.emit(changes, self)
        if info.n_failed != self._failures_shown:  # list failures as they happen
            self._failures_shown = info.n_failed
            self._go(Op(self, judge_run_failures, self.project, info.run_id).success(
                self._show_failures), self.db)
        if first:
            self.refresh_runs()
        else:
            self.runs.set_runs([info if r.run_id == info.run_id else r for r in self.runs.runs])

    def refresh_runs(self) -> None:
        self._go(Op(self, list_judge_runs, self.project).success(self._on_runs).failure(
            self._on_load_failed), self.db)

    def cancel(self) -> None:
        """Stop sending requests; the run ends "cancelled" with its finished items saved."""
        if self._token is None or not self.running or self._token.cancelled:
            return
        self._token.cancel()
        self.panel.show_cancelling()
        self._update_buttons()

    def release(self) -> cf.Future[Any] | None:
        """Let go of the project without waiting (it is closing): cancel the run, stop the
        timers, the bus subscription and the helper threads. Returns the run's future, done
        once the run thread no longer touches the project (None: no run). Whoever closes the
        project waits for it off the UI thread; requests in flight are abandoned, so a run
        normally stops within a fraction of a second, or once another writer lets go."""
        self.cancel()
        future = self._future
        if not self._shut:
            self._shut = True
            self._unsubscribe()
            for timer in (self._estimate_timer, self._key_timer, self._tick):
                timer.stop()
            self._runner.shutdown(wait=False)  # the run goes on to its end on its thread
            self._aux.shutdown(wait=False)
        return future if future is not None and not future.done() else None

    def shutdown(self) -> None:
        """``release`` and wait for the run to stop: for tests and scripts that close the
        project right after on the same thread (the app waits off the UI thread instead)."""
        future = self.release()
        if future is not None:
            cf.wait([future])

    # finished ----------------------------------------------------------------------------
    def _finish_common(self) -> None:
        self._tick.stop()
        self._busy = False
        self._future = None
        self._token = None
        self.runs.active_run = None
        self._update_buttons()
        self.refresh_runs()
        self._estimate_new()

    def _on_done(self, result: tuple[JudgeRunSummary, JudgeRunInfo]) -> None:
        summary, final = result
        self.last_summary = summary
        fresh = set(final.judged_outputs) - self._emitted
        self._emitted |= fresh
        self.bus.emit(Changes(judgments=frozenset(fresh), judge_runs=True,
                              raters=self._new_run and self._live is None), self)
        live = self._live if self._live is not None and self._live.info.run_id == final.run_id \
            else None
        if live is not None:
            live = JudgeLive(final, live.done, live.total, live.message)
        self.panel.show_summary(summary, live)
        self._finish_common()
        self._go(Op(self, judge_run_failures, self.project, summary.run_id).success(
            self._show_failures), self.db)
        self.runs.select_run(summary.run_id)
        self.sig_finished.emit(summary)

    def _show_failures(self, failures: list[JudgeFailure]) -> None:
        self.panel.show_failures(failures)

    def _on_failed(self, exc: BaseException) -> None:
        self.last_error = _error_text(exc)
        log.info("judge run did not complete: %s", self.last_error)
        ran = self._live is not None
        if self._run_id is not None:
            self.bus.emit(Changes(judge_runs=True, raters=self._new_run), self)
        message = self.last_error
        if ran:
            message += (f" — items finished so far are saved; resume run #{self._run_id} "
                        "to continue.")
        self.panel.show_error(message)
        self._finish_common()

    # closing -----------------------------------------------------------------------------
    def reject(self) -> None:
        # Escape, the window's close button and Close all come here (and closing the project,
        # after release(): the run is cancelled already, nobody to ask).
        if self.running and not self._shut:
            if not ask(
                self, "Cancel the judge run?",
                "A judge run is still going. Cancel it? Finished items stay saved and the run "
                "can be resumed later.", default_no=True):
                return
            self.cancel()
        super().reject()
