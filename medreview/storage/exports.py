"""What the training exporter reads: cases with their criteria, outputs, rater pseudonyms.

Plain values out (frozen dataclasses, tuples); the gold labels and current revisions come
from ``exporters.gold`` and ``storage.tables``. Read once per export run
(``exporters.loaded``): rows as the driver gives them on SQLite, each column through its
type's processor (``storage.sqlite_values``: the values Core gives, faster); Core elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, select

from medreview.domain.rubric import Question
from medreview.storage.check_items import attention_output_ids, not_attention
from medreview.storage.gold import StoredGold
from medreview.storage.models import (
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project
from medreview.storage.revisions import case_criteria, driver
from medreview.storage.sqlite_values import result_processor


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


def table_rows(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` (table columns only), each value as Core would give it.

    On SQLite the driver's ``fetchall`` (plain tuples), then each column's result processor
    over the whole column (no Row object per row); elsewhere Core."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return [tuple(row) for row in conn.execute(stmt).all()]
    procs = [result_processor(c, dialect) for c in stmt.selected_columns]
    compiled = stmt.compile(dialect=dialect)
    params = tuple(compiled.params[k] for k in compiled.positiontup or ())
    cursor = driver(conn).cursor()
    try:
        raw: list[tuple[Any, ...]] = cursor.execute(str(compiled), params).fetchall()
    finally:
        cursor.close()
    if not raw or all(p is None for p in procs):
        return raw
    columns = [values if proc is None else list(map(proc, values))
               for values, proc in zip(zip(*raw, strict=True), procs, strict=True)]
    return list(zip(*columns, strict=True))


def cases_and_outputs(project: Project) -> tuple[dict[int, ExportCase], dict[int, ExportOutput]]:
    """Every case (by id) and every output (by id, in id order), read in one snapshot.

    Criteria rows with equal values share one question (``revisions.case_criteria``)."""
    with project.read() as s:
        crit = case_criteria(s, None, {})
        conn = s.connection()
        cases = {cid: ExportCase(cid, ext, tuple(dict(m) for m in messages),
                                 tuple(dict(d) for d in context), crit.get(cid, ()))
                 for cid, ext, messages, context in table_rows(conn, select(
                     CaseRow.id, CaseRow.external_id, CaseRow.messages, CaseRow.context))}
        outputs = {oid: ExportOutput(oid, cid, model, text)
                   for oid, cid, model, text in table_rows(conn, select(
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


def current_answers(project: Project) -> list[CurrentAnswer]:
    """Each finished judgment's newest revision, in ``tables.current_revisions``'s order and
    with its rows (same joins and filters), only the columns the training exports use."""
    j, rev, r = JudgmentRow, JudgmentRevisionRow, RaterRow
    with project.read() as s:
        stmt = (select(j.output_id, r.name, r.pseudonym, r.kind, rev.answers, rev.annotations,
                       rev.rationale)
                .select_from(rev)
                .join(j, (j.id == rev.judgment_id) & (j.current_revision_no == rev.revision_no))
                .join(r, r.id == j.rater_id)
                .join(OutputRow, OutputRow.id == j.output_id)
                .join(CaseRow, CaseRow.id == OutputRow.case_id)
                .join(FormRow, FormRow.id == rev.form_id)
                .where(j.status == "done")
                .where(not_attention(s, j.output_id))
                .order_by(j.output_id, r.id))
        return [CurrentAnswer(*row) for row in table_rows(s.connection(), stmt)]


def newest_gold(project: Project) -> dict[int, dict[str, StoredGold]]:
    """``storage.gold.project_gold`` (output -> question -> newest gold label, attention items
    left out), read as plain rows."""
    g = GoldLabelRow
    with project.read() as s:
        attention = attention_output_ids(s)
        rows = table_rows(s.connection(), select(
            g.output_id, g.question_id, g.value, g.provenance, g.revision_no, g.rationale)
            .order_by(g.revision_no))
    latest: dict[tuple[int, str], tuple[Any, ...]] = {}
    for row in rows:
        latest[(row[0], row[1])] = row
    out: dict[int, dict[str, StoredGold]] = {}
    for (oid, qid), row in latest.items():
        if oid not in attention:
            out.setdefault(oid, {})[qid] = StoredGold(*row)
    return out
