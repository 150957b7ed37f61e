"""Leases of open items: who has which output open, until when, by the database's clock.

A rater who opens an item takes a lease (``item_lease``); it is renewed while they work and
deleted when they submit or leave. A lease that was not renewed simply expires: an item a
rater opened and abandoned (a closed laptop, a lost connection) returns to the pool on its own.

How leases meet the fixed per-rater assignments (``storage/assignments.py``):
- without a pool (the project setting ``leases.needed`` unset, the default) every rater grades
  every output assigned to them, as before: leases only say what is open right now (the lead's
  progress shows them) and "next item" is the first unfinished one in the rater's order;
- with ``leases.needed = N`` an output assigned to more than N raters is a pool item: it
  needs N finished ratings from whoever of them gets there first. A rater's "next item" skips
  an output that others have finished or hold leases on N times over, and taking a lease on
  it is refused then. An output assigned to N raters or fewer is never skipped.

Every write runs under the project's write lock (``project.transaction()``), so two raters
asking for the same pooled item at once are served one after the other: never both. Expiry
and "now" are the database server's time, never a rater machine's clock. On PostgreSQL a
rater reads other raters' leases only as counts, through the view ``output_taken``
(migration 0009), never whose they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.models import (
    AssignmentRow,
    ItemLeaseRow,
    JudgmentRow,
    ProjectRow,
    RaterRow,
)
from medreview.storage.project import Project

DEFAULT_LEASE_S = 120.0
MIN_LEASE_S, MAX_LEASE_S = 0.2, 3600.0  # the lower bound is for tests' short leases
MAX_NEEDED = 1000
SETTINGS_KEY = "leases"

_NOW = {"postgresql": "extract(epoch from now())",
        "sqlite": "((julianday('now') - 2440587.5) * 86400.0)"}


@dataclass(frozen=True)
class LeaseSettings:
    """The project's lease rules: how long a lease lasts, and the pool's ratings per output."""

    seconds: float = DEFAULT_LEASE_S
    needed: int | None = None  # None: no pool, every assigned rater grades every output


@dataclass(frozen=True)
class Lease:
    rater_id: int
    output_id: int
    expires_at: float  # seconds since the epoch, database clock
    seconds: float  # how long it was taken for


def server_now(session: Session) -> float:
    """The database's clock, as seconds since the epoch (the same clock every rater sees)."""
    expr = _NOW.get(session.get_bind().dialect.name, _NOW["sqlite"])
    return float(session.execute(text(f"SELECT {expr}")).scalar_one())


def _settings_from(raw: Any) -> LeaseSettings:
    """Read hostile settings JSON: anything out of range falls back to the default."""
    if not isinstance(raw, dict):
        return LeaseSettings()
    seconds, needed = raw.get("seconds"), raw.get("needed")
    ok_s = (isinstance(seconds, int | float) and not isinstance(seconds, bool)
            and math.isfinite(seconds) and MIN_LEASE_S <= seconds <= MAX_LEASE_S)
    ok_n = isinstance(needed, int) and not isinstance(needed, bool) and 1 <= needed <= MAX_NEEDED
    return LeaseSettings(float(seconds) if ok_s else DEFAULT_LEASE_S,  # type: ignore[arg-type]
                         needed if ok_n else None)


def settings_in(session: Session) -> LeaseSettings:
    raw = session.scalar(select(ProjectRow.settings))
    return _settings_from((raw or {}).get(SETTINGS_KEY) if isinstance(raw, dict) else None)


def lease_settings(project: Project) -> LeaseSettings:
    with project.read() as s:
        return settings_in(s)


def set_lease_settings(project: Project, *, seconds: float | None = None,
                       needed: int | None = None) -> LeaseSettings:
    """Set the lease length and the pool's ratings per output (``needed=None``: no pool)."""
    if seconds is not None and not (MIN_LEASE_S <= seconds <= MAX_LEASE_S):
        raise InputError(f"a lease lasts between {MIN_LEASE_S:g} and {MAX_LEASE_S:g} seconds",
                         item=str(seconds))
    if needed is not None and not (1 <= needed <= MAX_NEEDED):
        raise InputError(f"ratings needed per output must be 1 to {MAX_NEEDED}", item=str(needed))
    with project.transaction() as s:
        row = s.scalars(select(ProjectRow)).one()
        settings = dict(row.settings or {})
        current = _settings_from(settings.get(SETTINGS_KEY))
        new = {"seconds": seconds if seconds is not None else current.seconds, "needed": needed}
        settings[SETTINGS_KEY] = new
        row.settings = settings
        return _settings_from(new)


_TAKEN_SQLITE = (
    "SELECT a.output_id, "
    "(SELECT count(*) FROM item_lease l WHERE l.output_id = a.output_id "
    f"AND l.rater_id <> a.rater_id AND l.expires_at > {_NOW['sqlite']}) + "
    "(SELECT count(*) FROM judgment j WHERE j.output_id = a.output_id "
    "AND j.rater_id <> a.rater_id AND j.status = 'done') "
    "FROM assignment a WHERE a.rater_id = :r")


