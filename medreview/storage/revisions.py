"""Append-only judgment revisions: the one way a judgment's content changes.

``append_revision`` is also where a revision's overall score is decided: every writer
(grading, imports, the LLM judge, merged rater packages, undo) goes through it, and it scores
the answers with ``domain.scoring.judgment_score`` under the form the revision records, so a
caller's ``overall_score`` (a stale draft, a forged package) is never stored.

Writers of thousands of revisions at once (a merged package) use the bulk path instead:
``Scorer`` scores by the same rule with forms and case criteria read once, and
``insert_judgments`` / ``insert_revisions`` / ``update_judgment_mirrors`` write with one
executemany each (SQLAlchemy Core, no ORM flush per row). The caller numbers the revisions
from rows it read inside the same write transaction, as ``append_revision`` does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form, Question, case_criterion_question
from medreview.domain.scoring import Score, judgment_score, score_preparer
from medreview.storage.base import utcnow
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    CaseCriterionRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
)
from medreview.storage.sqlite_values import insert_columns as sqlite_insert_columns

RETEST_SOURCE = "retest"  # a blind re-rating (storage/retests.py, storage/rater_quality.py)


_FRESH: Any = object()  # "not given": a new empty dict / list, as a default_factory makes


@dataclass(frozen=True, init=False)
class RevisionContent:
    answers: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    rationale: str = ""
    confidence: float | None = None
    overall_score: float | None = None
    time_on_task_s: float = 0.0
    flagged: bool = False
    skipped: bool = False
    status: str = "draft"  # draft | done | skipped

    def __init__(self, answers: dict[str, Any] = _FRESH,
                 annotations: list[dict[str, Any]] = _FRESH, rationale: str = "",
                 confidence: float | None = None, overall_score: float | None = None,
                 time_on_task_s: float = 0.0, flagged: bool = False, skipped: bool = False,
                 status: str = "draft") -> None:
        """The generated frozen ``__init__``, without its ``object.__setattr__`` per field: a
        merge makes one per revision and that call cost twice this one (the same instance:
        fields, equality, hash, ``replace``; tests/storage/test_revision_content.py)."""
        d = self.__dict__
        d["answers"] = {} if answers is _FRESH else answers
        d["annotations"] = [] if annotations is _FRESH else annotations
        d["rationale"] = rationale
        d["confidence"] = confidence
        d["overall_score"] = overall_score
        d["time_on_task_s"] = time_on_task_s
        d["flagged"] = flagged
        d["skipped"] = skipped
        d["status"] = status

    def fingerprint(self) -> str:
        """What makes two revisions "the same judgment" (time on task excluded)."""
        payload = {
            "answers": self.answers,
            "annotations": self.annotations,
            "rationale": self.rationale,
            "confidence": self.confidence,
            "flagged": self.flagged,
            "skipped": self.skipped,
            "status": self.status,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def content_of(row: JudgmentRevisionRow) -> RevisionContent:
    return RevisionContent(
        answers=dict(row.answers),
        annotations=list(row.annotations),
        rationale=row.rationale,
        confidence=row.confidence,
        overall_score=row.overall_score,
        time_on_task_s=row.time_on_task_s,
        flagged=row.flagged,
        skipped=row.skipped,
        status=row.status,
    )


def latest_revision(session: Session, judgment_id: int) -> JudgmentRevisionRow | None:
    return session.scalars(
        select(JudgmentRevisionRow)
        .where(JudgmentRevisionRow.judgment_id == judgment_id)
        .order_by(JudgmentRevisionRow.revision_no.desc())
    ).first()


def get_or_create_judgment(session: Session, rater_id: int, output_id: int) -> JudgmentRow:
    row = session.scalars(
        select(JudgmentRow)
        .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id)
        .execution_options(populate_existing=True)  # a long-lived session may hold a stale copy
    ).first()
    if row is None:
        row = JudgmentRow(
            rater_id=rater_id, output_id=output_id, status="draft", current_revision_no=0
        )
        session.add(row)
        session.flush()
    return row


def _form(session: Session, form_id: int) -> Form | None:
    """The parsed form of ``form_id``, parsed once per session (imports write thousands)."""
    row = session.get(FormRow, form_id)
    if row is None:
        return None
    cache: dict[tuple[int, str], Form] = session.info.setdefault("medreview.forms", {})
    key = (row.id, row.sha256)  # a form without judgments may be replaced in place
    if key not in cache:
        cache[key] = form_from_row(row)
    return cache[key]


def case_questions_of(session: Session, output_id: int) -> tuple[Question, ...]:
    """The per-case criteria of the output's case, as questions, in their order."""
    rows = session.scalars(
        select(CaseCriterionRow)
        .join(OutputRow, OutputRow.case_id == CaseCriterionRow.case_id)
        .where(OutputRow.id == output_id)
        .order_by(CaseCriterionRow.position)
    )
    return tuple(case_criterion_question(c.key, c.text, c.points, tuple(c.tags)) for c in rows)


