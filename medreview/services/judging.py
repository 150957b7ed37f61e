"""The LLM judge as a use-case: plan the items, run them resumably, store judgments.

A run is a ``judge_run`` row plus a rater of kind ``judge``; its answers are ordinary judgment
revisions (``source="judge"``), so every statistic treats the judge like a physician. What is
read and written lives in ``storage/judge_runs.py``; this module decides what to ask, when to
wait and what to tell the caller.

Work items are (output, item key): ``criterion:<key>`` / a form criterion id for HealthBench
criteria, ``form`` or ``medval`` for whole-form requests, ``pairwise:<question>``. The ledger
(``judge_item``) records each item as done (with its parsed result) or failed (with the
reason and the raw reply); it is written on the caller's thread, one commit per item, so a
killed run loses nothing that finished. Resuming skips done items and retries failed ones.
Parsed replies are cached by (prompt hash, model, parameters) in ``judge_cache``: any run
asking the same thing again pays nothing.

Writes wait for other writers (an import) and report it through ``progress``; a project that
stays busy past ``DB_WAIT_S`` stops the run (resumable, one line), and the replies it could not
save go to a spool file beside the project (``spool_path``), written first on resume. Request
parameters the endpoint refused are dropped by the client and recorded in the run's JSON
parameters (``params["dropped_params"]``).

Where the judge's extras go in a revision (``storage.judge_runs.judge_revision_content``;
answers hold only valid answers, so the judge's revisions validate exactly like a physician's):

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
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from medreview.domain.rubric import Question, QuestionKind
from medreview.errors import DatabaseFailure, DatabaseLocked, JudgeError, ProjectBusy
from medreview.judge.client import JudgeClient
from medreview.judge.config import JudgeConfig, cache_key
from medreview.judge.fewshot import FewShotExample
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
from medreview.storage.db_errors import database_errors
from medreview.storage.form_lookup import StoredForm
from medreview.storage.judge_runs import (
    ItemResult,
    cached_keys,
    cached_reply,
    close_run,
    consent_of,
    create_run,
    done_item_keys,
    list_runs,
    plan_inputs,
    record_item,
    resume_run,
    run_failures,
    run_info,
    run_rater,
)
from medreview.storage.judge_runs import JudgeRunInfo as JudgeRunInfo
from medreview.storage.project import Project

log = logging.getLogger(__name__)

IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif")
# How long a run waits for another writer (an import) before it stops, resumable.
DB_WAIT_S = 600.0
T = TypeVar("T")


class SaveFailed(JudgeError):
    """The project could not store a result (e.g. the disk is full): the run must stop."""


class DatabaseBusy(SaveFailed):
    """Another program held the project's write lock for longer than the run would wait."""


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
            with database_errors():  # SQLAlchemy's errors as DatabaseLocked / DatabaseFailure
                return fn()
        except ProjectBusy as exc:
            raise DatabaseBusy(f"{exc.reason} (while {what})") from None
        except DatabaseFailure as exc:  # disk full, I/O error: waiting will not help
            raise SaveFailed(f"could not save to the project while {what}: "
                             f"{exc.reason[:200]}") from None
        except DatabaseLocked:
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


def _questions(rubric: StoredForm | None,
               taxonomy: StoredForm | None) -> tuple[int, list[Question]]:
    if rubric is None:
        raise JudgeError("the project has no rubric: add one before running a judge")
    seen: set[str] = set()
    questions: list[Question] = []
    for stored in (rubric, taxonomy):
        if stored is None:
            continue
        for q in stored.form.questions:
            if q.id not in seen and q.kind not in UNJUDGED_KINDS:
                seen.add(q.id)
                questions.append(q)
    return rubric.id, questions


