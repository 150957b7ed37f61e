"""storage.db_errors: a real SQLite lock becomes DatabaseLocked, other operational errors
DatabaseFailure with the driver's first line; anything else passes through untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from medreview.errors import DatabaseFailure, DatabaseLocked, ProjectError
from medreview.storage.db_errors import database_errors
from medreview.storage.project import create_project


@pytest.mark.sqlite_only(reason="holds the SQLite file's lock with sqlite3")
def test_a_held_lock_and_a_bad_statement(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        other = sqlite3.connect(tmp_path / "p" / "project.sqlite", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
            # A deferred read transaction that tries to write meets it after the busy timeout.
            with pytest.raises(DatabaseLocked) as locked, database_errors(), \
                    project.read() as s:
                s.execute(text("UPDATE project SET name = 'x'"))
            assert "locked" in locked.value.reason or "busy" in locked.value.reason
            other.execute("ROLLBACK")
        finally:
            other.close()
        with pytest.raises(DatabaseFailure) as failed, database_errors(), project.read() as s:
            s.execute(text("SELECT * FROM no_such_table"))
        assert failed.value.reason == "no such table: no_such_table"
        assert not isinstance(failed.value, DatabaseLocked)
        with pytest.raises(ProjectError, match="mine"), database_errors():
            raise ProjectError("mine")