def score_of(
    session: Session, *, form_id: int, output_id: int, answers: Mapping[str, Any], status: str
) -> float | None:
    """The overall score of answers to ``output_id`` under form ``form_id`` (the core's rule)."""
    form = _form(session, form_id)
    if form is None or form.scoring is None:
        return None
    cases = case_questions_of(session, output_id) if form.per_case_criteria else ()
    return judgment_score(form, answers, cases, status=status)


def append_revision(
    session: Session,
    *,
    rater_id: int,
    output_id: int,
    content: RevisionContent,
    form_id: int,
    taxonomy_id: int | None,
    author: str,
    source: str,
    dedupe: bool = False,
    uid: str | None = None,
    guideline_version: int | None = None,
) -> JudgmentRevisionRow | None:
    """Add a revision; with ``dedupe`` an identical newest revision means nothing is added.

    The stored ``overall_score`` is computed here from the answers and the form (see the module
    docstring); ``content.overall_score`` is ignored.
    """
    judgment = get_or_create_judgment(session, rater_id, output_id)
    if (
        uid is not None
        and session.scalar(select(JudgmentRevisionRow.id).where(JudgmentRevisionRow.uid == uid))
        is not None
    ):
        return None
    if dedupe:
        latest = latest_revision(session, judgment.id)
        if latest is not None and content_of(latest).fingerprint() == content.fingerprint():
            return None
    # Numbered from the rows themselves, inside the write transaction (BEGIN IMMEDIATE, see
    # storage/engine.py): no other writer can add a revision between this read and the insert.
    last = session.scalar(
        select(func.max(JudgmentRevisionRow.revision_no)).where(
            JudgmentRevisionRow.judgment_id == judgment.id
        )
    )
    revision_no = max(int(last or 0), judgment.current_revision_no) + 1
    content = replace(content, overall_score=score_of(
        session, form_id=form_id, output_id=output_id, answers=content.answers,
        status=content.status))
    row = JudgmentRevisionRow(
        uid=uid or uuid.uuid4().hex,
        judgment_id=judgment.id,
        revision_no=revision_no,
        form_id=form_id,
        taxonomy_id=taxonomy_id,
        answers=content.answers,
        annotations=content.annotations,
        rationale=content.rationale,
        confidence=content.confidence,
        overall_score=content.overall_score,
        time_on_task_s=content.time_on_task_s,
        flagged=content.flagged,
        skipped=content.skipped,
        status=content.status,
        author=author,
        source=source,
        guideline_version=guideline_version,
    )
    session.add(row)
    # A retest answer never becomes the rater's study answer: the judgment's mirror stays on
    # the answer before it (storage/retests.py; only the test-retest statistics read it).
    if source != RETEST_SOURCE or not judgment.current_revision_no:
        judgment.current_revision_no = revision_no
        judgment.status = content.status
        judgment.flagged = content.flagged
    judgment.updated_at = utcnow()
    session.flush()
    return row


