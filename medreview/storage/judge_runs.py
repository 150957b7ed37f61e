"""Judge runs in the database: the run and its rater, the item ledger, the reply cache.

A run is a ``judge_run`` row plus a rater of kind ``judge``. Its ledger (``judge_item``) holds
one row per (output, item key): done with the parsed result, or failed with the reason and the
raw reply. ``record_item`` writes one item per transaction (with the run's usage, the cache
entry and, when the output's last item arrives, the judge's revision), so a killed run loses
nothing that finished. ``judge_cache`` keeps parsed replies by sha256(prompt, model, params).

Everything returned is a plain value; the use-case (``services/judging.py``) decides what to
ask and when, this module only reads and writes. How the ledger of an output becomes a
judgment revision is ``judge_revision_content`` (documented in ``services/judging.py``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question, case_criterion_question
from medreview.errors import JudgeError, ProjectError
from medreview.storage.base import utcnow
from medreview.storage.check_items import not_attention
from medreview.storage.form_lookup import StoredForm, active_form_ids_in, active_forms_in
from medreview.storage.models import (
    AttachmentRow,
    CaseRow,
    JudgeCacheRow,
    JudgeItemRow,
    JudgeRunRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision

CACHE_CHUNK = 500  # keys per IN list: SQLite's bound-parameter limit stays far away


# --- Runs as plain values ---------------------------------------------------------------------


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
    template_hash: str = ""  # of the prompt templates the run was started with

    @property
    def resumable(self) -> bool:
        return self.status != "done"

    @property
    def limit(self) -> int | None:
        value = self.params.get("limit")
        return int(value) if value is not None else None


def _info(s: Session, run: JudgeRunRow) -> JudgeRunInfo:
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
        judged_outputs=judged, template_hash=run.template_hash)


def list_runs(project: Project) -> list[JudgeRunInfo]:
    """Every judge run of the project, newest first."""
    with project.read() as s:
        runs = s.scalars(select(JudgeRunRow).order_by(JudgeRunRow.id.desc())).all()
        return [_info(s, r) for r in runs]


def run_info(project: Project, run_id: int) -> JudgeRunInfo | None:
    with project.read() as s:
        run = s.get(JudgeRunRow, run_id)
        return _info(s, run) if run is not None else None


def run_failures(project: Project, run_id: int) -> list[tuple[int, str, str, str, int]]:
    """(output id, case external id, item key, reason, attempts) of every failed item, in
    queue order."""
    with project.read() as s:
        rows = s.execute(
            select(JudgeItemRow.output_id, CaseRow.external_id, JudgeItemRow.item_key,
                   JudgeItemRow.error, JudgeItemRow.attempts)
            .join(OutputRow, OutputRow.id == JudgeItemRow.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .where(JudgeItemRow.run_id == run_id, JudgeItemRow.status == "failed")
            .order_by(OutputRow.case_id, JudgeItemRow.output_id, JudgeItemRow.item_key)).all()
        return [(int(o), str(c), str(k), e or "", int(a or 0)) for o, c, k, e, a in rows]


def consent_of(project: Project) -> tuple[bool, str | None, dt.datetime | None]:
    """(data may leave this machine, by whom, when), as recorded on the project."""
    with project.read() as s:
        row = s.scalars(select(ProjectRow)).first()
        if row is None:  # no project row: nothing was ever consented to
            return False, None, None
        return bool(row.data_may_leave), row.consent_by, row.consent_at


# --- What a run is asked about ----------------------------------------------------------------


@dataclass(frozen=True)
class PlanCase:
    """A case as the judge sees it: stored messages and context documents, its criteria and
    (when asked for) its first images as (mime, sha256 in the media store)."""

    id: int
    messages: tuple[dict[str, Any], ...]
    context: tuple[dict[str, Any], ...]
    criteria: tuple[Question, ...]
    images: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PlanInputs:
    rubric: StoredForm | None
    taxonomy: StoredForm | None
    outputs: tuple[tuple[int, int, str], ...]  # every (output id, case id, text), case order
    cases: dict[int, PlanCase]  # the cases of the first ``limit`` outputs


def plan_inputs(project: Project, *, limit: int | None = None,
                image_mimes: Sequence[str] = (), max_images: int = 0) -> PlanInputs:
    """The active forms, every output in queue order and the cases a plan needs, read in one
    snapshot. Images only of ``image_mimes`` kinds, at most ``max_images`` per case."""
    with project.read() as s:
        rubric, taxonomy = active_forms_in(s)
        outputs = tuple((int(o), int(c), str(t)) for o, c, t in s.execute(
            select(OutputRow.id, OutputRow.case_id, OutputRow.text)
            .where(not_attention(s, OutputRow.id))  # attention items are not study cases
            .order_by(OutputRow.case_id, OutputRow.id)))
        wanted = outputs if limit is None else outputs[: max(0, limit)]
        cases: dict[int, PlanCase] = {}
        for _oid, cid, _text in wanted:
            if cid in cases:
                continue
            case = s.get(CaseRow, cid)
            assert case is not None  # output.case_id is a foreign key
            images: tuple[tuple[str, str], ...] = ()
            if image_mimes and max_images > 0:
                images = tuple((str(m), str(h)) for m, h in s.execute(
                    select(AttachmentRow.mime, AttachmentRow.sha256).where(
                        AttachmentRow.case_id == cid, AttachmentRow.kind == "image",
                        AttachmentRow.mime.in_(list(image_mimes)))
                    .order_by(AttachmentRow.sort_index, AttachmentRow.id).limit(max_images)))
            cases[cid] = PlanCase(
                cid, tuple(dict(m) for m in case.messages), tuple(dict(d) for d in case.context),
                tuple(case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
                      for c in case.criteria), images)
        return PlanInputs(rubric, taxonomy, outputs, cases)


# --- Opening and closing a run -----------------------------------------------------------------


def judge_rater_name(model: str, run_id: int, uid: str) -> str:
    """The name of a run's rater: unique per run, readable in tables."""
    return f"judge {model} #{run_id} ({uid[:8]})"


