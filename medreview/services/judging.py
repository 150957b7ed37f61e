"""The database side of the LLM judge: plan the items, run them resumably, store judgments.

A run is a ``JudgeRunRow`` plus a rater of kind ``judge``; its answers are ordinary judgment
revisions (``source="judge"``), so every statistic treats the judge like a physician.

Work items are (output, item key): ``criterion:<key>`` / a form criterion id for HealthBench
criteria, ``form`` or ``medval`` for whole-form requests, ``pairwise:<question>``. The ledger
(``JudgeItemRow``) records each item as done (with its parsed result) or failed (with the
reason and the raw reply); it is written on the caller's thread, one commit per item, so a
killed run loses nothing that finished. Resuming skips done items and retries failed ones.
Parsed replies are cached by (prompt hash, model, parameters) in ``JudgeCacheRow``: any run
asking the same thing again pays nothing.

Writes wait for other writers (an import) and report it through ``progress``; a project that
stays busy past ``DB_WAIT_S`` stops the run (resumable, one line), and the replies it could not
save go to a spool file beside the project (``spool_path``), written first on resume. Request
parameters the endpoint refused are dropped by the client and recorded in the run's JSON
parameters (``params["dropped_params"]``).

Where the judge's extras go in a revision (answers hold only valid answers, so the judge's
revisions validate exactly like a physician's):

* ``confidence`` — mean of the per-question confidences;
* ``rationale`` — one ``<question id>: <explanation>`` line per answered question;
* ``annotations`` — one entry per answered question:
  ``{"question_id", "note": explanation, "judge": {"confidence", "confidence_source",
  "item_key"}}`` (``confidence_source`` is ``logprobs``, ``agreement``, ``stated`` or ``none``);
* ``status`` — ``done`` when every item of the output was judged, else ``draft``.

Pairwise questions compare an output (as A) with the next output of the same case (as B).
Case images are sent only when the run enables them (PNG/JPEG/WebP/GIF; DICOM is not sent).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import fmean
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question, QuestionKind, case_criterion_question
from medreview.errors import JudgeError, ProjectBusy
from medreview.judge.client import JudgeClient
from medreview.judge.config import JudgeConfig, cache_key
from medreview.judge.privacy import (
    check_consent,
    check_endpoint,
    endpoint_host,
    public_url,
    redact,
    resolve_api_key,
)
from medreview.judge.runner import Outcome, judge_task, run_tasks
from medreview.judge.spool import ReplySpool
from medreview.judge.templates import (
    STYLES,
    UNJUDGED_KINDS,
    CaseContext,
    JudgeTask,
    plan_tasks,
    style_hash,
)
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.readiness import require_rubric
from medreview.storage.base import utcnow
from medreview.storage.forms import active_form_rows, form_from_row
from medreview.storage.models import (
    AttachmentRow,
    CaseRow,
    JudgeCacheRow,
    JudgeItemRow,
    JudgeRunRow,
    OutputRow,
    ProjectRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision

log = logging.getLogger(__name__)

IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
# How long a run waits for another writer (an import) before it stops, resumable.
DB_WAIT_S = 600.0
T = TypeVar("T")


class SaveFailed(JudgeError):
    """The project could not store a result (e.g. the disk is full): the run must stop."""


class DatabaseBusy(SaveFailed):
    """Another program held the project's write lock for longer than the run would wait."""


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text or "busy" in text


def _retry_busy(fn: Callable[[], T], *, wait_s: float, what: str,
                on_wait: Callable[[float], None] = lambda _s: None,
                token: CancelToken | None = None) -> T:
    """``fn()`` (one transaction), repeated while SQLite says another writer holds the lock.

    Each attempt already waits SQLite's busy timeout (or the storage write gate's wait); between
    attempts ``on_wait`` hears how long we have waited, so a progress line can say so. Gives up
    with ``DatabaseBusy`` after ``wait_s`` seconds, when the run is cancelled, or when the
    write gate itself gave up (``ProjectBusy``: it has waited its full time already).
    """
    start = time.monotonic()
    pause = 0.05
    while True:
        try:
            return fn()
        except ProjectBusy as exc:
            raise DatabaseBusy(f"{exc.reason} (while {what})") from None
        except OperationalError as exc:
            if not _is_busy(exc):  # disk full, I/O error: waiting will not help
                reason = str(exc.orig if exc.orig is not None else exc).splitlines()[0]
                raise SaveFailed(f"could not save to the project while {what}: "
                                 f"{reason[:200]}") from None
            waited = time.monotonic() - start
            if waited >= wait_s or (token is not None and token.cancelled):
                raise DatabaseBusy(
                    f"the project database stayed busy for {waited:.0f} s (another program "
                    f"is writing to it) while {what}") from None
            log.info("database busy while %s; waited %.1f s", what, waited)
            on_wait(waited)
            time.sleep(min(pause, max(0.0, wait_s - waited)))
            pause = min(pause * 2, 2.0)


