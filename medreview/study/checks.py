"""Hidden gold and attention items mixed into physicians' queues at a set rate (issue #18).

``plan_checks`` is pure (tested without a database); ``mix_checks`` runs it inside the storage
transaction that writes it (``storage.check_items.write_checks``).

Rules:

* the rates are shares of a rater's *untouched* queue after mixing (items they have not opened:
  no judgment yet): with ``m`` ordinary untouched items, ``round(rate x m / (1 - rate -
  attention_rate))`` check items and likewise attention items; hidden items already waiting
  there count, so running the same design twice adds nothing;
* a check item is an output with gold (not an attention item) the rater has neither been
  assigned nor judged; an attention item is an attention output they do not have; both drawn
  by an RNG seeded from (seed, rater);
* each new item goes to a uniformly random slot among the untouched items (the seeded RNG picks
  which of the ``m + k`` slots are the new ones), so a position says nothing about the kind;
* a new item is labelled like every output of its case ("Response A", ... by the seeded
  per-case shuffle of ``assign``) and carries the seed the rater's other items carry.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medreview.errors import InputError
from medreview.storage.assignments import OutputInfo
from medreview.storage.check_items import (
    ATTENTION,
    CHECK,
    CheckState,
    MixedQueue,
    RaterQueue,
    physician_names,
    write_checks,
)
from medreview.storage.project import Project
from medreview.study.assign import blind_labels

MAX_TOTAL_RATE = 0.5  # hidden items beyond half a queue would be the queue


@dataclass(frozen=True)
class CheckDesign:
    rate: float = 0.0  # share of hidden gold (check) items
    attention_rate: float = 0.0
    seed: int = 0
    raters: tuple[str, ...] = ()  # empty: every physician with assignments

    def validate(self) -> None:
        for name, r in (("--rate", self.rate), ("--attention-rate", self.attention_rate)):
            if not math.isfinite(r) or not 0.0 <= r < 1.0:
                raise InputError(f"{name} {r}: a share between 0 and 1", item=name)
        if self.rate + self.attention_rate > MAX_TOTAL_RATE:
            raise InputError(f"--rate plus --attention-rate is {self.rate + self.attention_rate:g}"
                             f"; at most {MAX_TOTAL_RATE:g} of a queue may be hidden items")
        if len({r.strip() for r in self.raters}) != len(self.raters):
            raise InputError("a rater is named twice", item=", ".join(self.raters))

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "attention_rate": self.attention_rate, "seed": self.seed}


@dataclass
class CheckSummary:
    design: CheckDesign
    added: dict[str, dict[str, int]] = field(default_factory=dict)  # rater -> kind -> n
    short: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> missing per rater
    no_queue: tuple[str, ...] = ()  # raters with no untouched item to hide anything among


def _want(rate: float, total_rate: float, ordinary: int) -> int:
    return math.floor(rate * ordinary / (1.0 - total_rate) + 0.5) if rate > 0 else 0


def _seed_of(q: RaterQueue, design: CheckDesign) -> int | None:
    seeds = Counter(sl.seed for sl in q.slots if sl.pending) or Counter(sl.seed for sl in q.slots)
    return seeds.most_common(1)[0][0] if seeds else design.seed


def _labels(state: CheckState, oids: Sequence[int], seed: int | None) -> dict[int, str]:
    """Each output's label among the outputs of its case (attention outputs kept apart, as
    ordinary assignment never sees them)."""
    by_case: dict[int, list[int]] = defaultdict(list)
    for oid, cid in state.case_of.items():
        by_case[cid].append(oid)
    out: dict[int, str] = {}
    for oid in oids:
        cid = state.case_of[oid]
        att = oid in state.attention_outputs
        peers = [o for o in by_case[cid] if (o in state.attention_outputs) == att]
        labels = blind_labels([OutputInfo(o, cid, "", "", ()) for o in peers],
                              0 if seed is None else seed)
        out[oid] = labels[oid]
    return out


def plan_rater(q: RaterQueue, state: CheckState, design: CheckDesign) -> MixedQueue | None:
    """The rater's untouched items with the new hidden items mixed in (None: nothing added)."""
    pending = [sl for sl in q.slots if sl.pending]
    if not pending:
        return None
    rng = random.Random(f"{design.seed}:checks:{q.name}")
    ordinary = sum(1 for sl in pending if sl.output_id not in q.hidden)
    have = {sl.output_id for sl in q.slots} | set(state.judged.get(q.rater_id, frozenset()))
    have |= set(q.hidden)
    total = design.rate + design.attention_rate
    added: dict[int, str] = {}
    for kind, rate, pool in ((CHECK, design.rate, state.gold_outputs),
                             (ATTENTION, design.attention_rate, state.attention_outputs)):
        waiting = sum(1 for sl in pending if q.hidden.get(sl.output_id) == kind)
        need = _want(rate, total, ordinary) - waiting
        if need <= 0:
            continue
        candidates = sorted(pool - have)
        rng.shuffle(candidates)
        for oid in candidates[:need]:
            added[oid] = kind
            have.add(oid)
    if not added:
        return None
    seed = _seed_of(q, design)
    labels = _labels(state, sorted(added), seed)
    new = sorted(added)
    rng.shuffle(new)
    slots = len(pending) + len(new)
    new_at = set(rng.sample(range(slots), len(new)))
    old = iter((sl.output_id, sl.blind_label, sl.seed) for sl in pending)
    fresh = iter((oid, labels[oid], seed) for oid in new)
    order = tuple(next(fresh) if i in new_at else next(old) for i in range(slots))
    return MixedQueue(q.rater_id, order, added)


def plan_checks(state: CheckState, design: CheckDesign) -> list[MixedQueue]:
    design.validate()
    return [m for q in state.queues if (m := plan_rater(q, state, design)) is not None]


def mix_checks(project: Project, design: CheckDesign, *, created_by: str = "") -> CheckSummary:
    """Mix hidden gold and attention items into the named (default: every assigned)
    physicians' queues; record the design under ``project.settings["checks"]``."""
    design.validate()
    names = [r.strip() for r in design.raters] or physician_names(project)
    if not names:
        raise InputError("no physician has assignments yet: run `medreview assign` first")
    summary = CheckSummary(design)
    record = {**design.to_dict(), "reason": _reason(design)}

    def plan(state: CheckState) -> list[MixedQueue]:
        planned = plan_checks(state, design)
        summary.added.clear()
        summary.short.clear()
        by_id = {q.rater_id: q.name for q in state.queues}
        for m in planned:
            counts = Counter(m.added.values())
            summary.added[by_id[m.rater_id]] = dict(sorted(counts.items()))
        record["added"] = sum(len(m.added) for m in planned)
        summary.no_queue = tuple(
            q.name for q in state.queues if not any(sl.pending for sl in q.slots))
        for q in state.queues:
            ordinary = sum(1 for sl in q.slots if sl.pending and sl.output_id not in q.hidden)
            got = summary.added.get(q.name, {})
            for kind, rate in ((CHECK, design.rate), (ATTENTION, design.attention_rate)):
                waiting = sum(1 for sl in q.slots
                              if sl.pending and q.hidden.get(sl.output_id) == kind)
                missing = (_want(rate, design.rate + design.attention_rate, ordinary)
                           - waiting - got.get(kind, 0))
                if missing > 0 and ordinary:
                    summary.short.setdefault(kind, {})[q.name] = missing
        return planned

    write_checks(project, names, plan, created_by=created_by, settings_record=record)
    return summary


def _reason(design: CheckDesign) -> str:
    return f"rate {design.rate:g}, attention rate {design.attention_rate:g}, seed {design.seed}"
