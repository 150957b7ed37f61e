"""Team use-cases for a PostgreSQL project: logins for raters, leads and judges.

Each opens the database at ``url`` as the person asking (a lead or the DBA), checks the schema
is this version's, and does its one change in one transaction (``storage.team``).
"""

from __future__ import annotations

from medreview.storage import team
from medreview.storage.team import Credentials, Member, Removed

__all__ = ["Credentials", "Member", "Removed", "add_judge", "add_lead", "add_rater",
           "list_members", "remove_rater"]


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