@dataclass(frozen=True)
class WorkUnit:
    output_id: int
    task: JudgeTask

    @property
    def key(self) -> tuple[int, str]:
        return (self.output_id, self.task.item_key)


@dataclass(frozen=True)
class JudgeRunSummary:
    run_id: int
    run_uid: str
    rater_id: int
    rater_name: str
    status: str  # done | incomplete | cancelled
    items_total: int
    already_done: int
    judged: int  # answered by a request in this invocation
    cached: int  # answered from the cache in this invocation
    failed: int  # failed items of the run after this invocation
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    failures: tuple[tuple[int, str, str], ...] = field(default=())  # (output, item, reason)
    dropped_params: tuple[str, ...] = ()  # request parameters the endpoint refused (dropped)


def _questions(s: Session) -> tuple[int, list[Question]]:
    rubric, taxonomy = active_form_rows(s)
    if rubric is None:
        raise JudgeError("the project has no rubric: add one before running a judge")
    seen: set[str] = set()
    questions: list[Question] = []
    for row in (rubric, taxonomy):
        if row is None:
            continue
        for q in form_from_row(row).questions:
            if q.id not in seen and q.kind not in UNJUDGED_KINDS:
                seen.add(q.id)
                questions.append(q)
    return rubric.id, questions


def _images(s: Session, project: Project, case_id: int, limit: int) -> tuple[str, ...]:
    rows = s.scalars(select(AttachmentRow).where(
        AttachmentRow.case_id == case_id, AttachmentRow.kind == "image",
        AttachmentRow.mime.in_(IMAGE_MIMES)).order_by(AttachmentRow.sort_index, AttachmentRow.id)
        .limit(limit)).all()
    out = []
    for a in rows:
        data = project.media.path_for(a.sha256).read_bytes()
        out.append(f"data:{a.mime};base64,{base64.b64encode(data).decode('ascii')}")
    return tuple(out)


def plan_work(project: Project, style: str = "auto", *, limit: int | None = None,
              images: bool = False, max_images: int = 4) -> list[WorkUnit]:
    """Every (output, item) the judge would answer, in queue order; ``limit`` caps outputs."""
    if style not in STYLES:
        raise JudgeError(f"unknown template {style!r}; choose one of {', '.join(STYLES)}")
    with project.read() as s:
        _form_id, questions = _questions(s)
        outputs = s.execute(select(OutputRow.id, OutputRow.case_id, OutputRow.text)
                            .order_by(OutputRow.case_id, OutputRow.id)).all()
        by_case: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for oid, cid, text in outputs:
            by_case[cid].append((oid, text))
        if limit is not None:
            outputs = outputs[: max(0, limit)]
        units: list[WorkUnit] = []
        cases: dict[int, tuple[CaseContext, tuple[Question, ...]]] = {}
        for oid, cid, text in outputs:
            if cid not in cases:
                case = s.get(CaseRow, cid)
                assert case is not None
                ctx = CaseContext(
                    tuple((m.get("role", "user"), m.get("content", "")) for m in case.messages),
                    tuple((d.get("title", ""), d.get("text", "")) for d in case.context),
                    _images(s, project, cid, max_images) if images else ())
                crit = tuple(case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
                             for c in case.criteria)
                cases[cid] = (ctx, tuple(questions) + crit)
            ctx, qs = cases[cid]
            siblings = by_case[cid]
            other = None
            if len(siblings) > 1 and any(q.kind is QuestionKind.PAIRWISE for q in qs):
                idx = [o for o, _t in siblings].index(oid)
                other = siblings[(idx + 1) % len(siblings)][1]
            units += [WorkUnit(oid, t) for t in plan_tasks(style, ctx, text, qs,
                                                           other_answer=other)]
        return units


