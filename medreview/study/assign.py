"""Assignment designs: who rates which output, in which order, under which blinded label.

The planners are pure functions over plain values so that every design rule is tested without
a database: ``plan_assignments`` lists the new assignments, ``plan_design`` adds the totals
(what the assignment dialog previews); ``assign`` runs ``plan_design`` inside the storage
transaction that writes the plan (``storage.assignments.write_assignment``).

Design rules:

* every output is rated by ``per_output`` raters, or — with ``overlap`` — a fraction of the
  outputs (chosen stratified by model and case tag) by ``per_output`` raters and the rest by one;
* load is balanced: each unit goes to the least-loaded raters, first within its stratum (so every
  rater sees a similar mix of models and tags), then overall; ties are broken by the seeded RNG;
* ``case_grouping="together"``: a case's answers go to the same raters and appear consecutively
  (side-by-side reading); ``"apart"``: each answer is its own unit and a rater's order avoids
  two answers of one case in a row where possible;
* each rater's order is shuffled by an RNG seeded from (seed, rater name) and the seed is stored
  on every assignment row; blinded labels ("Response A", ...) come from a seeded per-case shuffle.

Existing assignments are kept: they count towards an output's coverage and new items go after a
rater's existing ones, so running the same design twice adds nothing.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from medreview.domain.consensus import blind_label
from medreview.errors import InputError
from medreview.storage.assignments import (
    AssignmentState,
    NewAssignment,
    OutputInfo,
    write_assignment,
)
from medreview.storage.project import Project

CaseGrouping = Literal["together", "apart"]


@dataclass(frozen=True)
class AssignmentDesign:
    raters: tuple[str, ...]
    per_output: int = 1
    overlap: float | None = None
    seed: int = 0
    case_grouping: CaseGrouping = "apart"
    stratify_by: tuple[str, ...] = ("model", "tag")
    tag_prefix: str = ""  # only tags starting with this define strata ("" = first tag)

    def validate(self) -> None:
        names = [r.strip() for r in self.raters]
        if not names or any(not n for n in names):
            raise InputError("an assignment needs at least one rater name")
        if len(set(names)) != len(names):
            raise InputError("a rater is named twice", item=", ".join(names))
        if self.per_output < 1:
            raise InputError("--per-output must be at least 1")
        if self.per_output > len(names):
            raise InputError(
                f"--per-output {self.per_output} needs at least {self.per_output} raters, "
                f"got {len(names)}"
            )
        if self.overlap is not None:
            if not 0.0 <= self.overlap <= 1.0:
                raise InputError("--overlap must be a fraction between 0 and 1")
            if self.per_output < 2:
                raise InputError("--overlap needs --per-output 2 or more (double or triple rating)")
        if self.case_grouping not in ("together", "apart"):
            raise InputError("case grouping must be 'together' or 'apart'")
        for s in self.stratify_by:
            if s not in ("model", "tag"):
                raise InputError(f"unknown stratum {s!r}; use model and/or tag")

    def to_dict(self) -> dict[str, Any]:
        return {
            "raters": list(self.raters),
            "per_output": self.per_output,
            "overlap": self.overlap,
            "seed": self.seed,
            "case_grouping": self.case_grouping,
            "stratify_by": list(self.stratify_by),
            "tag_prefix": self.tag_prefix,
        }


@dataclass(frozen=True)
class PlannedAssignment:
    rater: str
    output_id: int
    position: int
    blind_label: str


@dataclass(frozen=True)
class AssignmentSummary:
    design: AssignmentDesign
    added: int
    per_rater: dict[str, int] = field(default_factory=dict)  # total items after assignment
    multi_rated_outputs: int = 0
    created_raters: tuple[str, ...] = ()


def _stratum(o: OutputInfo, design: AssignmentDesign) -> tuple[str, ...]:
    key: list[str] = []
    if "model" in design.stratify_by:
        key.append(o.model)
    if "tag" in design.stratify_by:
        tags = [t for t in o.tags if t.startswith(design.tag_prefix)]
        key.append(tags[0] if tags else "")
    return tuple(key)


def _units(outputs: Sequence[OutputInfo], design: AssignmentDesign) -> list[list[OutputInfo]]:
    if design.case_grouping == "apart":
        return [[o] for o in outputs]
    by_case: dict[int, list[OutputInfo]] = defaultdict(list)
    for o in outputs:
        by_case[o.case_id].append(o)
    return [by_case[c] for c in sorted(by_case)]


def _unit_stratum(unit: list[OutputInfo], design: AssignmentDesign) -> tuple[str, ...]:
    # A case's stratum is its tag (and, with models, the sorted model set) — stable and shared.
    strata = sorted({_stratum(o, design) for o in unit})
    return strata[0] if len(strata) == 1 else tuple("|".join(p) for p in zip(*strata, strict=True))


def _choose_overlap(
    units: list[list[OutputInfo]], design: AssignmentDesign, rng: random.Random
) -> set[int]:
    """Indices of the units to multi-rate: round(F x N) overall, allocated to strata fairly."""
    if design.overlap is None:
        return set(range(len(units)))
    by_stratum: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        by_stratum[_unit_stratum(u, design)].append(i)
    total = round(design.overlap * len(units))
    # Largest-remainder apportionment: each stratum gets its share, the total is exact.
    quotas = {k: design.overlap * len(v) for k, v in by_stratum.items()}
    alloc = {k: int(q) for k, q in quotas.items()}
    rest = total - sum(alloc.values())
    order = sorted(quotas, key=lambda k: (-(quotas[k] - alloc[k]), k))
    for k in order[: max(rest, 0)]:
        alloc[k] += 1
    chosen: set[int] = set()
    for k in sorted(by_stratum):
        idx = list(by_stratum[k])
        rng.shuffle(idx)
        chosen.update(idx[: alloc[k]])
    return chosen


def _spread(items: list[OutputInfo], rng: random.Random) -> list[OutputInfo]:
    """Shuffle, then reorder greedily so no two answers of one case are adjacent if possible:
    each step takes, among cases other than the previous one, the case with most items left
    (avoids a tail of one case), ties to the case whose next item comes first in the shuffle;
    a case's items go in shuffled order. A heap with lazily dropped stale entries makes this
    O(n log n) (it was a scan of the whole pool per step: hours at 100,000 items)."""
    pool = list(items)
    rng.shuffle(pool)
    queues: dict[int, deque[int]] = defaultdict(deque)  # case -> shuffled positions left
    for pos, o in enumerate(pool):
        queues[o.case_id].append(pos)
    heap = [(-len(q), q[0], case) for case, q in queues.items()]
    heapq.heapify(heap)

    def current(entry: tuple[int, int, int]) -> bool:
        q = queues[entry[2]]
        return bool(q) and entry[0] == -len(q) and entry[1] == q[0]

    out: list[OutputInfo] = []
    prev: int | None = None
    while heap:
        top = heapq.heappop(heap)
        if not current(top):
            continue
        held: tuple[int, int, int] | None = None
        if top[2] == prev:  # the best case is the previous one: take the next-best if any
            nxt: tuple[int, int, int] | None = None
            while heap:
                cand = heapq.heappop(heap)
                if current(cand):
                    nxt = cand
                    break
            if nxt is not None:
                held, top = top, nxt
            # else only the previous case is left: it must repeat
        q = queues[top[2]]
        out.append(pool[q.popleft()])
        prev = top[2]
        if q:
            heapq.heappush(heap, (-len(q), q[0], top[2]))
        if held is not None:
            heapq.heappush(heap, held)
    return out


def _order(items: list[OutputInfo], design: AssignmentDesign, rater: str) -> list[OutputInfo]:
    rng = random.Random(f"{design.seed}:order:{rater}")
    if design.case_grouping == "together":
        by_case: dict[int, list[OutputInfo]] = defaultdict(list)
        for o in items:
            by_case[o.case_id].append(o)
        cases = sorted(by_case)
        rng.shuffle(cases)
        ordered: list[OutputInfo] = []
        for c in cases:
            group = sorted(by_case[c], key=lambda o: o.output_id)
            rng.shuffle(group)
            ordered.extend(group)
        return ordered
    return _spread(sorted(items, key=lambda o: o.output_id), rng)


def blind_labels(outputs: Sequence[OutputInfo], seed: int) -> dict[int, str]:
    """A seeded per-case shuffle of "Response A", "Response B", ... (no model order leaks)."""
    by_case: dict[int, list[int]] = defaultdict(list)
    for o in outputs:
        by_case[o.case_id].append(o.output_id)
    labels: dict[int, str] = {}
    for case_id, ids in by_case.items():
        ids = sorted(ids)
        random.Random(f"{seed}:labels:{case_id}").shuffle(ids)
        for i, oid in enumerate(ids):
            labels[oid] = blind_label(i)
    return labels


def plan_assignments(
    outputs: Sequence[OutputInfo],
    design: AssignmentDesign,
    existing: dict[int, set[str]] | None = None,
    existing_positions: dict[str, int] | None = None,
) -> list[PlannedAssignment]:
    """The new assignments a design adds, given who already has which output."""
    design.validate()
    existing = existing or {}
    existing_positions = existing_positions or {}
    raters = [r.strip() for r in design.raters]
    rng = random.Random(f"{design.seed}:plan")
    units = _units(sorted(outputs, key=lambda o: o.output_id), design)
    multi = _choose_overlap(units, design, rng)
    load: dict[str, int] = dict.fromkeys(raters, 0)
    stratum_load: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for names in existing.values():
        for n in names:
            if n in load:
                load[n] += 1
    tie = {r: rng.random() for r in raters}
    new_items: dict[str, list[OutputInfo]] = defaultdict(list)
    # Visit strata in turn, units shuffled within each, so balance holds inside every stratum.
    order = list(range(len(units)))
    rng.shuffle(order)
    order.sort(key=lambda i: _unit_stratum(units[i], design))
    for i in order:
        unit = units[i]
        want = design.per_output if i in multi else 1
        stratum = _unit_stratum(unit, design)
        have = set.intersection(*(existing.get(o.output_id, set()) & set(raters) for o in unit))
        need = want - len(have)
        if need <= 0:
            continue
        free = [r for r in raters if r not in have]
        free.sort(key=lambda r: (stratum_load[(stratum, r)], load[r], tie[r]))
        for r in free[:need]:
            for o in unit:
                if r in existing.get(o.output_id, set()):
                    continue
                new_items[r].append(o)
                load[r] += 1
            stratum_load[(stratum, r)] += len(unit)
            tie[r] = rng.random()
    labels = blind_labels(outputs, design.seed)
    planned: list[PlannedAssignment] = []
    for r in raters:
        start = existing_positions.get(r, -1) + 1
        for pos, o in enumerate(_order(new_items[r], design, r), start=start):
            planned.append(PlannedAssignment(r, o.output_id, pos, labels[o.output_id]))
    return planned


@dataclass(frozen=True)
class AssignmentPlan:
    """What a design adds to a project in a given state, and the totals afterwards."""

    planned: tuple[PlannedAssignment, ...]
    summary: AssignmentSummary
    new_per_rater: dict[str, int]
    new_by_model: dict[str, dict[str, int]]  # rater -> model -> new items
    outputs: int


def plan_design(design: AssignmentDesign, state: AssignmentState) -> AssignmentPlan:
    """Plan ``design`` on ``state`` (pure): the one planner of ``assign`` and its preview.

    Only the design's raters' existing assignments count, so the totals are what the project
    holds for them once the plan is written.
    """
    design.validate()
    if not state.outputs:
        raise InputError("the project has no outputs to assign")
    names = [n.strip() for n in design.raters]
    planned = plan_assignments(state.outputs, design, state.existing, state.positions)
    model_of = {o.output_id: o.model for o in state.outputs}
    named = set(names)  # a state may know other raters: they are not this design's
    raters: dict[int, set[str]] = defaultdict(
        set, {k: v & named for k, v in state.existing.items()})
    new: dict[str, int] = dict.fromkeys(names, 0)
    by_model: dict[str, dict[str, int]] = {n: {} for n in names}
    for p in planned:
        raters[p.output_id].add(p.rater)
        new[p.rater] += 1
        m = model_of[p.output_id]
        by_model[p.rater][m] = by_model[p.rater].get(m, 0) + 1
    totals = dict.fromkeys(names, 0)
    for rs in raters.values():
        for r in rs:
            totals[r] += 1
    summary = AssignmentSummary(
        design=design, added=len(planned), per_rater=totals,
        multi_rated_outputs=sum(1 for rs in raters.values() if len(rs) >= 2),
        created_raters=tuple(n for n in names if n not in state.known_raters))
    return AssignmentPlan(tuple(planned), summary, new, by_model, len(state.outputs))


def assign(project: Project, design: AssignmentDesign) -> AssignmentSummary:
    """Create missing raters and the design's assignments; record the design in the project."""
    design.validate()
    plans: list[AssignmentPlan] = []

    def plan(state: AssignmentState) -> list[NewAssignment]:
        plans.append(plan_design(design, state))
        return [NewAssignment(p.rater, p.output_id, p.position, p.blind_label)
                for p in plans[-1].planned]

    write_assignment(project, design.raters, plan, seed=design.seed,
                     design_record=design.to_dict())
    return plans[-1].summary
