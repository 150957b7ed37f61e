"""storage.merging: the reads merge checks (plain values) and the one write transaction."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.errors import PackageError, ProjectError
from medreview.storage.assignments import find_rater
from medreview.storage.audit import judgment_history
from medreview.storage.merging import (
    IncomingPackage,
    IncomingRevision,
    active_schema_objects,
    apply_packages,
    merge_reference,
    package_contents,
    revision_owners,
)
from medreview.storage.models import OutputRow
from medreview.storage.packages import (
    IssuedOutput,
    issued_package,
    record_issue,
    write_package_database,
)
from medreview.storage.project import Project, open_project
from medreview.storage.revisions import RevisionContent
from tests.storage.study_helpers import assert_plain, assign_all, grade, small_study


def test_reference_and_owners_are_plain(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        grade(project, a.id, ids[0], 3)
        ref = merge_reference(project)
        assert_plain(ref)
        assert ref.uid == project.uid
        assert {k for k, _v in ref.forms} == {"sample-healthbench", "sample-errors"}
        assert set(ref.case_of) == set(ids)
        assert all(q.id.startswith("criterion:") for qs in ref.criteria.values() for q in qs)
        uid = judgment_history(project)[0]["uid"]
        assert revision_owners(project, [uid, "unknown"]) == {uid: (a.id, ids[0])}


def test_package_contents_are_plain_rows_of_the_package(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        grade(project, a.id, ids[1], 5)
        tokens = iter(f"{i:032x}" for i in range(10))
        write_package_database(project, a.id, tmp_path / "pkg", name="pkg",
                               settings={"package": {"package_uid": "u"}},
                               new_token=lambda: next(tokens))
    pkg = open_project(tmp_path / "pkg")
    try:
        c = package_contents(pkg)
    finally:
        pkg.close()
    assert_plain(c)
    assert c.settings == {"package_uid": "u"}
    assert [(r.name, r.kind) for r in c.raters] == [("Dr A", "physician")]
    assert {o.token for o in c.outputs} == {f"{i:032x}" for i in range(len(ids))}
    assert {f.key for f in c.forms.values()} == {"sample-healthbench", "sample-errors"}
    assert len(c.judgments) == 1 and len(c.revisions) == 1
    (rev,) = c.revisions
    assert rev.answers == {"overall": 5} and rev.author == "Dr A"
    assert isinstance(rev.created_at, dt.datetime)


def test_views_and_triggers_are_counted_without_running_them(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.execute("CREATE VIEW v AS SELECT * FROM t")
    con.execute("CREATE TRIGGER g AFTER INSERT ON t BEGIN DELETE FROM t; END")
    con.commit()
    con.close()
    assert active_schema_objects(db) == 2
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ProjectError):
        active_schema_objects(bad)


def _incoming(project: Project, rater_id: int, output_id: int, sha: str,
              created: dt.datetime, uid: str = "r" * 32) -> IncomingPackage:
    record_issue(project, uid="pkg1", rater_id=rater_id, secret="ab" * 32,
                 outputs={"t": IssuedOutput(output_id, sha)}, attachments={})
    issued = issued_package(project, "pkg1")
    assert issued is not None
    rev = IncomingRevision(uid=uid, form=("sample-healthbench", 1), taxonomy=None,
                           content=RevisionContent(answers={"overall": 2}, status="done"),
                           author="Dr A", created_at=created)
    return IncomingPackage("f.mrpkg", issued, {output_id: [rev]})


def test_apply_appends_keeps_grading_time_and_is_idempotent(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        sha = judgment_sha(project, ids[0])
        when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        pkg = _incoming(project, a.id, ids[0], sha, when)
        seen: list[int] = []
        (result,) = apply_packages(project, [pkg], lambda i, _p: seen.append(i))
        assert_plain(result)
        assert (result.added, result.already_present, result.conflicts) == (1, 0, [])
        assert seen == [0]
        (row,) = judgment_history(project, rater="Dr A")
        assert (row["source"], row["created_at"], row["uid"]) == ("merge", when, "r" * 32)
        (again,) = apply_packages(project, [pkg])
        assert (again.added, again.already_present) == (0, 1)


def test_apply_refuses_a_changed_answer_and_writes_nothing(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        pkg = _incoming(project, a.id, ids[0], "0" * 64, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        with pytest.raises(PackageError, match="differs from the project's answer"):
            apply_packages(project, [pkg])
        assert judgment_history(project, rater="Dr A") == []


def judgment_sha(project: Project, output_id: int) -> str:
    with project.read() as s:
        return str(s.scalar(select(OutputRow.text_sha256).where(OutputRow.id == output_id)))
