"""The pipelined merge's worker process: a package's rows read, checked and scored, in chunks.

``study.merge_pipeline`` starts this in a "spawn" process (the GIL rules out a thread for this
CPU work) and writes chunk k inside its one transaction while this process reads and checks
chunk k+1. It imports no SQLAlchemy and no ``storage``: a spawned process starts in tens of
milliseconds, not the half second those imports take.

What runs here needs only the package and what the lead's process sent (its forms, the cases'
criteria, the issue record, the outputs chosen for a retest): the checks of ``study.merge._load``
except those that need the project's state (which project judgment a revision uid belongs to),
each revision's score (``storage.revisions.Scorer``'s rule, from the same forms and criteria;
the lead's process verifies inside its transaction that they are still the project's), and the
JSON and timestamp text the revision columns store (what ``storage.sqlite_values`` writes).

Nothing here decides a refusal's wording: whatever the single-process merge would refuse, or
anything this module cannot decide exactly as it would (a value outside the column readers'
fast paths), makes the lead's process roll back and run the single-process merge, which says
why with its usual one line. A revision that fails a check that applies only to a new revision
is sent marked ``refused``: the lead's process knows whether it is new.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from medreview.domain.jsontext import dumps_default
from medreview.domain.package_revision import PackageRevision
from medreview.domain.rubric import case_criterion_question
from medreview.domain.scoring import Score, score_preparer
from medreview.study.merge_revision import RevisionChecks

# storage.revisions.RETEST_SOURCE and storage.retests.KIND (those modules import SQLAlchemy; a
# test checks they agree)
RETEST_SOURCE = "retest"
RETEST_KIND = "retest"
# The storage format of UTC timestamps (storage.sqlite_values._POSITIONAL)
STAMP_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads's own
_UTC = dt.UTC
_datetime = dt.datetime
_fromisoformat = dt.datetime.fromisoformat


class Decline(Exception):
    """This package cannot be decided here exactly as the single-process merge would."""


class Reference(NamedTuple):
    """The lead's forms and its outputs' cases (``storage.merging.MergeReference``)."""

    forms: dict[tuple[str, int], tuple[int, str, Any]]  # (key, version) -> id, sha, Form
    criteria: dict[int, tuple[Any, ...]]  # case id -> its criteria questions
    case_of: dict[int, int]  # output id -> case id


class Issued(NamedTuple):
    """The issue record, as the checks use it."""

    rater_id: int  # in the lead's project
    rater: str
    attachments: dict[int, int]
    outputs: dict[str, tuple[int, str]]  # token -> (our output id, text sha256)


class PackageForm(NamedTuple):
    key: str
    version: int
    kind: str
    sha256: str


class Task(NamedTuple):
    """One package for the worker: its database, what the checks need, the SQL to read it.
    The cases and criteria of its outputs, the outputs chosen for the rater's retest and the
    owners of its uids are read from the lead's database (``_LeadReader``)."""

    at: int  # the package's place in the merge
    db: str
    lead_db: str  # the lead's project database, read as it was before this merge
    schema: str  # the schema revision a package must have (the worker reads no other)
    issued: Issued
    lead_forms: dict[tuple[str, int], tuple[int, str, Any]]  # (key, version) -> id, sha, Form
    now: dt.datetime
    # The reads of outputs, judgments, revisions of some judgments (``{marks}``: their ids) and
    # the count of revisions (storage.merging.package_reads)
    sql: tuple[str, str, str, str]
    chunk: int  # outputs per chunk
    share: tuple[int, int] = (0, 1)  # (w, n): this worker checks chunks w, w + n, w + 2n, ...


# A checked revision, compact for the pipe: (uid, form key, taxonomy key, answers JSON text,
# annotations JSON text, rationale, confidence, score, time on task, flagged, skipped, status,
# author, created-at text, guideline version, retest, held). A revision the project held before
# this merge (by this rater, of this output) is (uid, None, ..., True): only its uid matters.
Record = tuple[Any, ...]
HELD = 16  # the index of the flag


# --- values as the column types read them (storage.sqlite_values' fast paths, or decline) ----


def _json(value: Any) -> Any:
    if value.__class__ is str:
        try:
            parsed, end = _scan(value, 0)
        except Exception:
            raise Decline("JSON text outside the reader's fast path") from None
        if end == len(value):
            return parsed
    raise Decline("JSON value outside the reader's fast path")


def _bool(value: Any) -> Any:
    if value is None:
        return None
    if value.__class__ is int and (value == 0 or value == 1):
        return value == 1
    raise Decline("boolean outside 0 and 1")