def create_run(project: Project, *, model: str, base_url: str, template_key: str,
               template_version: int, template_hash: str, params: dict[str, Any],
               images: bool, status: str = "running") -> JudgeRunInfo | None:
    """A new run under the active rubric, with its judge rater, in one transaction.

    None (and nothing written) when the project has no active rubric.
    """
    with project.transaction() as s:
        form_id, _taxonomy = active_form_ids_in(s)
        if form_id is None:
            return None
        run = JudgeRunRow(uid=str(uuid.uuid4()), model=model, base_url=base_url,
                          template_key=template_key, template_version=template_version,
                          template_hash=template_hash, form_id=form_id, params=params,
                          status=status, images_enabled=images)
        s.add(run)
        s.flush()
        get_or_create_rater(s, judge_rater_name(model, run.id, run.uid), "judge",
                            judge_run_id=run.id)
        s.flush()
        return _info(s, run)


def resume_run(project: Project, ref: int | str,
               check: Callable[[JudgeRunInfo], None]) -> JudgeRunInfo | None:
    """Find run ``ref`` (an id, or the start of a uid), let ``check`` refuse it (by raising;
    nothing is written then), and mark it running. None when there is no such run.

    Digits name an id first, then a uid start (a hex uid may begin with digits); a uid start
    several runs share picks the oldest of them, on every backend (an explicit order: a
    PostgreSQL heap keeps no insertion order)."""
    with project.transaction() as s:
        run = s.get(JudgeRunRow, int(ref)) if str(ref).isdigit() else None
        if run is None and isinstance(ref, str):
            run = s.scalars(select(JudgeRunRow).where(JudgeRunRow.uid.startswith(ref))
                            .order_by(JudgeRunRow.id).limit(1)).first()
        if run is None:
            return None
        check(_info(s, run))
        run.status = "running"
        s.flush()
        return _info(s, run)


