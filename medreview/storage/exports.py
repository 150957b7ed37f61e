"""What the exports read: the tables' and histories' rows, and for the training kinds the
gold labels by output and windows of outputs, cases, answers and rationales.

Plain values out (frozen dataclasses, tuples), a batch at a time (``exporters.table_stream``
and ``exporters.loaded`` write as they read), through ``storage.table_read.column_batches``:
on SQLite the driver's rows, each column through its type's processor (the values Core gives,
faster); Core elsewhere, on a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from medreview.domain.rubric import Question
from medreview.storage.check_items import attention_output_ids, not_attention
from medreview.storage.models import (
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project
from medreview.storage.revisions import case_criteria
from medreview.storage.table_read import column_batches, column_rows


@dataclass(frozen=True)
class ExportCase:
    id: int
    external_id: str
    messages: tuple[dict[str, Any], ...]  # as stored: {"role", "content"}
    context: tuple[dict[str, Any], ...]  # as stored: {"kind", "title", "text", ...}
    criteria: tuple[Question, ...]  # per-case criteria, in their order


@dataclass(frozen=True)
class ExportOutput:
    id: int
    case_id: int
    model: str
    text: str


def _rows(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return column_rows(conn, stmt)


def cases_and_outputs(project: Project) -> tuple[dict[int, ExportCase], dict[int, ExportOutput]]:
    """Every case (by id) and every output (by id, in id order), read in one snapshot.

    Criteria rows with equal values share one question (``revisions.case_criteria``)."""
    with project.read() as s:
        crit = case_criteria(s, None, {})
        conn = s.connection()
        cases = {cid: ExportCase(cid, ext, tuple(dict(m) for m in messages),
                                 tuple(dict(d) for d in context), crit.get(cid, ()))
                 for cid, ext, messages, context in _rows(conn, select(
                     CaseRow.id, CaseRow.external_id, CaseRow.messages, CaseRow.context))}
        outputs = {oid: ExportOutput(oid, cid, model, text)
                   for oid, cid, model, text in _rows(conn, select(
                       OutputRow.id, OutputRow.case_id, OutputRow.model, OutputRow.text)
                       .order_by(OutputRow.id))}
    return cases, outputs


def rater_names(project: Project) -> list[tuple[str, str]]:
    """(name, pseudonym) of every rater, physicians and judges."""
    with project.read() as s:
        return [(name, pseudonym) for name, pseudonym in s.execute(
            select(RaterRow.name, RaterRow.pseudonym))]


class CurrentAnswer(NamedTuple):
    """What the training exports read of a finished judgment's newest revision (a named
    tuple: one per judgment, a million at 1M)."""

    output_id: int
    rater: str
    rater_pseudonym: str
    rater_kind: str
    answers: dict[str, Any]
    annotations: list[Any]
    rationale: str

    def as_revision(self) -> dict[str, Any]:
        """The keys of ``tables.current_revisions`` that ``domain.consensus`` reads."""
        return {"output_id": self.output_id, "rater": self.rater,
                "rater_pseudonym": self.rater_pseudonym, "rater_kind": self.rater_kind,
                "answers": self.answers, "annotations": self.annotations}


def _current(s: Session | None, stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """``stmt`` over finished judgments' newest revisions: ``tables.current_revisions``'
    joins, filters and order (``s`` None: attention items left in, for the caller to leave
    out: the filter is a scan of every gold label, each time)."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    stmt = (stmt.select_from(rev)
            .join(j, (j.id == rev.judgment_id) & (j.current_revision_no == rev.revision_no))
            .join(r, r.id == j.rater_id)
            .join(OutputRow, OutputRow.id == j.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .join(FormRow, FormRow.id == rev.form_id)
            .where(j.status == "done")
            .order_by(j.output_id, r.id))
    return stmt if s is None else stmt.where(not_attention(s, j.output_id))