# --- the bulk path: many revisions, one statement per table ----------------------------------

_IN_CHUNK = 500  # ids per IN (...) list: well below every dialect's limit of bound parameters
_JUDGMENT = cast(Table, JudgmentRow.__table__)
_REVISION = cast(Table, JudgmentRevisionRow.__table__)


class Scorer:
    """``score_of`` for many revisions of ``output_ids``: forms and case criteria read once,
    and ``judgment_score`` prepared once per (form, case) (``domain.scoring.prepared_score``).

    The rule and its inputs are ``score_of``'s, so a bulk writer stores exactly the score
    ``append_revision`` would have stored. ``cache`` (see ``case_criteria``) lets the criteria
    rows this session reads share questions with an earlier read of the same merge;
    ``case_of`` (output id -> case id, read by the caller in this session) saves reading it.
    """

    def __init__(self, session: Session, output_ids: Collection[int],
                 cache: CriterionCache | None = None, *,
                 case_of: Mapping[int, int] | None = None) -> None:
        self._session = session
        self._outputs = output_ids
        self._cache = cache
        self._case_of = case_of
        # form id -> its prepared score, or (per-case criteria) its preparer and, by case id,
        # the prepared scores made so far
        self._by_form: dict[int, Score | tuple[Callable[[Sequence[Question]], Score],
                                                 dict[int | None, Score]]] = {}
        self._criteria: dict[int, tuple[Question, ...]] | None = None
        self._shared: dict[tuple[int, ...], Score] = {}

    def prepared(self, form_id: int, output_id: int) -> Score:
        """The score of answers to ``output_id`` under ``form_id``, as ``(answers, status)``."""
        found = self._by_form.get(form_id)
        if found is None:
            form = _form(self._session, form_id)
            preparer = score_preparer(form)
            found = self._by_form[form_id] = (preparer, {}) if form is not None and (
                form.scoring is not None and form.per_case_criteria) else preparer(())
        if not isinstance(found, tuple):
            return found
        preparer, by_case = found
        case = (self._case_of if self._case_of is not None else self.case_of).get(output_id)
        score = by_case.get(case)
        if score is None:
            if self._criteria is None:
                self._criteria = case_criteria(self._session, set(self.case_of.values()),
                                               self._cache)
            questions = self._criteria.get(case, ()) if case is not None else ()
            # Cases whose criteria rows are the same (the same question objects, see
            # case_criteria) share one prepared score; self._criteria keeps them alive.
            same = (form_id, *map(id, questions))
            score = self._shared.get(same)
            if score is None:
                score = self._shared[same] = preparer(questions)
            by_case[case] = score
        return score

    def score(self, form_id: int, output_id: int, answers: Mapping[str, Any],
              status: str) -> float | None:
        return self.prepared(form_id, output_id)(answers, status)

    @property
    def case_of(self) -> Mapping[int, int]:
        if self._case_of is None:
            self._case_of = outputs_case(self._session, self._outputs)
        return self._case_of


def outputs_case(session: Session, output_ids: Collection[int]) -> dict[int, int]:
    """Output id -> case id, for the outputs that exist."""
    ids = sorted(set(output_ids))
    conn = session.connection()
    case_of: dict[int, int] = {}
    for at in range(0, len(ids), _IN_CHUNK):
        part = ids[at:at + _IN_CHUNK]
        if conn.dialect.name == "sqlite":  # plain integers: no result processing needed
            case_of.update(conn.exec_driver_sql(
                f"SELECT id, case_id FROM output WHERE id IN ({','.join('?' * len(part))})",
                tuple(part)).all())
        else:
            case_of.update(session.execute(select(OutputRow.id, OutputRow.case_id)
                                           .where(OutputRow.id.in_(part))).all())
    return case_of


