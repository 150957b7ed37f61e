"""Schema versions: upgrade a database to Alembic head, report its revision.

Opening a project at this version's schema (every command) needs neither Alembic (≈ 0.1-0.2 s
to import) nor its parse of every migration script (≈ 0.1 s: it runs each file): the head is
read from the scripts' ``revision``/``down_revision`` lines and the database's revision from
its ``alembic_version`` table. Alembic itself is imported to upgrade or to look a revision up.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_ASSIGNED = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=]*)?=\s*"
                       r"""(?:(None)|["']([\w-]+)["'])\s*(?:#.*)?$""", re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _scripted_head() -> str | None:
    """The one revision no script names as its ``down_revision``, read from the scripts'
    text; None when any script is not the plain linear form (then Alembic decides)."""
    downs: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found: dict[str, str | None] = {}
        for m in _ASSIGNED.finditer(path.read_text(encoding="utf-8")):
            if m.group(1) in found:
                return None  # assigned twice: not the plain form
            found[m.group(1)] = m.group(3)
        if (set(found) != {"revision", "down_revision", "branch_labels", "depends_on"}
                or found["revision"] is None or found["branch_labels"] is not None
                or found["depends_on"] is not None or found["revision"] in downs):
            return None
        downs[found["revision"]] = found["down_revision"]
    heads = set(downs) - set(downs.values())
    return heads.pop() if len(heads) == 1 else None


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache  # the scripts ship with the code: read once per process
def head_revision() -> str:
    return _scripted_head() or _alembic_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None: no version table, or an empty one), as Alembic's
    ``MigrationContext.get_current_revision`` answers it."""
    # A read: it must not queue for the write lock behind an import (SQLite or server).
    from medreview.storage.engine import reading

    with reading(engine).connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        heads = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(heads) > 1:
        raise ValueError(f"the schema version table holds {len(heads)} revisions, not one")
    return str(heads[0]) if heads else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