def run_rater(project: Project, run_id: int) -> tuple[int, str]:
    """(rater id, rater name) of a run."""
    with project.read() as s:
        row = s.execute(select(RaterRow.id, RaterRow.name).where(
            RaterRow.judge_run_id == run_id)).first()
        if row is None:
            raise ProjectError(f"judge run {run_id} has no rater")
        return int(row[0]), str(row[1])


def done_item_keys(project: Project, run_id: int) -> set[tuple[int, str]]:
    """(output id, item key) of every ledger item of the run that is done."""
    with project.read() as s:
        return {(int(o), str(k)) for o, k in s.execute(select(
            JudgeItemRow.output_id, JudgeItemRow.item_key).where(
            JudgeItemRow.run_id == run_id, JudgeItemRow.status == "done"))}


@dataclass(frozen=True)
class ClosedRun:
    run_id: int
    uid: str
    status: str
    failures: tuple[tuple[int, str, str], ...]  # (output id, item key, reason), every one
    dropped_params: tuple[str, ...]


def close_run(project: Project, run_id: int, *,
              ended: Literal["stopped", "cancelled", "completed"],
              items_total: int) -> ClosedRun:
    """Record how an invocation of the run ended, in one transaction.

    ``stopped`` (a refused redirect, a busy database): ``incomplete``, resumable;
    ``cancelled``: ``cancelled``; ``completed``: ``done`` when all ``items_total`` items of
    the plan are done and none failed (then ``finished_at`` is set), else ``incomplete``.
    """
    with project.transaction() as s:
        run = s.get(JudgeRunRow, run_id)
        if run is None:
            raise ProjectError(f"judge run {run_id} is not in this project")
        failed = tuple((int(o), str(k), e or "") for o, k, e in s.execute(
            select(JudgeItemRow.output_id, JudgeItemRow.item_key, JudgeItemRow.error).where(
                JudgeItemRow.run_id == run_id, JudgeItemRow.status == "failed")))
        n_done = int(s.scalar(select(func.count()).select_from(JudgeItemRow).where(
            JudgeItemRow.run_id == run_id, JudgeItemRow.status == "done")) or 0)
        run.n_failed = len(failed)
        if ended == "stopped":
            run.status = "incomplete"
        elif ended == "cancelled":
            run.status = "cancelled"
        else:
            run.status = "done" if n_done == items_total and not failed else "incomplete"
            run.finished_at = utcnow()
        return ClosedRun(run.id, run.uid, run.status, failed,
                         tuple(str(p) for p in run.params.get("dropped_params", ())))


# --- The ledger and the cache ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    """One finished work item, as the ledger stores it (secrets already redacted)."""

    output_id: int
    item_key: str
    request_hash: str
    status: str  # done | failed
    result: dict[str, Any]
    error: str = ""
    raw_text: str = ""
    attempts: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False  # answered from the cache: counted, not cached again
    cache_key: str = ""  # where a done reply is cached


@dataclass(frozen=True)
class LedgerEntry:
    item_key: str
    status: str
    result: dict[str, Any]


def judge_revision_content(entries: Sequence[LedgerEntry]) -> RevisionContent | None:
    """The judge's revision of an output from its ledger entries (None: nothing answered).

    Answers hold only the answers; each answered question gets an annotation with the
    judge's explanation, confidence and its source and item key; the rationale has one
    ``<question id>: <explanation>`` line per explained answer; the confidence is the mean
    of the per-question confidences; ``done`` only when every entry is done.
    """
    answers: dict[str, Any] = {}
    notes: list[dict[str, Any]] = []
    lines: list[str] = []
    confidences: list[float] = []
    for entry in entries:
        if entry.status != "done":
            continue
        res = entry.result
        for qid, value in res.get("answers", {}).items():
            answers[qid] = value
            expl = str(res.get("explanations", {}).get(qid, ""))
            conf = res.get("confidence", {}).get(qid)
            if conf is not None:
                confidences.append(float(conf))
            notes.append({"question_id": qid, "note": expl, "judge": {
                "confidence": conf, "confidence_source": res.get("confidence_source", {}).get(qid),
                "item_key": entry.item_key}})
            if expl:
                lines.append(f"{qid}: {expl}")
    if not answers:
        return None
    complete = all(e.status == "done" for e in entries)
    return RevisionContent(answers=answers, annotations=notes, rationale="\n".join(lines),
                           confidence=round(fmean(confidences), 6) if confidences else None,
                           status="done" if complete else "draft")


