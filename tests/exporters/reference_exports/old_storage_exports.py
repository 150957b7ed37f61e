# ruff: noqa  (a verbatim reference: see __init__.py)
"""What the training exporter reads: cases with their criteria, outputs, rater pseudonyms.

Plain values out (frozen dataclasses, tuples); the gold labels and current revisions come
from ``exporters.gold`` and ``storage.tables``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from medreview.domain.rubric import Question, case_criterion_question
from medreview.storage.models import CaseCriterionRow, CaseRow, OutputRow, RaterRow
from medreview.storage.project import Project


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


def cases_and_outputs(project: Project) -> tuple[dict[int, ExportCase], dict[int, ExportOutput]]:
    """Every case (by id) and every output (by id, in id order), read in one snapshot."""
    with project.read() as s:
        crit: dict[int, list[Question]] = defaultdict(list)
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.case_id,
                                                             CaseCriterionRow.position)):
            crit[c.case_id].append(case_criterion_question(c.key, c.text, c.points,
                                                           tuple(c.tags)))
        cases = {c.id: ExportCase(c.id, c.external_id, tuple(dict(m) for m in c.messages),
                                  tuple(dict(d) for d in c.context), tuple(crit[c.id]))
                 for c in s.scalars(select(CaseRow))}
        outputs = {oid: ExportOutput(oid, cid, model, text)
                   for oid, cid, model, text in s.execute(
                       select(OutputRow.id, OutputRow.case_id, OutputRow.model, OutputRow.text)
                       .order_by(OutputRow.id))}
    return cases, outputs


def rater_names(project: Project) -> list[tuple[str, str]]:
    """(name, pseudonym) of every rater, physicians and judges."""
    with project.read() as s:
        return [(name, pseudonym) for name, pseudonym in s.execute(
            select(RaterRow.name, RaterRow.pseudonym))]
