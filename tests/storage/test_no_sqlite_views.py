"""A SQLite project holds no views or triggers: it is copied into rater packages, and merge
refuses a package database that holds any (a view posing as a table could run forever)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.storage.merging import active_schema_objects
from medreview.storage.project import Project


@pytest.mark.sqlite_only(reason="about the SQLite file rater packages are copied from")
def test_a_fresh_project_at_the_latest_schema_has_no_views_or_triggers(
        empty_project: Project, project_path: Path) -> None:
    db = project_path / "project.sqlite"
    assert active_schema_objects(db) == 0