def _consent(project: Project, base_url: str, env_var: str = "OPENAI_API_KEY") -> None:
    check_endpoint(base_url, env_var=env_var)  # no credentials in the URL, http(s) only
    with project.read() as s:
        allowed = bool(s.scalar(select(ProjectRow.data_may_leave)))
    check_consent(base_url, data_may_leave=allowed)


def _open_run(project: Project, config: JudgeConfig, style: str, limit: int | None,
              resume: int | str | None) -> tuple[int, JudgeConfig, str, int | None]:
    version, digest = style_hash(style)
    with project.transaction() as s:
        if resume is not None:
            q = select(JudgeRunRow)
            q = q.where(JudgeRunRow.id == int(resume)) if str(resume).isdigit() else q.where(
                JudgeRunRow.uid.startswith(str(resume)))
            run = s.scalars(q).first()
            if run is None:
                raise JudgeError("no such judge run in this project", item=str(resume))
            if run.model != config.model or run.base_url != public_url(config.base_url):
                raise JudgeError(f"run {run.id} used model {run.model!r} at {run.base_url}; "
                                 "resume it with the same --model and --base-url", item=str(resume))
            if run.template_hash != style_hash(run.template_key)[1]:
                raise JudgeError("the prompt templates changed since this run; start a new run",
                                 item=str(resume))
            run.status = "running"
            params = dict(run.params)
            return (run.id, config.with_recorded_params(params), run.template_key,
                    params.get("limit") if limit is None else limit)
        form_id, _qs = _questions(s)
        params = config.recorded_params() | {"limit": limit}
        run = JudgeRunRow(uid=str(uuid.uuid4()), model=config.model,
                          base_url=public_url(config.base_url), template_key=style,
                          template_version=version, template_hash=digest, form_id=form_id,
                          params=params, status="running", images_enabled=config.images)
        s.add(run)
        s.flush()
        get_or_create_rater(s, f"judge {config.model} #{run.id} ({run.uid[:8]})", "judge",
                            judge_run_id=run.id)
        return run.id, config, style, limit


def spool_path(project: Project, run_id: int) -> Path:
    """Where a run keeps the replies it could not save yet (see ``medreview.judge.spool``)."""
    return project.path / f"judge-run-{run_id}.pending.jsonl"


def _rater(s: Session, run_id: int) -> tuple[int, str]:
    from medreview.storage.models import RaterRow

    row = s.scalars(select(RaterRow).where(RaterRow.judge_run_id == run_id)).one()
    return row.id, row.name


def _form_id(s: Session) -> int:
    return _questions(s)[0]


def _write_revision(s: Session, run: JudgeRunRow, rater_id: int, rater_name: str,
                    output_id: int) -> None:
    rows = s.scalars(select(JudgeItemRow).where(JudgeItemRow.run_id == run.id,
                                                JudgeItemRow.output_id == output_id)
                     .order_by(JudgeItemRow.id)).all()
    answers: dict[str, Any] = {}
    notes: list[dict[str, Any]] = []
    lines: list[str] = []
    confidences: list[float] = []
    for r in rows:
        if r.status != "done":
            continue
        res = r.result
        for qid, value in res.get("answers", {}).items():
            answers[qid] = value
            expl = str(res.get("explanations", {}).get(qid, ""))
            conf = res.get("confidence", {}).get(qid)
            if conf is not None:
                confidences.append(float(conf))
            notes.append({"question_id": qid, "note": expl, "judge": {
                "confidence": conf, "confidence_source": res.get("confidence_source", {}).get(qid),
                "item_key": r.item_key}})
            if expl:
                lines.append(f"{qid}: {expl}")
    if not answers:
        return
    complete = all(r.status == "done" for r in rows)
    taxonomy = active_form_rows(s)[1]
    content = RevisionContent(answers=answers, annotations=notes, rationale="\n".join(lines),
                              confidence=round(fmean(confidences), 6) if confidences else None,
                              status="done" if complete else "draft")
    append_revision(s, rater_id=rater_id, output_id=output_id, content=content,
                    form_id=run.form_id if run.form_id is not None else _form_id(s),
                    taxonomy_id=taxonomy.id if taxonomy else None, author=rater_name,
                    source="judge", dedupe=True)


