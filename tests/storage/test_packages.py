"""storage.packages: the issue record and a package's database, as plain values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.errors import PackageError
from medreview.storage.assignments import find_rater
from medreview.storage.models import AssignmentRow, JudgmentRow, OutputRow, ProjectRow, RaterRow
from medreview.storage.packages import (
    IssuedOutput,
    IssuedPackage,
    consistent_db_copy,
    issued_package,
    issued_packages,
    record_issue,
    write_package_database,
)
from medreview.storage.project import open_project
from tests.storage.study_helpers import assert_plain, assign_all, grade, small_study


def test_issue_record_round_trip(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        lead = find_rater(project, "Dr Lead")
        assert issued_package(project, "nope") is None and issued_packages(project) == []
        record_issue(project, uid="u1", rater_id=lead.id, secret="ab" * 32,
                     outputs={"t1": IssuedOutput(1, "s" * 64)}, attachments={5: 9})
        record_issue(project, uid="u2", rater_id=lead.id, secret="cd" * 32, outputs={},
                     attachments={})
        got = issued_package(project, "u1")
        assert_plain(got)
        assert isinstance(got, IssuedPackage)
        assert (got.rater, got.rater_kind, got.secret) == ("Dr Lead", "physician", "ab" * 32)
        assert got.outputs == {"t1": IssuedOutput(1, "s" * 64)} and got.attachments == {5: 9}
        assert "ab" * 32 not in repr(got)  # the seal key never reaches a log line
        assert [p.uid for p in issued_packages(project)] == ["u1", "u2"]


def test_package_database_holds_one_raters_blinded_slice(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        assign_all(project, "Dr B")
        a, b = find_rater(project, "Dr A"), find_rater(project, "Dr B")
        grade(project, a.id, ids[0], 4)
        grade(project, b.id, ids[1], 2)
        tokens = iter(f"{i:032x}" for i in range(100))
        db = write_package_database(project, a.id, tmp_path / "pkg", name="pkg",
                                    settings={"package": {"rater": "Dr A"}},
                                    new_token=lambda: next(tokens))
        assert_plain(db)
        assert sorted(o.output_id for o in db.outputs.values()) == ids
        pkg = open_project(tmp_path / "pkg")
        try:
            with pkg.read() as s:
                assert [r.name for r in s.scalars(select(RaterRow))] == ["Dr A"]
                outputs = list(s.scalars(select(OutputRow)))
                assert {o.external_id for o in outputs} == set(db.outputs)
                assert {o.model for o in outputs} <= {"Response A", "Response B"}
                assert all(o.meta == {} for o in outputs)
                assert set(s.scalars(select(AssignmentRow.seed))) == {None}
                assert s.scalar(select(JudgmentRow.status)) == "done"
                assert len(list(s.scalars(select(JudgmentRow)))) == 1  # not Dr B's
                prow = s.scalars(select(ProjectRow)).one()
                assert prow.settings == {"package": {"rater": "Dr A"}}
                assert prow.reveal_models is False
        finally:
            pkg.close()


def test_a_rater_without_assignments_gets_no_package(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        lead = find_rater(project, "Dr Lead")
        with pytest.raises(PackageError, match="no assignments"):
            write_package_database(project, lead.id, tmp_path / "pkg", name="x", settings={},
                                   new_token=lambda: "t")


def test_consistent_copy_includes_the_write_ahead_log(tmp_path: Path) -> None:
    src = tmp_path / "a.sqlite"
    con = sqlite3.connect(src)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (42)")
    con.commit()  # still in the -wal file while this connection stays open
    try:
        consistent_db_copy(src, tmp_path / "b.sqlite")
    finally:
        con.close()
    copy = sqlite3.connect(tmp_path / "b.sqlite")
    try:
        assert copy.execute("SELECT x FROM t").fetchall() == [(42,)]
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        copy.close()