def current_answers(project: Project) -> list[CurrentAnswer]:
    """Each finished judgment's newest revision, in ``tables.current_revisions``'s order and
    with its rows (same joins and filters), only the columns the training exports use."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    out: list[CurrentAnswer] = []
    with project.read() as s:
        for batch in _batches(s.connection(), _current(s, select(
                j.output_id, r.name, r.pseudonym, r.kind, rev.answers, rev.annotations,
                rev.rationale))):
            out += map(CurrentAnswer._make, batch)
    return out


class GoldLabel(NamedTuple):
    """``storage.gold.StoredGold``'s fields as a named tuple (eight per output at 1M outputs:
    a dataclass each cost three times the memory and time)."""

    output_id: int
    question_id: str
    value: Any
    provenance: str
    revision_no: int
    rationale: str


BATCH = 50_000  # rows per fetch of ``_batches``


def _batches(conn: Connection, stmt: Select[*tuple[Any, ...]]
             ) -> Iterator[list[tuple[Any, ...]]]:
    """``table_read.column_batches`` of ``BATCH`` rows (read at each call: tests make it
    small): on SQLite the driver's ``fetchmany``, each column through its processor, so that
    a million rows are never held twice; other dialects through Core, on a server-side
    cursor (``stream_results``: a client-side one holds the whole result)."""
    return column_batches(conn, stmt.execution_options(stream_results=True), BATCH)


def first_rationales(project: Project) -> dict[int, str]:
    """Output -> the first physician's non-empty rationale among the finished judgments'
    newest revisions, in ``tables.current_revisions``' order (no answers parsed)."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    out: dict[int, str] = {}
    with project.read() as s:
        for batch in _batches(s.connection(), _current(s, select(j.output_id, rev.rationale))
                              .where(r.kind == "physician")):
            for oid, rationale in batch:
                if rationale and oid not in out:
                    out[oid] = rationale
    return out


# The tables export's columns: ``storage.tables``' cases, criteria, outputs and gold tables
# (a frame of these tuples infers each column's dtype as one of dicts does).

CASE_COLUMNS = ("case_id", "case_external_id", "title", "messages", "context", "tags",
                "reference_answer", "n_criteria", "metadata", "source")
CRITERION_COLUMNS = ("case_id", "case_external_id", "question_id", "criterion", "points",
                     "tags", "position")
OUTPUT_COLUMNS = ("output_id", "case_id", "case_external_id", "output_external_id", "model",
                  "text", "metadata", "source")
GOLD_COLUMNS = ("output_id", "question_id", "value", "provenance", "rationale")


# The audit export's rows: ``storage.audit``'s judgment and gold histories (whole project),
# the same values in the same order, as tuples in the order of these columns.

JUDGMENT_HISTORY_COLUMNS = (
    "uid", "output_id", "case_external_id", "model", "rater", "revision_no", "is_current",
    "created_at", "author", "source", "status", "answers", "annotations", "rationale",
    "confidence", "flagged", "form_key", "form_version", "guideline_version",
    "taxonomy_guideline_version")
GOLD_HISTORY_COLUMNS = ("uid", "output_id", "question_id", "revision_no", "value", "provenance",
                        "rationale", "adjudicator", "created_at")


# The same tables a batch of rows at a time (``exporters.table_stream`` writes each as it
# comes): the rows, values and order of the frames and histories above, never all at once.

RowBatches = Iterator[list[tuple[Any, ...]]]


def case_batches(project: Project) -> RowBatches:
    """``storage.tables.cases_table``'s rows (``CASE_COLUMNS``); the criteria counted by SQL."""
    c, k = CaseRow, CaseCriterionRow
    with project.read() as s:
        conn = s.connection()
        n_crit = dict(_rows(conn, select(k.case_id, func.count()).group_by(k.case_id)))
        for batch in _batches(conn, select(
                c.id, c.external_id, c.title, c.messages, c.context, c.tags,
                c.reference_answer, c.meta, c.source).order_by(c.id)):
            yield [(cid, ext, title, messages, context, tags, ref, n_crit.get(cid, 0), meta,
                    source)
                   for cid, ext, title, messages, context, tags, ref, meta, source in batch]