def run_judge(
    project: Project,
    config: JudgeConfig,
    *,
    style: str = "auto",
    limit: int | None = None,
    resume: int | str | None = None,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
    client: JudgeClient | None = None,
    db_wait_s: float | None = None,
) -> JudgeRunSummary:
    """Judge the project's outputs (or resume run ``resume``); see the module doc.

    While another program holds the database's write lock, the run waits (up to
    ``db_wait_s``, default ``DB_WAIT_S``) and says so through ``progress``. A refused redirect
    or a database that stays busy ends the run with a one-line ``JudgeError``; the run is
    left resumable.
    """
    token = token or CancelToken()
    require_rubric(project, "a judge run")
    _consent(project, config.base_url, config.api_key_env)  # before anything could be sent
    api_key = None
    if client is None:
        api_key = resolve_api_key(config.base_url, env_var=config.api_key_env,
                                  keyring_service=config.keyring_service)
    busy_wait = DB_WAIT_S if db_wait_s is None else db_wait_s
    run_id, config, style, limit = _retry_busy(
        lambda: _open_run(project, config, style, limit, resume), wait_s=busy_wait,
        what="opening the judge run", token=token)
    units = plan_work(project, style, limit=limit, images=config.images,
                      max_images=config.max_images)
    params = config.recorded_params()
    with project.read() as s:
        rater_id, rater_name = _rater(s, run_id)
        done_keys = {(o, k) for o, k in s.execute(select(
            JudgeItemRow.output_id, JudgeItemRow.item_key).where(
            JudgeItemRow.run_id == run_id, JudgeItemRow.status == "done"))}
        stored = s.get(JudgeRunRow, run_id)
        recorded_drops = tuple(str(p) for p in (stored.params if stored else {}).get(
            "dropped_params", ()))
    todo = [u for u in units if u.key not in done_keys]
    remaining: dict[int, int] = defaultdict(int)
    for u in todo:
        remaining[u.output_id] += 1
    total, already = len(units), len(units) - len(todo)
    counts = {"finished": 0, "judged": 0, "cached": 0, "requests": 0, "pt": 0, "ct": 0}
    secrets = (api_key,)
    drops = {"recorded": recorded_drops}
    own_client = client is None
    judge_client = client or JudgeClient(config, api_key, dropped=recorded_drops)

    def waiting(seconds: float) -> None:
        progress(already + counts["finished"], total,
                 f"database busy (another program is writing); waiting {seconds:.0f} s")

    def write(unit: WorkUnit, outcome: Outcome, dropped: tuple[str, ...]) -> None:
        """One item's ledger row, usage and (when its output is complete) revision."""
        ckey = cache_key(unit.task.request_hash, config.model, params)
        with project.transaction() as s:
            run = s.get(JudgeRunRow, run_id)
            assert run is not None
            row = s.scalars(select(JudgeItemRow).where(
                JudgeItemRow.run_id == run_id, JudgeItemRow.output_id == unit.output_id,
                JudgeItemRow.item_key == unit.task.item_key)).first()
            if row is None:
                row = JudgeItemRow(run_id=run_id, output_id=unit.output_id,
                                   item_key=unit.task.item_key, attempts=0)
                s.add(row)
            row.request_hash = unit.task.request_hash
            row.status = outcome.status
            row.error = redact(outcome.error, secrets)
            row.raw_text = redact(outcome.raw_text, secrets)
            row.result = outcome.result
            row.attempts = (row.attempts or 0) + outcome.attempts
            run.n_requests += outcome.requests
            run.prompt_tokens += outcome.prompt_tokens
            run.completion_tokens += outcome.completion_tokens
            run.cost_usd += config.estimate_cost(outcome.prompt_tokens, outcome.completion_tokens)
            if dropped != drops["recorded"]:  # kept in the run's JSON parameters
                run.params = {**dict(run.params), "dropped_params": list(dropped)}
            if outcome.cached:
                run.n_cached += 1
            elif outcome.status == "done" and s.get(JudgeCacheRow, ckey) is None:
                s.add(JudgeCacheRow(key=ckey, response=outcome.result))
            s.flush()
            if remaining[unit.output_id] == 1:
                _write_revision(s, run, rater_id, rater_name, unit.output_id)

    spool = ReplySpool(spool_path(project, run_id))
    busy: list[SaveFailed] = []  # set once the database stayed busy too long (or failed)

    def keep(unit: WorkUnit, outcome: Outcome) -> None:
        if outcome.cached:  # a cache hit costs nothing to ask again
            return
        try:
            spool.add(unit.output_id, unit.task.item_key, unit.task.request_hash, replace(
                outcome, error=redact(outcome.error, secrets),
                raw_text=redact(outcome.raw_text, secrets)))
        except OSError as exc:  # the disk is full too: say so, the item is asked again
            log.warning("could not keep the reply for output %s %s: %s", unit.output_id,
                        unit.task.item_key, exc.strerror or exc)

    def record(unit: WorkUnit, outcome: Outcome, *, replay: bool = False) -> None:
        if busy:  # stopping: the replies still arriving go to the spool
            if not replay:
                keep(unit, outcome)
            return
        dropped = judge_client.dropped_params()
        # The reply is paid for: wait for another writer rather than lose it.
        try:
            _retry_busy(lambda: write(unit, outcome, dropped), wait_s=busy_wait,
                        what=f"saving output {unit.output_id} {unit.task.item_key}",
                        on_wait=waiting, token=token)
        except SaveFailed as exc:
            busy.append(exc)
            if not replay:
                keep(unit, outcome)
            return
        remaining[unit.output_id] -= 1
        counts["finished"] += 1
        if outcome.cached:
            counts["cached"] += 1
        elif outcome.status == "done":
            counts["judged"] += 1
        counts["requests"] += outcome.requests
        counts["pt"] += outcome.prompt_tokens
        counts["ct"] += outcome.completion_tokens
        message = f"{counts['requests']} requests"
        if dropped != drops["recorded"]:
            new = [d for d in dropped if d not in drops["recorded"]]
            message = (f"the endpoint refused {', '.join(new)}; continuing without it "
                       f"({message})")
            drops["recorded"] = dropped
        progress(already + counts["finished"], total, message)

    # Replies a stopped run could not save are written first, and not asked again.
    spooled = spool.load()
    replayed: set[tuple[int, str]] = set()
    try:
        for u in todo:
            saved = spooled.get((u.output_id, u.task.item_key, u.task.request_hash))
            if saved is not None and not busy:
                record(u, saved, replay=True)
                if not busy:
                    replayed.add(u.key)
    except BaseException:
        if own_client:
            judge_client.close()
        raise
    if spooled and not busy:
        spool.clear()

    def uncached() -> Iterator[tuple[WorkUnit, JudgeTask]]:
        for u in todo:
            if token.cancelled or busy:
                return
            if u.key in replayed:
                continue
            ckey = cache_key(u.task.request_hash, config.model, params)
            with project.read() as s:
                hit = s.get(JudgeCacheRow, ckey)
                response = dict(hit.response) if hit is not None else None
            if response is not None:
                record(u, Outcome("done", result=response, cached=True))
                continue
            yield u, u.task

    progress(already, total, "starting")
    stop: JudgeError | None = None
    completed = False
    # The storage write gate waits for other writers itself; its notes become progress lines.
    set_wait = getattr(project, "set_writer_wait_callback", None)
    if set_wait is not None:
        set_wait(lambda text: progress(already + counts["finished"], total, text))
    try:
        completed = run_tasks(
            uncached(),
            lambda task: judge_task(judge_client, task, n_samples=config.n_samples,
                                    parse_retries=config.parse_retries, token=token),
            lambda unit, _task, outcome: record(unit, outcome),
            concurrency=config.concurrency, token=token, secrets=secrets)
    except JudgeError as exc:  # a refused redirect
        stop = exc
    finally:
        if own_client:
            judge_client.close()
        if set_wait is not None:
            set_wait(None)

    def finish() -> JudgeRunSummary:
        with project.transaction() as s:
            run = s.get(JudgeRunRow, run_id)
            assert run is not None
            failed_rows = s.execute(select(JudgeItemRow.output_id, JudgeItemRow.item_key,
                                           JudgeItemRow.error).where(
                JudgeItemRow.run_id == run_id, JudgeItemRow.status == "failed")).all()
            n_done = int(s.scalar(select(func.count()).select_from(JudgeItemRow).where(
                JudgeItemRow.run_id == run_id, JudgeItemRow.status == "done")) or 0)
            run.n_failed = len(failed_rows)
            if stop is not None:
                run.status = "incomplete"  # resumable; the reason goes to the caller
            elif not completed:
                run.status = "cancelled"
            else:
                run.status = "done" if n_done == total and not failed_rows else "incomplete"
                run.finished_at = utcnow()
            return JudgeRunSummary(
                run_id=run.id, run_uid=run.uid, rater_id=rater_id, rater_name=rater_name,
                status=run.status, items_total=total, already_done=already,
                judged=counts["judged"], cached=counts["cached"], failed=len(failed_rows),
                requests=counts["requests"], prompt_tokens=counts["pt"],
                completion_tokens=counts["ct"],
                cost_usd=config.estimate_cost(counts["pt"], counts["ct"]),
                failures=tuple((o, k, e) for o, k, e in failed_rows[:50]),
                dropped_params=tuple(str(p) for p in run.params.get("dropped_params", ())))

    resume_hint = f"run {run_id} stopped; continue it with --resume {run_id}"
    if busy:  # closing the run would wait for the same lock again: leave it "running"
        raise type(busy[0])(f"{busy[0].reason}; {resume_hint} (the replies not saved yet are "
                            "kept for it)", source=busy[0].source)
    try:
        summary = _retry_busy(finish, wait_s=busy_wait if stop is None else 5.0,
                              what="closing the judge run", on_wait=waiting)
    except SaveFailed as exc:  # the run stays "running", which is resumable too
        raise type(exc)(f"{(stop or exc).reason}; {resume_hint}",
                           source=(stop or exc).source) from None
    if stop is not None:
        raise type(stop)(f"{stop.reason}; {resume_hint}", source=stop.source,
                         item=stop.item) from None
    return summary