def _images(project: Project, refs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """``data:`` URLs of a case's images, read from the media store (verified: a missing,
    damaged or unreachable image is one line, never sent)."""
    out = []
    for mime, sha256 in refs:
        data = project.media.open_verified(sha256).read_bytes()
        out.append(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")
    return tuple(out)


def plan_work(project: Project, style: str = "auto", *, limit: int | None = None,
              images: bool = False, max_images: int = 4,
              few_shot: Sequence[FewShotExample] = ()) -> list[WorkUnit]:
    """Every (output, item) the judge would answer, in queue order; ``limit`` caps outputs."""
    if style not in STYLES:
        raise JudgeError(f"unknown template {style!r}; choose one of {', '.join(STYLES)}")
    inputs = plan_inputs(project, limit=limit, image_mimes=IMAGE_MIMES if images else (),
                         max_images=max_images)
    _form_id, questions = _questions(inputs.rubric, inputs.taxonomy)
    outputs = inputs.outputs
    by_case: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for oid, cid, text in outputs:
        by_case[cid].append((oid, text))
    if limit is not None:
        outputs = outputs[: max(0, limit)]
    units: list[WorkUnit] = []
    cases: dict[int, tuple[CaseContext, tuple[Question, ...]]] = {}
    for oid, cid, text in outputs:
        if cid not in cases:
            case = inputs.cases[cid]
            ctx = CaseContext(
                tuple((m.get("role", "user"), m.get("content", "")) for m in case.messages),
                tuple((d.get("title", ""), d.get("text", "")) for d in case.context),
                _images(project, case.images))
            cases[cid] = (ctx, tuple(questions) + case.criteria)
        ctx, qs = cases[cid]
        siblings = by_case[cid]
        other = None
        if len(siblings) > 1 and any(q.kind is QuestionKind.PAIRWISE for q in qs):
            idx = [o for o, _t in siblings].index(oid)
            other = siblings[(idx + 1) % len(siblings)][1]
        units += [WorkUnit(oid, t) for t in plan_tasks(style, ctx, text, qs,
                                                       other_answer=other, few_shot=few_shot)]
    return units


def _consent(project: Project, base_url: str, env_var: str = "OPENAI_API_KEY") -> None:
    check_endpoint(base_url, env_var=env_var)  # no credentials in the URL, http(s) only
    allowed, _by, _at = consent_of(project)
    check_consent(base_url, data_may_leave=allowed)


def _new_run(project: Project, config: JudgeConfig, style: str, limit: int | None, *,
             status: str, few_shot: Sequence[FewShotExample] = (),
             split: dict[str, Any] | None = None) -> JudgeRunInfo:
    version, digest = style_hash(style, few_shot)
    # Few-shot examples (and the split they came from) are kept with the run, so a resumed
    # run asks exactly the same prompts and an evaluation can check they are train-only.
    extra: dict[str, Any] = {"few_shot": [e.to_dict() for e in few_shot],
                             "split": split} if few_shot else {}
    info = create_run(project, model=config.model, base_url=public_url(config.base_url),
                      template_key=style, template_version=version, template_hash=digest,
                      params=config.recorded_params() | {"limit": limit} | extra,
                      images=config.images, status=status)
    if info is None:
        raise JudgeError("the project has no rubric: add one before running a judge")
    return info


def _open_run(project: Project, config: JudgeConfig, style: str, limit: int | None,
              resume: int | str | None, few_shot: Sequence[FewShotExample] = (),
              split: dict[str, Any] | None = None
              ) -> tuple[int, JudgeConfig, str, int | None, tuple[FewShotExample, ...]]:
    style_hash(style)  # an unknown template is refused before anything is written
    if resume is None:
        run = _new_run(project, config, style, limit, status="running", few_shot=few_shot,
                       split=split)
        return run.run_id, config, style, limit, tuple(few_shot)

    def check(run: JudgeRunInfo) -> None:
        if run.model != config.model or run.base_url != public_url(config.base_url):
            raise JudgeError(f"run {run.run_id} used model {run.model!r} at {run.base_url}; "
                             "resume it with the same --model and --base-url", item=str(resume))
        if run.template_hash != style_hash(run.template_key, stored_examples(run.params))[1]:
            raise JudgeError("the prompt templates changed since this run; start a new run",
                             item=str(resume))

    found = resume_run(project, resume, check)
    if found is None:
        raise JudgeError("no such judge run in this project", item=str(resume))
    params = dict(found.params)
    return (found.run_id, config.with_recorded_params(params), found.template_key,
            params.get("limit") if limit is None else limit, stored_examples(params))


def stored_examples(params: dict[str, Any]) -> tuple[FewShotExample, ...]:
    """The few-shot examples a run was started with (``params["few_shot"]``), if any."""
    raw = params.get("few_shot") or []
    if not isinstance(raw, list):
        raise JudgeError("the run's stored few-shot examples are not a list", item="few_shot")
    return tuple(FewShotExample.from_dict(r) for r in raw)


def spool_path(project: Project, run_id: int) -> Path:
    """Where a run keeps the replies it could not save yet (see ``medreview.judge.spool``)."""
    return project.path / f"judge-run-{run_id}.pending.jsonl"


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
    few_shot: Sequence[FewShotExample] = (),
    split: dict[str, Any] | None = None,
) -> JudgeRunSummary:
    """Judge the project's outputs (or resume run ``resume``); see the module doc.

    While another program holds the database's write lock, the run waits (up to
    ``db_wait_s``, default ``DB_WAIT_S``) and says so through ``progress``. A refused redirect
    or a database that stays busy ends the run with a one-line ``JudgeError``; the run is
    left resumable. ``few_shot`` examples (``medreview.judge.fewshot``) go into the prompts
    of a new run and are stored with it (with ``split``, the split they were drawn from).
    """
    token = token or CancelToken()
    require_rubric(project, "a judge run")
    _consent(project, config.base_url, config.api_key_env)  # before anything could be sent
    api_key = None
    if client is None:
        api_key = resolve_api_key(config.base_url, env_var=config.api_key_env,
                                  keyring_service=config.keyring_service)
    busy_wait = DB_WAIT_S if db_wait_s is None else db_wait_s
    run_id, config, style, limit, examples = _retry_busy(
        lambda: _open_run(project, config, style, limit, resume, few_shot, split),
        wait_s=busy_wait, what="opening the judge run", token=token)
    units = plan_work(project, style, limit=limit, images=config.images,
                      max_images=config.max_images, few_shot=examples)
    params = config.recorded_params()
    rater_id, rater_name = run_rater(project, run_id)
    done_keys = done_item_keys(project, run_id)
    stored = run_info(project, run_id)
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
        item = ItemResult(
            output_id=unit.output_id, item_key=unit.task.item_key,
            request_hash=unit.task.request_hash, status=outcome.status, result=outcome.result,
            error=redact(outcome.error, secrets), raw_text=redact(outcome.raw_text, secrets),
            attempts=outcome.attempts, requests=outcome.requests,
            prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens,
            cost_usd=config.estimate_cost(outcome.prompt_tokens, outcome.completion_tokens),
            cached=outcome.cached,
            cache_key=cache_key(unit.task.request_hash, config.model, params))
        record_item(project, run_id, item,
                    dropped_params=dropped if dropped != drops["recorded"] else None,
                    revision_for=(rater_id, rater_name) if remaining[unit.output_id] == 1
                    else None)

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
            response = cached_reply(project, ckey)
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
        ended: Literal["stopped", "cancelled", "completed"] = (
            "stopped" if stop is not None else "completed" if completed else "cancelled")
        closed = close_run(project, run_id, ended=ended, items_total=total)
        return JudgeRunSummary(
            run_id=closed.run_id, run_uid=closed.uid, rater_id=rater_id, rater_name=rater_name,
            status=closed.status, items_total=total, already_done=already,
            judged=counts["judged"], cached=counts["cached"], failed=len(closed.failures),
            requests=counts["requests"], prompt_tokens=counts["pt"],
            completion_tokens=counts["ct"],
            cost_usd=config.estimate_cost(counts["pt"], counts["ct"]),
            failures=closed.failures[:50], dropped_params=closed.dropped_params)

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
    return ConsentState(*consent_of(project))


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


def list_judge_runs(project: Project) -> list[JudgeRunInfo]:
    """Every judge run of the project, newest first."""
    return list_runs(project)


def judge_run_info(project: Project, run_id: int) -> JudgeRunInfo:
    info = run_info(project, run_id)
    if info is None:
        raise JudgeError("no such judge run in this project", item=str(run_id))
    return info


def judge_run_failures(project: Project, run_id: int) -> list[JudgeFailure]:
    """Every failed item of a run with its reason (already redacted when it was stored)."""
    return [JudgeFailure(*row) for row in run_failures(project, run_id)]


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
        run = judge_run_info(project, resume)
        params = dict(run.params)
        config = config.with_recorded_params(params)
        style = run.template_key
        limit = params.get("limit") if limit is None else limit
        done_keys = done_item_keys(project, resume)
    units = plan_work(project, style, limit=limit, images=config.images,
                      max_images=config.max_images)
    params = config.recorded_params()
    todo = [u for u in units if u.key not in done_keys]
    keys = {cache_key(u.task.request_hash, config.model, params): u for u in todo}
    cached = cached_keys(project, keys)
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
    return _new_run(project, config, style, limit, status="created")


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