def criteria_batches(project: Project) -> RowBatches:
    """``storage.tables.criteria_table``'s rows (``CRITERION_COLUMNS``)."""
    c = CaseCriterionRow
    with project.read() as s:
        for batch in _batches(s.connection(), select(
                CaseRow.id, CaseRow.external_id, c.key, c.text, c.points, c.tags, c.position)
                .join(CaseRow, CaseRow.id == c.case_id).order_by(CaseRow.id, c.position)):
            yield [(cid, ext, f"criterion:{key}", text, points, tags, position)
                   for cid, ext, key, text, points, tags, position in batch]


def output_batches(project: Project) -> RowBatches:
    """``storage.tables.outputs_table``'s rows (``OUTPUT_COLUMNS``; attention items left out)."""
    o = OutputRow
    with project.read() as s:
        yield from _batches(s.connection(), select(
            o.id, o.case_id, CaseRow.external_id, o.external_id, o.model, o.text, o.meta,
            o.source).join(CaseRow, CaseRow.id == o.case_id)
            .where(not_attention(s, o.id)).order_by(o.id))


def gold_batches(project: Project) -> RowBatches:
    """``storage.tables.gold_table``'s rows (``GOLD_COLUMNS``): each output x question's
    newest label, in the order its first revision comes in ``ORDER BY revision_no`` (ties in
    the table's order: SQLite's sort keeps them so). Read as the first revision of each
    label joined to the newest: one row per label, none held until its last revision comes.

    Other dialects: every label at once, as ``gold_table`` (PostgreSQL's sort leaves ties in
    an order of its own, which no other query gives: the order the table had there)."""
    g = GoldLabelRow
    if project.engine.dialect.name != "sqlite":
        with project.read() as s:
            latest: dict[tuple[int, str], tuple[Any, ...]] = {}
            for row in _rows(s.connection(), select(
                    g.output_id, g.question_id, g.value, g.provenance, g.rationale)
                    .order_by(g.revision_no).where(not_attention(s, g.output_id))):
                latest[(row[0], row[1])] = row
        rows = list(latest.values())
        del latest
        for at in range(0, len(rows), BATCH):
            yield rows[at:at + BATCH]
        return
    first, last = aliased(GoldLabelRow), aliased(GoldLabelRow)
    lo = (select(g.output_id, g.question_id, func.min(g.revision_no).label("lo"),
                 func.max(g.revision_no).label("hi"))
          .group_by(g.output_id, g.question_id).subquery())
    with project.read() as s:
        stmt = (select(last.output_id, last.question_id, last.value, last.provenance,
                       last.rationale)
                .select_from(lo)
                .join(first, (first.output_id == lo.c.output_id)
                      & (first.question_id == lo.c.question_id)
                      & (first.revision_no == lo.c.lo))
                .join(last, (last.output_id == lo.c.output_id)
                      & (last.question_id == lo.c.question_id)
                      & (last.revision_no == lo.c.hi))
                .where(not_attention(s, lo.c.output_id))
                .order_by(first.revision_no, first.id))
        yield from _batches(s.connection(), stmt)