# --- For screens: list and inspect runs, estimate work, start a run whose id is known -------
# (Additive helpers; ``run_judge`` above is unchanged. All Qt-free, all return frozen values.)

KEY_SOURCES = ("keyring", "env")
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text; only for the estimate


@dataclass(frozen=True)
class JudgeRunInfo:
    """One judge run as stored: identity, settings, ledger counts and usage so far."""

    run_id: int
    uid: str
    model: str
    base_url: str  # without any secret (``public_url``)
    template_key: str
    status: str  # created | running | done | incomplete | cancelled
    started_at: dt.datetime
    finished_at: dt.datetime | None
    params: dict[str, Any]  # the recorded, reply-shaping parameters (+ ``limit``)
    images: bool
    rater_id: int | None
    rater_name: str
    n_done: int  # ledger items done
    n_failed: int  # ledger items failed (retried on resume)
    n_cached: int  # items answered from the cache, over all invocations
    n_requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    judged_outputs: frozenset[int] = frozenset()  # outputs with a judgment by this run

    @property
    def resumable(self) -> bool:
        return self.status != "done"

    @property
    def limit(self) -> int | None:
        value = self.params.get("limit")
        return int(value) if value is not None else None


@dataclass(frozen=True)
class JudgeFailure:
    output_id: int
    case_external_id: str
    item_key: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class JudgeEstimate:
    """What a run would do before it starts (no request is made to find out)."""

    outputs: int
    items: int  # work units in the plan
    already_done: int  # done in the run being resumed
    cached: int  # answered from the cache for free
    prompt_tokens: int  # estimated from the prompt text of the items still to send
    max_completion_tokens: int  # upper bound: items to send x samples x max_tokens
    cost_low_usd: float  # prompt tokens only
    cost_high_usd: float  # prompt tokens + every reply at max_tokens

    @property
    def to_send(self) -> int:
        return self.items - self.already_done - self.cached


