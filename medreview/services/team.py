"""Team use-cases: logins for raters, leads and judges on a PostgreSQL project; and live team
work on any project — leases of open items, change hints, progress per rater.

The login commands open the database at ``url`` as the person asking (a lead or the DBA),
check the schema is this version's, and do their one change in one transaction
(``storage.team``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from medreview.storage import leases, notify, team
from medreview.storage import team_progress as team_progress_store
from medreview.storage.project import Project
from medreview.storage.team import Credentials, Member, Removed

__all__ = ["ChangeListener", "Credentials", "Lease", "LeaseKeeper", "LeaseSettings", "Member",
           "RaterProgress", "Removed", "TeamProgress", "add_judge", "add_lead", "add_rater",
           "change_revision", "lease_settings", "list_members", "next_item", "remove_rater",
           "set_lease_settings", "shares_items", "team_progress", "watch_changes"]


def add_rater(url: str, name: str, *, role: str | None = None) -> Credentials:
    """A login for the physician ``name`` (created as a rater if new)."""
    with team.team_database(url) as engine:
        return team.add_rater(engine, name, role=role)


def add_lead(url: str, role: str) -> Credentials:
    with team.team_database(url) as engine:
        return team.add_lead(engine, role)


def add_judge(url: str, role: str) -> Credentials:
    with team.team_database(url) as engine:
        return team.add_judge(engine, role)


def remove_rater(url: str, name: str) -> Removed:
    with team.team_database(url) as engine:
        return team.remove_rater(engine, name)


def list_members(url: str) -> tuple[Member, ...]:
    with team.team_database(url) as engine:
        return team.list_members(engine)


# --- Live team work: leases, change hints, progress per rater (docs/TEAM.md). ---

LeaseSettings = leases.LeaseSettings
Lease = leases.Lease
TeamProgress = team_progress_store.TeamProgress
RaterProgress = team_progress_store.RaterProgress
ChangeListener = notify.ChangeListener


def team_progress(project: Project) -> TeamProgress:
    """Assigned, finished, drafts and open-now per physician (what the reader may see)."""
    return team_progress_store.team_progress(project)


def lease_settings(project: Project) -> LeaseSettings:
    return leases.lease_settings(project)


def set_lease_settings(project: Project, *, seconds: float | None = None,
                       needed: int | None = None) -> LeaseSettings:
    """Lease length, and ratings needed per output for pooled items (None: no pool)."""
    return leases.set_lease_settings(project, seconds=seconds, needed=needed)


def next_item(project: Project, rater_id: int, after: int | None = None) -> int | None:
    """The rater's next output: unfinished, and in a pool not taken by enough others."""
    return leases.next_item(project, rater_id, after)


def watch_changes(project: Project, on_change: Callable[[int], None], *,
                  on_online: Callable[[bool, str], None] | None = None,
                  **options: float) -> ChangeListener | None:
    """Call ``on_change(revision)`` (on a background thread) whenever the server project may
    have changed, including after a reconnect; None for a folder project (no hints)."""
    return notify.listener_for(project.engine, on_change, on_online=on_online, **options)


def change_revision(project: Project) -> int | None:
    return notify.change_revision(project.engine)


class LeaseKeeper:
    """One rater's lease on the item their grading screen shows.

    ``open(output_id)`` takes it (False: a pool item others have taken — show another);
    ``touch()`` on any input; the screen calls ``tick()`` every few seconds: it renews the lease
    once a third of it has passed, but only while the rater was active in the last
    ``idle_s`` seconds, so an item left open on an unattended screen returns to the pool.
    ``submitted()`` / ``close()`` give it back. Blocking calls: run them off the UI thread.
    """

    def __init__(self, project: Project, rater_id: int, *, seconds: float | None = None,
                 idle_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.project, self.rater_id = project, rater_id
        self.seconds = seconds
        self.idle_s = idle_s
        self._clock = clock
        self.output_id: int | None = None
        self._lease: Lease | None = None
        self._renewed_at = 0.0
        self._active_at = clock()

    def open(self, output_id: int) -> bool:
        if self.output_id is not None and self.output_id != output_id:
            self.close()
        self.touch()
        lease = leases.take(self.project, self.rater_id, output_id, self.seconds)
        self.output_id = output_id if lease is not None else None
        self._lease, self._renewed_at = lease, self._clock()
        return lease is not None

    def touch(self) -> None:
        self._active_at = self._clock()

    def tick(self) -> bool:
        """Renew if due and the rater is active; False once the lease is lost (taken over)."""
        if self._lease is None or self.output_id is None:
            return False
        now = self._clock()
        if now - self._active_at > self.idle_s:
            return True  # left alone: let it expire
        if now - self._renewed_at < self._lease.seconds / 3:
            return True
        lease = leases.take(self.project, self.rater_id, self.output_id, self.seconds)
        self._lease, self._renewed_at = lease, now
        if lease is None:
            self.output_id = None
        return lease is not None

    def submitted(self) -> None:
        self.close()

    def close(self) -> None:
        if self.output_id is not None:
            leases.release(self.project, self.rater_id, self.output_id)
        self.output_id, self._lease = None, None


def shares_items(project: Project) -> bool:
    """Whether raters on other machines share this project live (a server project): the
    grading screen then holds leases on the items it shows."""
    return project.engine.dialect.name == "postgresql"