def judgment_history_batches(project: Project, *, pseudonymise: bool = False) -> RowBatches:
    """``storage.audit.judgment_history(project, pseudonymise=...)`` as tuples (in the order
    of ``JUDGMENT_HISTORY_COLUMNS``), a batch at a time."""
    from medreview.domain.guideline_versions import shown_versions

    v, j, r = JudgmentRevisionRow, JudgmentRow, RaterRow
    shown: dict[Any, tuple[Any, Any]] = {}  # few distinct guideline versions
    with project.read() as s:
        for batch in _batches(s.connection(), select(
                v.uid, OutputRow.id, CaseRow.external_id, OutputRow.model, r.name,
                r.pseudonym, v.revision_no, j.current_revision_no, v.created_at, v.author,
                v.source, v.status, v.answers, v.annotations, v.rationale, v.confidence,
                v.flagged, FormRow.key, FormRow.version, v.guideline_version)
                .select_from(v)
                .join(j, j.id == v.judgment_id)
                .join(r, r.id == j.rater_id)
                .join(OutputRow, OutputRow.id == j.output_id)
                .join(CaseRow, CaseRow.id == OutputRow.case_id)
                .join(FormRow, FormRow.id == v.form_id)
                .order_by(j.output_id, r.id, v.revision_no)):
            out = []
            for (uid, oid, case_ext, model, name, pseudonym, no, current, at, author, source,
                 status, answers, marks, rationale, confidence, flagged, form_key,
                 form_version, guideline) in batch:
                if pseudonymise and author == name:
                    author = pseudonym
                versions = shown.get(guideline)
                if versions is None:
                    versions = shown[guideline] = shown_versions(guideline)
                out.append((uid, oid, case_ext, model, pseudonym if pseudonymise else name, no,
                            no == current, at, author, source, status, answers, marks,
                            rationale, confidence, flagged, form_key, form_version,
                            versions[0], versions[1]))
            yield out


def gold_history_batches(project: Project, *, pseudonymise: bool = False) -> RowBatches:
    """``storage.audit.gold_history(project, pseudonymise=...)`` as tuples (in the order of
    ``GOLD_HISTORY_COLUMNS``), a batch at a time."""
    g = GoldLabelRow
    with project.read() as s:
        raters = {rid: pseudonym if pseudonymise else name for rid, name, pseudonym in _rows(
            s.connection(), select(RaterRow.id, RaterRow.name, RaterRow.pseudonym))}
        for batch in _batches(s.connection(), select(
                g.uid, g.output_id, g.question_id, g.revision_no, g.value, g.provenance,
                g.rationale, g.adjudicator_id, g.created_at)
                .order_by(g.output_id, g.question_id, g.revision_no)):
            yield [(uid, oid, qid, no, value, provenance, rationale,
                    raters.get(adj) if adj else None, at)
                   for uid, oid, qid, no, value, provenance, rationale, adj, at in batch]


JUDGMENT_COLUMNS = ("output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
                    "question_id", "value", "confidence", "rationale", "status", "revision_no",
                    "form_key", "form_version")  # ``ratings_read.COLUMNS``


def judgment_batches(project: Project, *, pseudonymise: bool = False, rows: int = 100_000
                     ) -> RowBatches:
    """``tables.ratings_long(keep_not_assessed=True)``'s rows (finished judgments; one per
    answer, ``JUDGMENT_COLUMNS``) as tuples, about ``rows`` at a time and never splitting an
    output's rows (the export labels cannot-assess judgments per output and rater). The same
    reading as ``ratings_read`` (its checks of hostile values, its order, the rubric score
    as question ``score``, the per-question confidences), one answer per tuple."""
    from medreview.storage.rating_columns import SCORE_QUESTION_ID
    from medreview.storage.ratings_read import checked_confidences, unreadable_answers

    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    nan = float("nan")
    out: list[tuple[Any, ...]] = []
    last = None
    with project.read() as s:
        stmt = _current(s, select(
            j.output_id, OutputRow.case_id, CaseRow.external_id, OutputRow.model,
            r.pseudonym if pseudonymise else r.name, r.kind, rev.answers, rev.annotations,
            rev.confidence, rev.overall_score, rev.rationale, j.status, rev.revision_no,
            FormRow.key, FormRow.version))
        for batch in _batches(s.connection(), stmt):
            for (oid, cid, ext, model, rater, kind, answers, annotations, conf, score, why,
                 status, no, fkey, fver) in batch:
                if type(answers) is not dict:  # a hostile file: one line naming the judgment
                    raise unreadable_answers(project, oid, rater, answers)
                if score is not None:
                    answers = dict(answers)
                    answers[SCORE_QUESTION_ID] = score
                if not answers:
                    continue
                if oid != last and len(out) >= rows:
                    yield out
                    out = []
                last = oid
                per_question = None
                if annotations or (conf is not None and type(conf) is not float):
                    conf, per_question = checked_confidences(project, oid, rater, conf,
                                                             annotations)
                c = nan if conf is None else float(conf)
                if per_question:
                    out += [(oid, cid, ext, model, rater, kind, q, v,
                             _as_float(per_question.get(q, conf)), why, status, no, fkey,
                             fver) for q, v in answers.items()]
                else:
                    out += [(oid, cid, ext, model, rater, kind, q, v, c, why, status, no, fkey,
                             fver) for q, v in answers.items()]
    if out:
        yield out


