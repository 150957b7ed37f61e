"""Gold labels as adjudication writes them: append-only revisions per output x question.

Reads of "the newest gold label" live in ``storage/gold.py``; this module adds revisions
(numbered inside the write transaction, like judgment revisions) and reads the newest labels
for a project as plain values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.gold import StoredGold
from medreview.storage.models import GoldLabelRow, OutputRow
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater

_INSERT_BATCH = 50_000  # new gold labels per executemany


class NewGold(NamedTuple):
    """A gold label to add where an item has none yet (no adjudicator: derived from ratings).
    A named tuple: auto gold makes one per item, millions (a frozen dataclass costs 3x)."""

    output_id: int
    question_id: str
    value: Any
    provenance: str
    rationale: str = ""


def _append(s: Session, output_id: int, question_id: str, value: Any, provenance: str,
            rationale: str, adjudicator_id: int | None) -> StoredGold:
    # Numbered from the rows inside the write transaction (BEGIN IMMEDIATE): no other writer
    # can add a revision of this label between this read and the insert.
    n = s.scalar(select(func.max(GoldLabelRow.revision_no)).where(
        GoldLabelRow.output_id == output_id, GoldLabelRow.question_id == question_id)) or 0
    row = GoldLabelRow(uid=uuid.uuid4().hex, output_id=output_id, question_id=question_id,
                       value=value, provenance=provenance, rationale=rationale,
                       adjudicator_id=adjudicator_id, revision_no=n + 1)
    s.add(row)
    s.flush()
    return StoredGold(output_id, question_id, row.value, provenance, row.revision_no, rationale)


def append_gold(project: Project, output_id: int, question_id: str, value: Any, *,
                provenance: str, rationale: str = "", adjudicator: str | None = None
                ) -> StoredGold:
    """Append a gold-label revision; ``adjudicator`` (a physician, created if new) is marked
    as an adjudicator. InputError if the output does not exist."""
    with project.transaction() as s:
        if s.get(OutputRow, output_id) is None:
            raise InputError("no such output in this project", item=str(output_id))
        adj_id = None
        if adjudicator:
            rater = get_or_create_rater(s, adjudicator, "physician")
            rater.is_adjudicator = True
            adj_id = rater.id
        return _append(s, output_id, question_id, value, provenance, rationale, adj_id)


def add_missing_gold(
    project: Project,
    decide: Callable[[frozenset[tuple[int, str]]], Iterable[NewGold]],
) -> list[StoredGold]:
    """In one transaction: ``decide`` gets the (output, question) items that have a gold label
    now and returns labels to add; an item that already has one is never given another."""
    with project.transaction() as s:
        # Every item holding any gold revision (its pairs only: no row object per label).
        have = frozenset((int(oid), str(qid)) for oid, qid in s.execute(
            select(GoldLabelRow.output_id, GoldLabelRow.question_id).distinct()))
        added: list[StoredGold] = []
        taken = set(have)
        rows: list[dict[str, Any]] = []
        for g in decide(have):
            if (g.output_id, g.question_id) in taken:
                continue
            taken.add((g.output_id, g.question_id))
            # An item with no revision yet: its first (``_append``'s numbering gives 1 too).
            rows.append({"uid": uuid.uuid4().hex, "output_id": g.output_id,
                         "question_id": g.question_id, "value": g.value,
                         "provenance": g.provenance, "rationale": g.rationale,
                         "adjudicator_id": None, "revision_no": 1})
            added.append(StoredGold(g.output_id, g.question_id, g.value, g.provenance, 1,
                                    g.rationale))
            if len(rows) >= _INSERT_BATCH:
                s.execute(insert(GoldLabelRow), rows)
                rows = []
        if rows:  # (one executemany per batch: a flush per label took ~1 ms, 15 min at 100k)
            s.execute(insert(GoldLabelRow), rows)
        return added