def _write_judge_revision(s: Session, run: JudgeRunRow, rater_id: int, rater_name: str,
                          output_id: int) -> None:
    entries = [LedgerEntry(r.item_key, r.status, dict(r.result or {})) for r in s.scalars(
        select(JudgeItemRow).where(JudgeItemRow.run_id == run.id,
                                   JudgeItemRow.output_id == output_id)
        .order_by(JudgeItemRow.id))]
    content = judge_revision_content(entries)
    if content is None:
        return
    rubric_id, taxonomy_id = active_form_ids_in(s)
    form_id = run.form_id if run.form_id is not None else rubric_id
    if form_id is None:
        raise JudgeError("the project has no rubric: add one before running a judge")
    append_revision(s, rater_id=rater_id, output_id=output_id, content=content,
                    form_id=form_id, taxonomy_id=taxonomy_id, author=rater_name,
                    source="judge", dedupe=True)


def record_item(project: Project, run_id: int, item: ItemResult, *,
                dropped_params: tuple[str, ...] | None = None,
                revision_for: tuple[int, str] | None = None) -> None:
    """Store one finished item in one transaction: its ledger row (attempts add up), the run's
    usage, a new cache entry for a done reply, the request parameters the endpoint refused
    (``dropped_params``, when they changed) and, with ``revision_for`` = (rater id, rater
    name), the judge's revision of the item's output (its last item has arrived)."""
    with project.transaction() as s:
        run = s.get(JudgeRunRow, run_id)
        if run is None:
            raise ProjectError(f"judge run {run_id} is not in this project")
        row = s.scalars(select(JudgeItemRow).where(
            JudgeItemRow.run_id == run_id, JudgeItemRow.output_id == item.output_id,
            JudgeItemRow.item_key == item.item_key)).first()
        if row is None:
            row = JudgeItemRow(run_id=run_id, output_id=item.output_id,
                               item_key=item.item_key, attempts=0)
            s.add(row)
        row.request_hash = item.request_hash
        row.status = item.status
        row.error = item.error
        row.raw_text = item.raw_text
        row.result = item.result
        row.attempts = (row.attempts or 0) + item.attempts
        run.n_requests += item.requests
        run.prompt_tokens += item.prompt_tokens
        run.completion_tokens += item.completion_tokens
        run.cost_usd += item.cost_usd
        if dropped_params is not None:  # kept in the run's JSON parameters
            run.params = {**dict(run.params), "dropped_params": list(dropped_params)}
        if item.cached:
            run.n_cached += 1
        elif item.status == "done" and s.get(JudgeCacheRow, item.cache_key) is None:
            s.add(JudgeCacheRow(key=item.cache_key, response=item.result))
        s.flush()
        if revision_for is not None:
            _write_judge_revision(s, run, revision_for[0], revision_for[1], item.output_id)


def cached_reply(project: Project, key: str) -> dict[str, Any] | None:
    """The parsed reply cached under ``key``, or None."""
    with project.read() as s:
        hit = s.get(JudgeCacheRow, key)
        return dict(hit.response) if hit is not None else None


def cached_keys(project: Project, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that have a cached reply."""
    key_list = list(keys)
    found: set[str] = set()
    with project.read() as s:
        for i in range(0, len(key_list), CACHE_CHUNK):
            chunk = key_list[i:i + CACHE_CHUNK]
            found.update(s.scalars(select(JudgeCacheRow.key).where(JudgeCacheRow.key.in_(chunk))))
    return found