def _as_float(value: Any) -> float:
    return float(value) if value is not None else float("nan")


# The training exports a window of outputs at a time (in id order): never every output's
# text, gold labels, answers and rationales at once.

def gold_by_output(project: Project) -> Iterator[tuple[int, dict[str, GoldLabel]]]:
    """``storage.gold.project_gold``'s entries (output -> question -> the newest gold label,
    attention items left out) one output at a time, in output id order: the same labels,
    each output's questions in the order of their first revision (``ORDER BY revision_no``,
    ties in the table's order, as there). Read in the unique index's order (no sort of every
    label), each output's few rows put in that order."""
    g = GoldLabelRow
    names: dict[str, str] = {}
    with project.read() as s:
        attention = attention_output_ids(s)
        current = -1  # (no output's id)
        rows: list[tuple[Any, ...]] = []
        for batch in _batches(s.connection(), select(
                g.output_id, g.revision_no, g.id, g.question_id, g.value, g.provenance,
                g.rationale).order_by(g.output_id, g.question_id, g.revision_no)):
            for row in batch:
                oid = row[0]
                if oid != current:
                    if rows:
                        yield current, _labels(rows, names)
                    current, rows = oid, []
                if oid not in attention:
                    rows.append(row)
            if len(names) > 65_536:
                names.clear()
        if rows:
            yield current, _labels(rows, names)


_REVISION_ORDER = itemgetter(1, 2)  # (revision_no, id)


def _labels(rows: list[tuple[Any, ...]], names: dict[str, str]) -> dict[str, GoldLabel]:
    """One output's labels by question (the newest revision), in first-revision order."""
    rows.sort(key=_REVISION_ORDER)
    labels: dict[str, GoldLabel] = {}
    for oid, no, _id, qid, value, provenance, rationale in rows:
        qid = names.setdefault(qid, qid)
        labels[qid] = GoldLabel(oid, qid, value, names.setdefault(provenance, provenance), no,
                                rationale)
    return labels


def output_window(project: Project, first_id: int, size: int
                  ) -> tuple[dict[int, ExportOutput], dict[int, ExportCase]]:
    """The ``size`` outputs from id ``first_id`` on (id order) and their cases (with their
    criteria), as ``cases_and_outputs`` reads them."""
    o, c = OutputRow, CaseRow
    with project.read() as s:
        conn = s.connection()
        outputs = {oid: ExportOutput(oid, cid, model, text)
                   for oid, cid, model, text in _rows(conn, select(
                       o.id, o.case_id, o.model, o.text).where(o.id >= first_id)
                       .order_by(o.id).limit(size))}
        ids = sorted({out.case_id for out in outputs.values()})
        crit = case_criteria(s, ids, {})
        cases: dict[int, ExportCase] = {}
        for at in range(0, len(ids), 500):
            for cid, ext, messages, context in _rows(conn, select(
                    c.id, c.external_id, c.messages, c.context).where(
                    _in(c.id, ids[at:at + 500]))):
                cases[cid] = ExportCase(cid, ext, tuple(dict(m) for m in messages),
                                        tuple(dict(d) for d in context), crit.get(cid, ()))
    return outputs, cases