# Criterion question by its row's (key, text, points, tags as stored): one merge reads the
# same criteria twice (for the checks, then inside the write transaction to score).
CriterionCache = dict[tuple[Any, ...], Question]
CRITERION_CACHE = "medreview.criteria"  # a session.info key: the merge's CriterionCache


def case_criteria(session: Session, case_ids: Collection[int] | None,
                  cache: CriterionCache | None = None) -> dict[int, tuple[Question, ...]]:
    """Case id -> its per-case criteria as questions, in their order (every case: None).

    A row already seen (``cache``, keyed by the row's values) reuses its question: no
    question built twice, and on SQLite (rows read as the driver gives them) no JSON parsed
    twice. Other dialects read through Core.
    """
    c = CaseCriterionRow
    conn = session.connection()
    ids = None if case_ids is None else sorted(case_ids)
    parts = [None] if ids is None else [ids[at:at + _IN_CHUNK]
                                        for at in range(0, len(ids), _IN_CHUNK)]
    questions: dict[int, list[Question]] = {}
    seen = cache if cache is not None else {}
    if conn.dialect.name == "sqlite":
        cursor = driver(conn).cursor()
        try:
            for part in parts:
                where = "" if part is None else \
                    f"WHERE case_id IN ({','.join('?' * len(part))}) "
                for cid, key, text, points, tags in cursor.execute(
                        "SELECT case_id, key, text, points, tags FROM case_criterion "
                        f"{where}ORDER BY case_id, position", tuple(part or ())).fetchall():
                    k = (key, text, points, tags)
                    q = seen.get(k)
                    if q is None:  # the JSON column's text, parsed as its type would
                        q = seen[k] = case_criterion_question(key, text, points,
                                                              tuple(json.loads(tags)))
                    found = questions.get(cid)
                    if found is None:
                        questions[cid] = [q]
                    else:
                        found.append(q)
        finally:
            cursor.close()
        return {cid: tuple(qs) for cid, qs in questions.items()}
    for part in parts:
        stmt = select(c.case_id, c.key, c.text, c.points, c.tags).order_by(c.case_id, c.position)
        for cid, key, text, points, tags in session.execute(
                stmt if part is None else stmt.where(c.case_id.in_(part))).all():
            k = (key, text, points, repr(tags))  # JSON values: equal reprs, equal values
            q = seen.get(k)
            if q is None:
                q = seen[k] = case_criterion_question(key, text, points, tuple(tags))
            questions.setdefault(cid, []).append(q)
    return {cid: tuple(qs) for cid, qs in questions.items()}


def driver(conn: Connection) -> Any:
    """The DBAPI connection under ``conn`` (in its transaction): plain tuples, no Row objects,
    for reads of many rows whose values need no conversion or are converted column by column."""
    return conn.connection.driver_connection


def insert_judgments(session: Session, rater_id: int, rows: Sequence[tuple[int, int, str, bool]],
                     now: dt.datetime) -> dict[int, int]:
    """Insert the rater's judgments (output id, current revision no, status, flagged), in
    order; return output id -> judgment id."""
    if not rows:
        return {}
    # Inside the write transaction nobody else inserts: the new rows are those past the
    # highest id before, read back with one query.
    before = session.scalar(select(func.max(JudgmentRow.id))) or 0
    n = len(rows)
    oids, nos, statuses, flags = (list(c) for c in zip(*rows, strict=True))
    insert_columns(session, _JUDGMENT, ("rater_id", "output_id", "status", "flagged",
                                        "current_revision_no", "created_at", "updated_at"),
                   [[rater_id] * n, oids, statuses, flags, nos, [now] * n, [now] * n])
    wanted = set(oids)
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # SQLite numbers a row without an explicit id max(id) + 1: n rows past ``before``
        # whose highest is ``before + n`` are ours, numbered in insertion order.
        count, top = conn.exec_driver_sql("SELECT count(*), max(id) FROM judgment WHERE id > ?",
                                          (before,)).one()
        if count == n == len(wanted) and top == before + n:
            return dict(zip(oids, range(before + 1, before + n + 1), strict=True))
    read = session.execute(select(JudgmentRow.output_id, JudgmentRow.id).where(
        JudgmentRow.id > before, JudgmentRow.rater_id == rater_id)).all()
    ids = {oid: jid for oid, jid in read if oid in wanted}
    if len(ids) != len(wanted):
        raise RuntimeError("judgments inserted by the bulk path were not read back")
    return ids


