"""Assignments as stored: outputs to assign, raters by name, who already has which output.

Reads return plain values. ``write_assignment`` is the one transaction that adds a design's
assignments: the caller's planner runs inside it on the state read there (``BEGIN IMMEDIATE``,
see ``storage/engine.py``), so no other writer can change that state between plan and write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.check_items import not_attention
from medreview.storage.models import AssignmentRow, CaseRow, OutputRow, ProjectRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater, rater_view
from medreview.storage.read_models import RaterView


@dataclass(frozen=True)
class OutputInfo:
    """What assignment needs to know about an output: its case, model and case tags."""

    output_id: int
    case_id: int
    case_external_id: str
    model: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class AssignmentState:
    """What a planner needs: every output and the named raters' assignments so far."""

    outputs: tuple[OutputInfo, ...]
    existing: dict[int, set[str]] = field(default_factory=dict)  # output id -> rater names
    positions: dict[str, int] = field(default_factory=dict)  # rater name -> last position
    known_raters: frozenset[str] = frozenset()  # the names that already had a rater row


@dataclass(frozen=True)
class NewAssignment:
    rater: str
    output_id: int
    position: int
    blind_label: str


def _outputs_info(session: Session) -> list[OutputInfo]:
    rows = session.execute(
        select(OutputRow.id, OutputRow.case_id, CaseRow.external_id, OutputRow.model, CaseRow.tags)
        .join(CaseRow, CaseRow.id == OutputRow.case_id)
        .where(not_attention(session, OutputRow.id))  # attention items are only mixed in
        .order_by(OutputRow.id)
    ).all()
    return [OutputInfo(r[0], r[1], r[2], r[3], tuple(str(t) for t in (r[4] or ()))) for r in rows]


def output_infos(project: Project) -> list[OutputInfo]:
    """Every output of the project with its case and tags, by id."""
    with project.read() as s:
        return _outputs_info(s)


def rater_by_name(session: Session, name: str) -> RaterView:
    row = session.scalars(select(RaterRow).where(RaterRow.name == name.strip())).first()
    if row is None:
        raise InputError("no rater with this name in the project", item=name)
    return rater_view(row)


def find_rater(project: Project, name: str) -> RaterView:
    """The rater called ``name`` (InputError if there is none)."""
    with project.read() as s:
        return rater_by_name(s, name)


def _state(s: Session, ids: Mapping[str, int], known: Iterable[str]) -> AssignmentState:
    by_id = {v: k for k, v in ids.items()}
    existing: dict[int, set[str]] = {}
    positions: dict[str, int] = {}
    for rater_id, output_id, position in s.execute(
        select(AssignmentRow.rater_id, AssignmentRow.output_id, AssignmentRow.position)
        .where(AssignmentRow.rater_id.in_(list(by_id)))
    ):
        name = by_id[rater_id]
        existing.setdefault(output_id, set()).add(name)
        positions[name] = max(positions.get(name, -1), position)
    return AssignmentState(tuple(_outputs_info(s)), existing, positions, frozenset(known))


def assignment_state(project: Project, raters: Sequence[str]) -> AssignmentState:
    """The state ``write_assignment`` would plan on, read without writing (for a preview)."""
    names = [n.strip() for n in raters]
    with project.read() as s:
        ids = {r.name: r.id for r in s.scalars(select(RaterRow).where(RaterRow.name.in_(names)))}
        return _state(s, ids, ids)


def write_assignment(
    project: Project,
    raters: Sequence[str],
    plan: Callable[[AssignmentState], Sequence[NewAssignment]],
    *,
    seed: int,
    design_record: dict[str, Any],
) -> None:
    """In one transaction: create missing physicians, plan on the state, add the planned rows
    (with ``seed``) and append ``design_record`` to the project's study settings."""
    names = [n.strip() for n in raters]
    with project.transaction() as s:
        known = {n for n in names
                 if s.scalar(select(RaterRow.id).where(RaterRow.name == n)) is not None}
        ids = {n: get_or_create_rater(s, n, "physician").id for n in names}
        rows = [{"rater_id": ids[p.rater], "output_id": p.output_id, "position": p.position,
                 "blind_label": p.blind_label, "seed": seed} for p in plan(_state(s, ids, known))]
        if rows:  # one executemany: an ORM object per row took 5 minutes and 3 GB at 1M
            s.execute(insert(AssignmentRow), rows)
        project_row = s.scalars(select(ProjectRow)).one()
        settings = dict(project_row.settings or {})
        study = dict(settings.get("study") or {})
        study["assignments"] = [*study.get("assignments", []), design_record]
        settings["study"] = study
        project_row.settings = settings