@dataclass(frozen=True)
class ConsentState:
    data_may_leave: bool
    by: str | None
    at: dt.datetime | None


def consent_state(project: Project) -> ConsentState:
    """Whether (and by whom, when) the project allows case data to leave this machine."""
    with project.read() as s:
        row = s.scalars(select(ProjectRow)).one()
        return ConsentState(bool(row.data_may_leave), row.consent_by, row.consent_at)


def api_key_source(base_url: str, *, env_var: str, keyring_service: str) -> str | None:
    """Where ``resolve_api_key`` would find a key: ``"keyring"``, ``"env"`` or ``None``.

    The same order as the lookup used for a run (keyring first); the key itself is never
    returned, so a screen can say "found" without ever holding it.
    """
    try:
        import keyring

        if keyring.get_password(keyring_service, endpoint_host(base_url) or base_url):
            return "keyring"
    except Exception as exc:  # no usable backend (headless Linux): only the env var counts
        log.debug("keyring unavailable: %s", type(exc).__name__)
    return "env" if env_var and os.environ.get(env_var) else None


def _run_info(s: Session, run: JudgeRunRow) -> JudgeRunInfo:
    from medreview.storage.models import JudgmentRow, RaterRow

    counts: dict[str, int] = {status: int(n) for status, n in s.execute(
        select(JudgeItemRow.status, func.count()).where(JudgeItemRow.run_id == run.id)
        .group_by(JudgeItemRow.status))}
    rater = s.scalars(select(RaterRow).where(RaterRow.judge_run_id == run.id)).first()
    judged: frozenset[int] = frozenset()
    if rater is not None:
        judged = frozenset(s.scalars(select(JudgmentRow.output_id).where(
            JudgmentRow.rater_id == rater.id)))
    return JudgeRunInfo(
        run_id=run.id, uid=run.uid, model=run.model, base_url=run.base_url,
        template_key=run.template_key, status=run.status, started_at=run.started_at,
        finished_at=run.finished_at, params=dict(run.params), images=bool(run.images_enabled),
        rater_id=rater.id if rater else None, rater_name=rater.name if rater else "",
        n_done=int(counts.get("done", 0)), n_failed=int(counts.get("failed", 0)),
        n_cached=run.n_cached, n_requests=run.n_requests, prompt_tokens=run.prompt_tokens,
        completion_tokens=run.completion_tokens, cost_usd=float(run.cost_usd),
        judged_outputs=judged)