REVISION_KEYS = ("uid", "judgment_id", "revision_no", "form_id", "taxonomy_id", "answers",
                 "annotations", "rationale", "confidence", "overall_score", "time_on_task_s",
                 "flagged", "skipped", "status", "author", "source", "created_at",
                 "guideline_version")


def insert_revisions(session: Session, columns: Sequence[list[Any]]) -> None:
    """Insert revision rows given column by column, in ``REVISION_KEYS`` order (the stored
    ``overall_score`` is the caller's ``Scorer`` value), with one executemany."""
    if columns and columns[0]:
        insert_columns(session, _REVISION, REVISION_KEYS, columns)


def insert_columns(session: Session, table: Table, keys: tuple[str, ...],
                   columns: Sequence[list[Any]]) -> None:
    """``INSERT`` rows given column by column (``columns[i]`` holds every row's ``keys[i]``)
    with one executemany.

    On SQLite the statement is compiled once and each column goes through its type's
    processor in a C loop (``storage.sqlite_values``): SQLAlchemy's per-row parameter
    assembly would otherwise cost more than SQLite's insert itself. Other dialects take
    SQLAlchemy's executemany.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        sqlite_insert_columns(conn, table, keys, columns)
        return
    conn.execute(insert(table), [dict(zip(keys, row, strict=True))
                                 for row in zip(*columns, strict=True)])


def update_judgment_mirrors(session: Session, rows: Sequence[tuple[int, int, str, bool]],
                            now: dt.datetime) -> None:
    """Set (judgment id, current revision no, status, flagged) as ``append_revision`` does."""
    if not rows:
        return
    table = _JUDGMENT
    session.connection().execute(
        update(table).where(table.c.id == bindparam("jid")).values(
            current_revision_no=bindparam("no"), status=bindparam("st"),
            flagged=bindparam("fl"), updated_at=bindparam("at")),
        [{"jid": jid, "no": no, "st": status, "fl": flagged, "at": now}
         for jid, no, status, flagged in rows])


@contextlib.contextmanager
def page_cache(session: Session, kib: int) -> Iterator[None]:
    """SQLite's page cache of the session's connection at least ``kib`` KiB for one bulk
    write, then as it was (other dialects: nothing). A bigger cache keeps the pages of
    indexes with random keys (revision uids) in memory instead of reading them again."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    cursor = driver(conn).cursor()
    try:
        (before,) = cursor.execute("PRAGMA cache_size").fetchone()
        # Negative: a size in KiB; positive: in pages (of page_size bytes).
        if before >= 0:
            (page,) = cursor.execute("PRAGMA page_size").fetchone()
            have = before * page // 1024
        else:
            have = -before
        if have < kib:
            cursor.execute(f"PRAGMA cache_size = {-int(kib)}")
        try:
            yield
        finally:
            if have < kib:
                cursor.execute(f"PRAGMA cache_size = {int(before)}")
    finally:
        cursor.close()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one bulk step.

    A bulk read or write allocates a few containers per row (parsed answers, parameter
    dicts) and makes no cycles; with every row alive, each full collection scans them all
    again, a third of a merge's CPU time at 10k revisions. Refcounting still frees what it
    can; the collector runs again as soon as the step ends (if it was on when it began).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