def _stamp(value: Any) -> Any:
    if value.__class__ is str and len(value) == 26 and value[10] == " " and value[19] == ".":
        try:
            out = _fromisoformat(value + "+00:00")
        except ValueError:
            raise Decline("timestamp outside the reader's fast path") from None
        if out.tzinfo is _UTC:
            return out
    raise Decline("timestamp outside the reader's fast path")


def _read(con: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
          ) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql, tuple(params)).fetchall()
    return rows


def _revisions(con: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[PackageRevision]:
    raw = _read(con, sql, params)
    if not raw:
        return []
    cols = [list(c) for c in zip(*raw, strict=True)]
    for at, conv in ((5, _json), (6, _json), (11, _bool), (12, _bool), (15, _stamp)):
        cols[at] = list(map(conv, cols[at]))
    new = tuple.__new__
    return [new(PackageRevision, row) for row in zip(*cols, strict=True)]


# --- a package ---------------------------------------------------------------------------------


class _LeadReader:
    """The lead's database, read only, in one read transaction: its state before this merge
    (the lead's process holds the write lock from before the merge read anything, and commits
    only at the end). The same reads as ``storage.merging.read_outputs`` (an output's case,
    a case's criteria as questions: ``storage.revisions.case_criteria``), ``_owners`` and
    ``storage.retests.retest_outputs``, through the driver."""

    def __init__(self, path: str) -> None:
        self.con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        self.con.execute("BEGIN")
        self.case_of: dict[int, int] = {}
        self.criteria: dict[int, tuple[Any, ...]] = {}  # cases with criteria
        self._cases_read: set[int] = set()
        self._questions: dict[tuple[Any, ...], Any] = {}  # by the row's values
        self._shared: dict[tuple[int, ...], tuple[Any, ...]] = {}  # equal criteria: one tuple

    def close(self) -> None:
        self.con.close()

    def _in(self, sql: str, ids: Sequence[Any], *extra: Any) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for at in range(0, len(ids), 500):
            part = list(ids[at:at + 500])
            rows += self.con.execute(sql.replace("{marks}", ",".join("?" * len(part))),
                                     (*extra, *part)).fetchall()
        return rows

    def read_cases(self, outputs: Sequence[int]) -> None:
        new = sorted(o for o in outputs if o not in self.case_of)
        self.case_of.update(self._in("SELECT id, case_id FROM output WHERE id IN ({marks})",
                                     new))
        cases = sorted({self.case_of[o] for o in new if o in self.case_of} - self._cases_read)
        self._cases_read.update(cases)
        found: dict[int, list[Any]] = {}
        seen = self._questions
        for cid, key, text, points, tags in self._in(
                "SELECT case_id, key, text, points, tags FROM case_criterion WHERE case_id IN "
                "({marks}) ORDER BY case_id, position", cases):
            k = (key, text, points, tags)
            q = seen.get(k)
            if q is None:
                q = seen[k] = case_criterion_question(key, text, points, tuple(json.loads(tags)))
            found.setdefault(cid, []).append(q)
        for cid, qs in found.items():
            self.criteria[cid] = self._shared.setdefault(tuple(map(id, qs)), tuple(qs))

    def owners(self, uids: list[Any]) -> dict[Any, tuple[int, int]]:
        """Revision uid -> (rater id, output id) of the judgment holding it (known uids)."""
        return {uid: (rater_id, output_id) for uid, rater_id, output_id in self._in(
            "SELECT r.uid, j.rater_id, j.output_id FROM judgment_revision r JOIN judgment j "
            "ON j.id = r.judgment_id WHERE r.uid IN ({marks})", uids)}

    def retests(self, rater_id: int) -> frozenset[int]:
        return frozenset(int(o) for (o,) in self.con.execute(
            "SELECT output_id FROM study_item WHERE rater_id = ? AND kind = ?",
            (rater_id, RETEST_KIND)))


class _Scores:
    """``storage.revisions.Scorer.prepared`` by form key, from the lead's forms and criteria."""

    def __init__(self, lead: Reference) -> None:
        self.lead = lead
        self._by_form: dict[tuple[str, int], Any] = {}
        self._shared: dict[tuple[Any, ...], Score] = {}

    def prepared(self, form_key: tuple[str, int], ours: int) -> Score:
        found = self._by_form.get(form_key)
        if found is None:
            form = self.lead.forms[form_key][2]
            preparer = score_preparer(form)
            found = self._by_form[form_key] = (preparer, {}) if (
                form.scoring is not None and form.per_case_criteria) else preparer(())
        if not isinstance(found, tuple):
            return found
        preparer, by_case = found
        case = self.lead.case_of.get(ours)
        score = by_case.get(case)
        if score is None:
            questions = self.lead.criteria.get(case, ()) if case is not None else ()
            same = (form_key, *map(id, questions))
            score = self._shared.get(same)
            if score is None:
                score = self._shared[same] = preparer(questions)
            by_case[case] = score
        return score  # type: ignore[no-any-return]


class Outputs(NamedTuple):
    """Sent ahead of package ``at``'s ``Task``, as soon as its issue record is checked: the
    worker reads these outputs' cases and criteria while the lead's process unpacks it."""

    at: int
    lead_db: str
    outputs: list[int]  # our output ids


def package_chunks(task: Task, lead: _LeadReader | None = None,
                   counted: list[tuple[int, int]] | None = None
                   ) -> Iterator[tuple[list[tuple[int, int]], list[Record]]]:
    """The package's revisions checked, by our output id in order, ``task.chunk`` outputs at a
    time: (our output ids with how many records each, the records).

    The revisions are read a chunk at a time (by judgment id, then revision number, as
    ``storage.merging.package_contents`` reads them all), so the first chunk goes out after
    reading one chunk, not the whole package. At the end (revisions read, revisions in the
    package) is appended to ``counted``: every worker's reads add up to the package's."""
    con = sqlite3.connect(f"{Path(task.db).resolve().as_uri()}?mode=ro", uri=True)
    lead = lead or _LeadReader(task.lead_db)
    try:
        yield from _chunks(task, con, lead, [] if counted is None else counted)
    finally:
        con.close()
        lead.close()


def _chunks(task: Task, con: sqlite3.Connection, lead: _LeadReader,
            counted: list[tuple[int, int]]
            ) -> Iterator[tuple[list[tuple[int, int]], list[Record]]]:
    con.execute("BEGIN")  # one snapshot for every read
    # The lead's process opens a copy of this file as the single-process merge opens it (its
    # verdict, and the package's settings and rater checked) while this reads the file as is:
    # the same rows only if opening changes none (a schema at head is not upgraded).
    if _read(con, "SELECT version_num FROM alembic_version") != [(task.schema,)]:
        raise Decline("the package's schema is not this version's")
    raters = _read(con, "SELECT id FROM rater")
    if len(raters) != 1:
        raise Decline("the package does not hold exactly one rater")
    ((rater_id,),) = raters
    forms = {fid: PackageForm(key, version, kind, sha256) for fid, key, version, kind, sha256
             in _read(con, "SELECT id, key, version, kind, sha256 FROM form")}
    outputs = _read(con, task.sql[0])
    judgments = _read(con, task.sql[1])
    issued = task.issued
    token_of: dict[int, str] = {}
    for oid, token, sha in outputs:
        sent = issued.outputs.get(str(token))
        if sent is None or sha != sent[1]:
            raise Decline("an output the package was not sent")
        token_of[oid] = str(token)
    out_map = {pid: issued.outputs[t][0] for pid, t in token_of.items()}
    by_output: dict[int, list[int]] = {}  # our output id -> its judgments, by id
    for jid, judged_by, oid in judgments:
        if judged_by != rater_id or oid not in token_of:
            raise Decline("a judgment of an output not assigned in the package")
        by_output.setdefault(out_map[oid], []).append(jid)
    order = sorted(by_output)
    finished: set[int] = set()
    read = 0
    reference = Reference(task.lead_forms, lead.criteria, lead.case_of)
    checks = RevisionChecks(reference, issued, task.now, out_map)
    scores = _Scores(reference)
    retests = lead.retests(task.issued.rater_id)
    # The first chunk a quarter of the others: the lead's process starts writing sooner.
    first = max(1, task.chunk // 4)
    mine, workers = task.share
    for number, at in enumerate([0, *range(first, len(order), task.chunk)]):
        part = order[at:at + (first if at == 0 else task.chunk)]
        if not part:
            break
        if number % workers != mine:  # another worker's chunk
            continue
        jids = sorted(j for ours in part for j in by_output[ours])
        revs = _revisions(con, task.sql[2].replace("{marks}", ",".join("?" * len(jids))), jids)
        read += len(revs)
        lead.read_cases(part)
        owners = lead.owners([r.uid for r in revs])
        of_judgment: dict[int, list[PackageRevision]] = {}
        last: tuple[int, int] | None = None
        for r in revs:
            key = (r.judgment_id, r.revision_no)
            if last is not None and key <= last:  # a tie: the order would be SQLite's choice
                raise Decline("two revisions with one number")
            last = key
            found = of_judgment.get(r.judgment_id)
            if found is None:
                of_judgment[r.judgment_id] = [r]
            else:
                found.append(r)
        heads: list[tuple[int, int]] = []
        records: list[Record] = []
        for ours in part:
            n = len(records)
            for jid in by_output[ours]:
                for r in of_judgment.get(jid, ()):
                    records.append(_record(task, forms, checks, scores, retests, finished, r,
                                           ours, owners.get(r.uid)))
            if len(records) > n:
                heads.append((ours, len(records) - n))
        yield heads, records
    # Every revision belongs to a judgment of the package's rater: the workers' chunks hold
    # them all (the lead's process adds up what each worker read).
    (total,) = con.execute(task.sql[3]).fetchone()
    counted.append((read, total))


def _record(task: Task, forms: dict[int, PackageForm], checks: RevisionChecks,
            scores: _Scores, retests: frozenset[int],
            finished: set[int], r: PackageRevision, ours: int, owner: tuple[int, int] | None
            ) -> Record:
    """A revision as the lead's process takes it (see ``Record``): ``study.merge._load``'s
    checks, given ``owner``, the (rater, output) of the project's judgment holding its uid."""
    if r.form_id not in forms or (r.taxonomy_id and r.taxonomy_id not in forms):
        raise Decline("a revision names a form the package does not have")
    retest = r.source == RETEST_SOURCE
    if retest and owner is None:
        if ours not in retests or r.judgment_id not in finished:
            raise Decline("a retest not chosen, or before the item was finished")
    elif not retest and r.status == "done":
        finished.add(r.judgment_id)
    if owner is not None:
        if owner != (task.issued.rater_id, ours):
            raise Decline("a revision uid belongs to another judgment")
        return (r.uid, *(None,) * 15, True)
    tax = forms.get(r.taxonomy_id) if r.taxonomy_id else None
    try:
        forms_, annotations, version = checks.check(r, forms[r.form_id], tax, ours)
    except Exception as exc:  # Refused, or what the single-process merge calls unreadable
        raise Decline(f"a revision is refused: {exc}"[:300]) from None
    answers = dict(r.answers)
    try:
        score = scores.prepared(forms_.form_key, ours)(answers, r.status)
    except Exception as exc:  # the single-process merge raises it while writing
        raise Decline(f"scoring failed: {exc!r}"[:200]) from None
    c = r.created_at
    return (r.uid, forms_.form_key, forms_.taxonomy_key,
            dumps_default(answers) if answers else "{}",
            dumps_default(annotations) if annotations else "[]",
            r.rationale, r.confidence, score, r.time_on_task_s, r.flagged, r.skipped,
            r.status, r.author,
            STAMP_FORMAT % (c.year, c.month, c.day, c.hour, c.minute, c.second, c.microsecond),
            version, retest, False)


def serve(tasks: Any, results: Any, credits: Any) -> None:
    """The worker's loop: an ``Outputs`` and a ``Task`` per package from ``tasks`` until None;
    to ``results``,
    ("chunk", index, heads, records) per chunk of its share (one credit each: the lead's
    process gives one back per chunk it took, so at most a few chunks wait in memory), then
    ("done", index, revisions read, revisions in the package), or
    ("decline", index, why) and nothing more of that package."""
    import gc

    gc.disable()  # every row stays alive until its chunk is sent: no cycles to collect
    early: dict[int, _LeadReader] = {}  # by package: cases read ahead of its Task
    while True:
        task = tasks.get()
        if task is None:
            return
        if isinstance(task, Outputs):
            try:
                early[task.at] = reader = _LeadReader(task.lead_db)
                reader.read_cases(sorted(task.outputs))
            except Exception:  # read again with the task (and declined there if it fails)
                early.pop(task.at, None)
            continue
        try:
            counted: list[tuple[int, int]] = []
            for heads, records in package_chunks(task, early.pop(task.at, None), counted):
                credits.acquire()
                results.put(("chunk", task.at, heads, records))
            results.put(("done", task.at, *counted[0]))
        except Decline as exc:
            results.put(("decline", task.at, str(exc)))
        except Exception as exc:  # the lead's process runs the single-process merge
            results.put(("decline", task.at, f"worker: {exc!r}"[:300]))