def _in(column: Any, ids: list[int]) -> Any:
    """``column IN (ids)`` with the ids written in the SQL (our own integer keys): a
    statement without list parameters, which ``table_read`` reads as the driver's rows."""
    return column.in_([literal_column(str(int(i))) for i in ids])


def _between(column: Any, lo: int, hi: int | None) -> Any:
    return column >= lo if hi is None else column.between(lo, hi)


def window_answers(project: Project, lo: int, hi: int | None,
                   attention: frozenset[int]) -> list[CurrentAnswer]:
    """``current_answers`` of the outputs ``lo`` to ``hi`` (None: every later one), the
    ``attention`` items left out here (not by SQL: each window would scan the gold labels)."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    out: list[CurrentAnswer] = []
    with project.read() as s:
        for batch in _batches(s.connection(), _current(None, select(
                j.output_id, r.name, r.pseudonym, r.kind, rev.answers, rev.annotations,
                rev.rationale)).where(_between(j.output_id, lo, hi))):
            out += (CurrentAnswer._make(row) for row in batch if row[0] not in attention)
    return out


def window_rationales(project: Project, lo: int, hi: int | None,
                      attention: frozenset[int]) -> dict[int, str]:
    """``first_rationales`` of the outputs ``lo`` to ``hi`` (None: every later one), the
    ``attention`` items left out."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    out: dict[int, str] = {}
    with project.read() as s:
        for batch in _batches(s.connection(), _current(None, select(j.output_id,
                                                                    rev.rationale))
                              .where(r.kind == "physician", _between(j.output_id, lo, hi))):
            for oid, rationale in batch:
                if rationale and oid not in out and oid not in attention:
                    out[oid] = rationale
    return out


def output_cases(project: Project) -> dict[int, int]:
    """Output id -> its case id, every output, in id order (no text: a million outputs)."""
    with project.read() as s:
        out: dict[int, int] = {}
        for batch in _batches(s.connection(), select(OutputRow.id, OutputRow.case_id)
                              .order_by(OutputRow.id)):
            out.update(batch)
        return out


def outputs_and_cases(project: Project, output_ids: Iterable[int], case_ids: Iterable[int]
                      ) -> tuple[dict[int, ExportOutput], dict[int, ExportCase]]:
    """The outputs and cases of these ids (``cases_and_outputs``' values; cases without
    their criteria, which preference pairs do not show)."""
    o, c = OutputRow, CaseRow
    oids, cids = sorted(set(output_ids)), sorted(set(case_ids))
    outputs: dict[int, ExportOutput] = {}
    cases: dict[int, ExportCase] = {}
    with project.read() as s:
        conn = s.connection()
        for at in range(0, len(oids), 500):
            for oid, cid, model, text in _rows(conn, select(
                    o.id, o.case_id, o.model, o.text).where(_in(o.id, oids[at:at + 500]))):
                outputs[oid] = ExportOutput(oid, cid, model, text)
        for at in range(0, len(cids), 500):
            for cid, ext, messages, context in _rows(conn, select(
                    c.id, c.external_id, c.messages, c.context).where(
                    _in(c.id, cids[at:at + 500]))):
                cases[cid] = ExportCase(cid, ext, tuple(dict(m) for m in messages),
                                        tuple(dict(d) for d in context), ())
    return outputs, cases


def has_case_criteria(project: Project) -> bool:
    """Whether any case has a per-case criterion."""
    with project.read() as s:
        return s.execute(select(CaseCriterionRow.id).join(
            CaseRow, CaseRow.id == CaseCriterionRow.case_id).limit(1)).first() is not None
