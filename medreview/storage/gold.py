"""Gold labels as stored: the one reader of "the newest gold label per output x question"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.storage.check_items import attention_output_ids
from medreview.storage.models import GoldLabelRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.read_models import GoldView


@dataclass(frozen=True)
class StoredGold:
    output_id: int
    question_id: str
    value: Any
    provenance: str
    revision_no: int
    rationale: str


def latest_gold_rows(s: Session) -> dict[tuple[int, str], GoldLabelRow]:
    """(output, question) -> its newest gold-label row (labels are append-only revisions)."""
    latest: dict[tuple[int, str], GoldLabelRow] = {}
    for g in s.scalars(select(GoldLabelRow).order_by(GoldLabelRow.revision_no)):
        latest[(g.output_id, g.question_id)] = g
    return latest


def latest_gold(s: Session) -> dict[int, dict[str, StoredGold]]:
    """Output -> question -> the newest gold label, as plain values."""
    out: dict[int, dict[str, StoredGold]] = {}
    for (oid, qid), g in latest_gold_rows(s).items():
        out.setdefault(oid, {})[qid] = StoredGold(oid, qid, g.value, g.provenance,
                                                  g.revision_no, g.rationale)
    return out


def project_gold(project: Project) -> dict[int, dict[str, StoredGold]]:
    """``latest_gold`` of the whole project's study cases (attention items' expected answers
    left out), read in one transaction."""
    with project.read() as s:
        attention = attention_output_ids(s)
        return {o: g for o, g in latest_gold(s).items() if o not in attention}


_IDS_PER_QUERY = 500  # bound parameters per IN list


def gold_of_outputs(project: Project, output_ids: Iterable[int]
                    ) -> dict[int, dict[str, StoredGold]]:
    """``project_gold`` of ``output_ids`` only: the adjudication queue asks for the few outputs
    it lists, not every label of a project that may hold millions (as ORM rows: 36 s and
    gigabytes at 800,000 labels)."""
    wanted = sorted(set(output_ids))
    g = GoldLabelRow
    out: dict[int, dict[str, StoredGold]] = {}
    with project.read() as s:
        attention = attention_output_ids(s)
        for i in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = [o for o in wanted[i:i + _IDS_PER_QUERY] if o not in attention]
            for oid, qid, value, prov, no, why in s.execute(
                    select(g.output_id, g.question_id, g.value, g.provenance, g.revision_no,
                           g.rationale).where(g.output_id.in_(chunk))
                    .order_by(g.revision_no)):  # the newest revision last: it wins
                out.setdefault(oid, {})[qid] = StoredGold(oid, qid, value, prov, no, why)
    return out


def gold_of_output(project: Project, output_id: int) -> dict[str, GoldView]:
    """Question id -> the output's newest gold label, with its adjudicator's name."""
    with project.read() as s:
        rows = s.execute(
            select(GoldLabelRow, RaterRow.name)
            .outerjoin(RaterRow, RaterRow.id == GoldLabelRow.adjudicator_id)
            .where(GoldLabelRow.output_id == output_id)
            .order_by(GoldLabelRow.revision_no)).all()
        return {g.question_id: GoldView(g.value, g.provenance, g.revision_no, g.rationale,
                                        name, g.created_at) for g, name in rows}
