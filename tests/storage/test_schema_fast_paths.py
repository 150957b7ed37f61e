"""Opening a project without Alembic: the head read from the migration scripts' text and the
database's revision from its version table give exactly what Alembic gives, and an open at
this version's schema never imports Alembic (≈ 0.2-0.3 s of every command)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from medreview.storage import schema
from medreview.storage.project import create_project

SQLITE = pytest.mark.sqlite_only(reason="an SQLite file made by hand / a child process")


def _alembic_current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_the_scripted_head_is_alembics_head() -> None:
    head = ScriptDirectory.from_config(schema.alembic_config()).get_current_head()
    assert schema._scripted_head() == head == schema.head_revision()


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the migrations folder that the tests may change."""
    copy = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", copy)
    return copy / "versions"


def _add(versions: Path, name: str, body: str) -> None:
    (versions / name).write_text(f'"""a test migration"""\n{body}\n\ndef upgrade() -> None:\n'
                                 "    pass\n\n\ndef downgrade() -> None:\n    pass\n")


def test_a_new_script_in_alembics_typed_form_moves_the_head(scripts: Path) -> None:
    old = schema._alembic_head()
    _add(scripts, "9998_typed.py", f'revision: str = "9998"\ndown_revision: str | None = '
                                   f'"{old}"  # after the last\nbranch_labels: str | None = '
                                   'None\ndepends_on: str | None = None')
    assert schema._scripted_head() == schema._alembic_head() == "9998"


@pytest.mark.parametrize("body", [
    'revision = "9999"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None',  # a fork
    'revision = "9999"\ndown_revision = "{head}"\nbranch_labels = ("b",)\ndepends_on = None',
    'revision = "9999"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = "0002"',
    'revision = "9999"\ndown_revision = ("{head}", "0002")\nbranch_labels = None\n'
    'depends_on = None',  # a merge point
    'revision = "9999"\nrevision = "9998"\ndown_revision = "{head}"\nbranch_labels = None\n'
    'depends_on = None',
    'down_revision = "{head}"\nbranch_labels = None\ndepends_on = None',
])
def test_anything_but_the_plain_linear_form_is_left_to_alembic(scripts: Path, body: str) -> None:
    _add(scripts, "9999_odd.py", body.replace("{head}", schema._alembic_head()))
    assert schema._scripted_head() is None


@SQLITE
def test_the_current_revision_is_what_alembic_reads(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        assert schema.current_revision(project.engine) == schema.head_revision()
    url = f"sqlite:///{tmp_path / 'p' / 'project.sqlite'}"
    assert _alembic_current(url) == schema.head_revision()
    bare = tmp_path / "bare.sqlite"
    with sqlite3.connect(bare) as conn:
        conn.execute("CREATE TABLE other (x)")
    assert schema.current_revision(create_engine(f"sqlite:///{bare}")) is None
    assert _alembic_current(f"sqlite:///{bare}") is None
    with sqlite3.connect(bare) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    assert schema.current_revision(create_engine(f"sqlite:///{bare}")) is None
    assert _alembic_current(f"sqlite:///{bare}") is None
    with sqlite3.connect(bare) as conn:
        conn.execute("INSERT INTO alembic_version VALUES ('0003'), ('0004')")
    with pytest.raises(ValueError, match="holds 2 revisions"):
        schema.current_revision(create_engine(f"sqlite:///{bare}"))
    with pytest.raises(Exception, match="more than one head"):
        _alembic_current(f"sqlite:///{bare}")


@SQLITE
def test_opening_a_project_at_head_imports_no_alembic(tmp_path: Path) -> None:
    create_project(tmp_path / "p").close()
    probe = ("import sys\nfrom medreview.services.projects import open_project, project_info\n"
             f"p = open_project({str(tmp_path / 'p')!r}); project_info(p); p.close()\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('alembic', 'mako', 'yaml')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