def list_judge_runs(project: Project) -> list[JudgeRunInfo]:
    """Every judge run of the project, newest first."""
    with project.read() as s:
        runs = s.scalars(select(JudgeRunRow).order_by(JudgeRunRow.id.desc())).all()
        return [_run_info(s, r) for r in runs]


def judge_run_info(project: Project, run_id: int) -> JudgeRunInfo:
    with project.read() as s:
        run = s.get(JudgeRunRow, run_id)
        if run is None:
            raise JudgeError("no such judge run in this project", item=str(run_id))
        return _run_info(s, run)


def judge_run_failures(project: Project, run_id: int) -> list[JudgeFailure]:
    """Every failed item of a run with its reason (already redacted when it was stored)."""
    with project.read() as s:
        rows = s.execute(
            select(JudgeItemRow.output_id, CaseRow.external_id, JudgeItemRow.item_key,
                   JudgeItemRow.error, JudgeItemRow.attempts)
            .join(OutputRow, OutputRow.id == JudgeItemRow.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .where(JudgeItemRow.run_id == run_id, JudgeItemRow.status == "failed")
            .order_by(OutputRow.case_id, JudgeItemRow.output_id, JudgeItemRow.item_key)).all()
        return [JudgeFailure(o, c, k, e or "", int(a or 0)) for o, c, k, e, a in rows]


def _prompt_chars(task: JudgeTask) -> int:
    n = 0
    for message in task.messages:
        content = message.get("content")
        if isinstance(content, str):
            n += len(content)
        elif isinstance(content, list):  # text parts only: image tokens depend on the model
            n += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return n


def estimate_judge_work(project: Project, config: JudgeConfig, *, style: str = "auto",
                        limit: int | None = None, resume: int | None = None) -> JudgeEstimate:
    """Items, cache hits, tokens and a cost range for a run, without sending anything.

    With ``resume`` the run's recorded template, parameters and limit apply, as in
    ``run_judge``; prompt tokens are estimated at ``CHARS_PER_TOKEN`` characters each.
    """
    require_rubric(project, "a judge run")
    done_keys: set[tuple[int, str]] = set()
    if resume is not None:
        with project.read() as s:
            run = s.get(JudgeRunRow, resume)
            if run is None:
                raise JudgeError("no such judge run in this project", item=str(resume))
            params = dict(run.params)
            config = config.with_recorded_params(params)
            style = run.template_key
            limit = params.get("limit") if limit is None else limit
            done_keys = {(o, k) for o, k in s.execute(select(
                JudgeItemRow.output_id, JudgeItemRow.item_key).where(
                JudgeItemRow.run_id == resume, JudgeItemRow.status == "done"))}
    units = plan_work(project, style, limit=limit, images=config.images,
                      max_images=config.max_images)
    params = config.recorded_params()
    todo = [u for u in units if u.key not in done_keys]
    keys = {cache_key(u.task.request_hash, config.model, params): u for u in todo}
    cached: set[str] = set()
    with project.read() as s:
        key_list = list(keys)
        for i in range(0, len(key_list), 500):  # bounded IN lists
            chunk = key_list[i:i + 500]
            cached.update(s.scalars(select(JudgeCacheRow.key).where(
                JudgeCacheRow.key.in_(chunk))))
    send = [u for k, u in keys.items() if k not in cached]
    prompt = sum(_prompt_chars(u.task) for u in send) // CHARS_PER_TOKEN
    completion = len(send) * max(1, config.n_samples) * (config.max_tokens or 4096)
    return JudgeEstimate(
        outputs=len({u.output_id for u in units}), items=len(units),
        already_done=len(units) - len(todo), cached=len(todo) - len(send),
        prompt_tokens=prompt, max_completion_tokens=completion,
        cost_low_usd=config.estimate_cost(prompt, 0),
        cost_high_usd=config.estimate_cost(prompt, completion))


def create_judge_run(project: Project, config: JudgeConfig, *, style: str = "auto",
                     limit: int | None = None) -> JudgeRunInfo:
    """Record a new run (status ``created``) so its id is known before any request.

    Checks consent and the key first, exactly like ``run_judge``, so a refused run leaves no
    row behind. ``run_judge(..., resume=info.run_id)`` then does the work; that is the same
    as a fresh run because the run's recorded parameters are the ones of ``config``.
    """
    if style not in STYLES:
        raise JudgeError(f"unknown template {style!r}; choose one of {', '.join(STYLES)}")
    require_rubric(project, "a judge run")
    _consent(project, config.base_url, config.api_key_env)
    resolve_api_key(config.base_url, env_var=config.api_key_env,
                    keyring_service=config.keyring_service)  # fails early; not kept
    run_id, _config, _style, _limit = _open_run(project, config, style, limit, None)
    with project.transaction() as s:
        run = s.get(JudgeRunRow, run_id)
        assert run is not None
        run.status = "created"
        s.flush()
        return _run_info(s, run)


@dataclass(frozen=True)
class JudgeLive:
    """A live report of a running judge: the stored run plus the plan's progress."""

    info: JudgeRunInfo
    done: int  # items finished (done before, or done / failed in this invocation)
    total: int | None  # items in the plan; None until the plan is known
    message: str = ""


def run_judge_live(
    project: Project,
    config: JudgeConfig,
    *,
    style: str = "auto",
    limit: int | None = None,
    resume: int | None = None,
    on_update: Callable[[JudgeLive], None],
    token: CancelToken | None = None,
    min_interval_s: float = 0.25,
    client: JudgeClient | None = None,
) -> tuple[JudgeRunSummary, JudgeRunInfo]:
    """``run_judge`` for a screen: the run exists (and ``on_update`` hears of it) before the
    first request, then ``on_update`` gets fresh counts and usage at most every
    ``min_interval_s`` while items finish, and once more at the end. Everything runs on the
    calling thread, so a run's database calls stay on one thread (each a short transaction).

    Returns the summary and the run's final state.
    """
    if resume is None:
        info = create_judge_run(project, config, style=style, limit=limit)
    else:
        info = judge_run_info(project, int(resume))
    run_id = info.run_id
    on_update(JudgeLive(info, info.n_done, None, "starting"))
    last = time.monotonic()
    finished = info.n_done

    def progress(done: int, total: int | None = None, message: str = "") -> None:
        nonlocal last, finished
        finished = done
        now = time.monotonic()
        if now - last >= min_interval_s or (total is not None and done >= total):
            last = now
            on_update(JudgeLive(judge_run_info(project, run_id), done, total, message))

    summary = run_judge(project, config, style=style, limit=None if resume is None else limit,
                        resume=run_id, progress=progress, token=token, client=client)
    final = judge_run_info(project, run_id)
    on_update(JudgeLive(final, finished, summary.items_total, summary.status))
    return summary, final