def taken_by_others(session: Session, rater_id: int,
                    output_ids: list[int] | None = None) -> dict[int, int]:
    """Output id -> live leases plus finished judgments of other raters, for the outputs
    assigned to ``rater_id`` (a count, never who)."""
    if session.get_bind().dialect.name == "postgresql":  # RLS: counts through the view
        sql = ("SELECT output_id, leased_by_others + done_by_others FROM output_taken "
               "WHERE rater_id = :r")
    else:  # the same query inline: a SQLite file holds no views (merge refuses packages with any)
        sql = _TAKEN_SQLITE
    rows = session.execute(text(sql), {"r": rater_id}).all()
    wanted = set(output_ids) if output_ids is not None else None
    return {int(o): int(n) for o, n in rows if wanted is None or int(o) in wanted}


def _pool_full(session: Session, rules: LeaseSettings, rater_id: int, output_id: int) -> bool:
    if rules.needed is None:
        return False
    return taken_by_others(session, rater_id, [output_id]).get(output_id, 0) >= rules.needed


def take_in(session: Session, rater_id: int, output_id: int,
            seconds: float | None = None) -> Lease | None:
    """Take or renew this rater's lease on the output inside a write transaction; None when it
    is a pool item others have taken (or finished) as often as the pool needs."""
    rules = settings_in(session)
    length = rules.seconds if seconds is None else seconds
    if not (MIN_LEASE_S <= length <= MAX_LEASE_S):
        raise InputError(f"a lease lasts between {MIN_LEASE_S:g} and {MAX_LEASE_S:g} seconds",
                         item=str(length))
    now = server_now(session)
    mine = session.get(ItemLeaseRow, (rater_id, output_id))
    held = mine is not None and mine.expires_at > now
    if not held and _pool_full(session, rules, rater_id, output_id):
        if mine is not None:  # this rater's lapsed lease: gone for good now
            session.delete(mine)
        return None
    expires = now + length
    if mine is not None:
        session.execute(update(ItemLeaseRow)
                        .where(ItemLeaseRow.rater_id == rater_id,
                               ItemLeaseRow.output_id == output_id)
                        .values(expires_at=expires, **({} if held else {"taken_at": now})))
    else:
        session.add(ItemLeaseRow(rater_id=rater_id, output_id=output_id, taken_at=now,
                                 expires_at=expires))
    session.flush()
    return Lease(rater_id, output_id, expires, length)


def take(project: Project, rater_id: int, output_id: int,
         seconds: float | None = None) -> Lease | None:
    """Take (or renew) a lease: see ``take_in``."""
    with project.transaction() as s:
        return take_in(s, rater_id, output_id, seconds)


def release(project: Project, rater_id: int, output_id: int | None = None) -> None:
    """Give back this rater's lease on the output (all of theirs when ``output_id`` is None)."""
    with project.transaction() as s:
        release_in(s, rater_id, output_id)


def release_in(session: Session, rater_id: int, output_id: int | None = None) -> None:
    stmt = delete(ItemLeaseRow).where(ItemLeaseRow.rater_id == rater_id)
    if output_id is not None:
        stmt = stmt.where(ItemLeaseRow.output_id == output_id)
    session.execute(stmt)


def live_leases(session: Session) -> dict[int, int]:
    """Rater id -> number of live leases (what the reader may see: a rater only their own)."""
    now = server_now(session)
    rows = session.execute(
        select(ItemLeaseRow.rater_id, func.count())
        .where(ItemLeaseRow.expires_at > now)
        .group_by(ItemLeaseRow.rater_id)).all()
    return {int(r): int(n) for r, n in rows}


def next_item(project: Project, rater_id: int, after: int | None = None) -> int | None:
    """The rater's next output to grade after ``after`` in their order (wrapping once): not
    finished by them and, in a pool, not taken by others as often as it needs. None if none.

    Only for raters with assignments; without a pool this is the first unfinished one.
    """
    with project.read() as s:
        if s.get(RaterRow, rater_id) is None:
            raise InputError("no such rater", item=str(rater_id))
        order = [int(o) for o in s.scalars(
            select(AssignmentRow.output_id).where(AssignmentRow.rater_id == rater_id)
            .order_by(AssignmentRow.position, AssignmentRow.id))]
        done = {int(o) for o in s.scalars(
            select(JudgmentRow.output_id).where(JudgmentRow.rater_id == rater_id,
                                                JudgmentRow.status == "done"))}
        rules = settings_in(s)
        taken = taken_by_others(s, rater_id) if rules.needed is not None else {}
    start = order.index(after) + 1 if after in order else 0
    for k in range(len(order)):
        out = order[(start + k) % len(order)]
        if out == after or out in done:
            continue
        if rules.needed is not None and taken.get(out, 0) >= rules.needed:
            continue
        return out
    return None
