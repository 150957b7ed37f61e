"""Leases of open items and progress per rater (storage.leases, storage.team_progress).

Run on SQLite and, under `.ci/postgres.sh`, on PostgreSQL: short leases (a fraction of a second)
stand in for minutes, and "now" is the database's clock either way.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.errors import InputError
from medreview.services import team
from medreview.storage import leases
from medreview.storage.assignments import find_rater
from medreview.storage.models import ItemLeaseRow, ProjectRow
from medreview.storage.project import Project
from medreview.storage.team_progress import team_progress
from tests.storage.study_helpers import assert_plain, assign_all, grade, small_study

SHORT = 0.6  # seconds: a lease that expires within the test


def _pool(tmp_path: Path, needed: int | None = 1) -> tuple[Project, list[int], int, int, int]:
    project = small_study(tmp_path / "p")
    ids = assign_all(project, "Dr A")
    assign_all(project, "Dr B")
    assign_all(project, "Dr C")
    if needed is not None:
        team.set_lease_settings(project, needed=needed, seconds=30)
    a, b, c = (find_rater(project, n).id for n in ("Dr A", "Dr B", "Dr C"))
    return project, ids, a, b, c


def test_an_item_left_open_returns_to_the_pool_when_its_lease_expires(tmp_path: Path) -> None:
    project, ids, a, b, _c = _pool(tmp_path)
    with project:
        first = ids[0]
        assert team.next_item(project, a) == first and team.next_item(project, b) == first
        lease = leases.take(project, a, first, seconds=SHORT)
        assert lease is not None and lease.seconds == SHORT
        # B's next item skips the one A has open, and B cannot take it.
        assert team.next_item(project, b) == ids[1]
        assert leases.take(project, b, first) is None
        # A leaves without submitting: once the lease expires the item is B's to take.
        time.sleep(SHORT + 0.3)
        assert team.next_item(project, b) == first
        assert leases.take(project, b, first) is not None
        # ...and now A's renewal is refused: the pool needs one rating and B is on it.
        assert leases.take(project, a, first) is None
        assert team.next_item(project, a) == ids[1]


def test_a_renewed_lease_keeps_the_item_and_submitting_releases_it(tmp_path: Path) -> None:
    project, ids, a, b, _c = _pool(tmp_path)
    with project:
        out = ids[0]
        first = leases.take(project, a, out, seconds=SHORT)
        for _ in range(3):  # renewed while A works: never lapses although each lasts 0.6 s
            time.sleep(SHORT / 2)
            renewed = leases.take(project, a, out, seconds=SHORT)
            assert renewed is not None
            assert leases.take(project, b, out) is None
        assert first is not None and renewed.expires_at > first.expires_at
        grade(project, a, out, 3)
        leases.release(project, a, out)
        # Finished by A: the pool (one rating) is full, so B and C move on; A too.
        assert team.next_item(project, b) == ids[1]
        assert team.next_item(project, a) == ids[1]
        assert leases.take(project, b, out) is None


def test_a_pool_of_two_takes_two_raters_at_a_time(tmp_path: Path) -> None:
    project, ids, a, b, c = _pool(tmp_path, needed=2)
    with project:
        out = ids[0]
        assert leases.take(project, a, out) is not None
        assert team.next_item(project, c) == out  # one other on it: still room
        assert leases.take(project, b, out) is not None
        assert team.next_item(project, c) == ids[1]
        assert leases.take(project, c, out) is None
        grade(project, a, out, 2)
        leases.release(project, a, out)
        assert leases.take(project, c, out) is None  # A done + B's lease: two of two


def test_without_a_pool_every_assigned_rater_grades_everything(tmp_path: Path) -> None:
    project, ids, a, b, _c = _pool(tmp_path, needed=None)
    with project:
        assert leases.lease_settings(project) == leases.LeaseSettings()
        assert leases.take(project, a, ids[0]) is not None
        # Leases only say what is open: B's order and B's lease are unaffected.
        assert team.next_item(project, b) == ids[0]
        assert leases.take(project, b, ids[0]) is not None
        grade(project, b, ids[0], 1)
        assert team.next_item(project, b, after=ids[0]) == ids[1]
        assert team.next_item(project, b) == ids[1]
        for out in ids:
            grade(project, a, out, 1)
        assert team.next_item(project, a) is None


def test_progress_per_rater_counts_assigned_done_drafts_and_open(tmp_path: Path) -> None:
    project, ids, a, b, c = _pool(tmp_path, needed=1)
    with project:
        grade(project, a, ids[0], 3)
        grade(project, a, ids[1], 3)
        grade(project, b, ids[1], 2)
        from medreview.domain.judgment import JudgmentDraft
        from medreview.services import grading
        grading.save_revision(project, c, ids[2], JudgmentDraft(answers={"overall": 1}))
        leases.take(project, c, ids[3])
        leases.take(project, b, ids[2], seconds=SHORT)
        progress = team_progress(project)
        assert_plain(progress)
        by = {r.name: (r.assigned, r.done, r.drafts, r.open_now) for r in progress.raters}
        assert by["Dr A"] == (4, 2, 0, 0)
        assert by["Dr B"] == (4, 1, 0, 1)
        assert by["Dr C"] == (4, 0, 1, 1)
        assert (progress.outputs, progress.needed, progress.complete) == (4, 1, 2)
        time.sleep(SHORT + 0.3)
        by = {r.name: r.open_now for r in team_progress(project).raters}
        assert by["Dr B"] == 0 and by["Dr C"] == 1  # B's lease ran out


def test_lease_settings_from_the_database_are_checked(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        with pytest.raises(InputError, match="between"):
            team.set_lease_settings(project, seconds=0)
        with pytest.raises(InputError, match="1 to"):
            team.set_lease_settings(project, needed=0)
        for hostile in ({"seconds": -1, "needed": True}, {"seconds": 1e300}, [], None,
                        "x", {"needed": -3, "seconds": "9"}, {"needed": 10**9}):
            with project.transaction() as s:
                row = s.scalars(select(ProjectRow)).one()
                row.settings = {**(row.settings or {}), "leases": hostile}
            assert leases.lease_settings(project) == leases.LeaseSettings()
        rater = find_rater(project, "Dr Lead").id
        out = next(iter(team.team_progress(project).raters)).rater_id
        assert out == rater
        with pytest.raises(InputError, match="between"):
            leases.take(project, rater, 1, seconds=10_000)
        with project.read() as s:
            assert s.scalars(select(ItemLeaseRow)).all() == []


def test_lease_keeper_renews_only_while_the_rater_is_active(tmp_path: Path) -> None:
    project, ids, a, b, _c = _pool(tmp_path)
    with project:
        clock = [0.0]
        keeper = team.LeaseKeeper(project, a, seconds=SHORT, idle_s=10.0,
                                  clock=lambda: clock[0])
        assert keeper.open(ids[0])
        # Active: every tick past a third of the lease renews it.
        for _ in range(4):
            time.sleep(SHORT / 2)
            clock[0] += SHORT / 2
            keeper.touch()
            assert keeper.tick()
        assert leases.take(project, b, ids[0]) is None
        # Idle for longer than idle_s: no renewals, the lease lapses and B gets the item.
        clock[0] += 60.0
        time.sleep(SHORT + 0.3)
        assert keeper.tick()
        assert leases.take(project, b, ids[0]) is not None
        keeper.touch()
        assert not keeper.tick()  # taken over: the screen must move on
        assert keeper.output_id is None
        # Opening another item and submitting leaves no lease of A's behind.
        assert keeper.open(ids[1])
        keeper.submitted()
        with project.read() as s:
            left = s.scalars(select(ItemLeaseRow.output_id)
                             .where(ItemLeaseRow.rater_id == a)).all()
        assert left == []


@pytest.mark.sqlite_only(reason="a folder project's hints; tests/postgres has the server's")
def test_a_folder_project_has_no_change_hints(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        assert team.watch_changes(project, lambda _r: None) is None
        assert team.change_revision(project) is None
        assert not team.shares_items(project)
