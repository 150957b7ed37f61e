"""storage.copy: every table of a real project copied into an empty database and verified."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.demo import build_demo_project
from medreview.errors import InputError
from medreview.storage import schema
from medreview.storage.copy import copy_database, table_checks

pytestmark = pytest.mark.sqlite_only(reason="copies project.sqlite files (server: tests/postgres)")


def _engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo") / "project.sqlite"


def test_demo_copies_table_by_table_with_identical_content(demo_db: Path, tmp_path: Path) -> None:
    dst = _engine(tmp_path / "copy.sqlite")
    schema.upgrade(dst)
    report = copy_database(_engine(demo_db), dst)
    assert report.revision == schema.head_revision()
    by_name = {t.table: t for t in report.tables}
    assert by_name["judgment_revision"].rows > 100 and by_name["output"].rows == 65
    assert table_checks(dst) == table_checks(_engine(demo_db)) == report.tables


def test_the_check_sees_a_changed_value(demo_db: Path, tmp_path: Path) -> None:
    dst_path = tmp_path / "copy.sqlite"
    dst = _engine(dst_path)
    schema.upgrade(dst)
    copy_database(_engine(demo_db), dst)
    with sqlite3.connect(dst_path) as conn:
        conn.execute("UPDATE judgment_revision SET rationale = rationale || '.' WHERE id = 1")
    conn.close()
    before = {t.table: t for t in table_checks(_engine(demo_db))}
    after = {t.table: t for t in table_checks(dst)}
    assert before["judgment_revision"].rows == after["judgment_revision"].rows
    assert before["judgment_revision"].sha256 != after["judgment_revision"].sha256
    assert before["output"] == after["output"]


def test_a_destination_with_rows_is_refused_and_left_as_it_was(demo_db: Path,
                                                               tmp_path: Path) -> None:
    dst = _engine(tmp_path / "copy.sqlite")
    schema.upgrade(dst)
    copy_database(_engine(demo_db), dst)
    checks = table_checks(dst)
    with pytest.raises(InputError, match="not empty"):
        copy_database(_engine(demo_db), dst)
    assert table_checks(dst) == checks


def test_a_destination_at_another_schema_is_refused(demo_db: Path, tmp_path: Path) -> None:
    dst = _engine(tmp_path / "old.sqlite")
    schema.upgrade(dst, "0003")
    with pytest.raises(InputError, match="schema 0003"):
        copy_database(_engine(demo_db), dst)
