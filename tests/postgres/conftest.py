"""A fresh PostgreSQL database per test, on the server `.ci/postgres.sh` starts.

These tests carry the ``postgres`` marker and are deselected by default (pyproject addopts);
`.ci/run` starts a real server as an unprivileged user and runs them with
``MEDREVIEW_TEST_PG_URL`` set. Asked for without a server, they fail: never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/postgres/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_url() -> Iterator[str]:
    admin_url = os.environ.get("MEDREVIEW_TEST_PG_URL")
    if not admin_url:
        pytest.fail("MEDREVIEW_TEST_PG_URL is not set: run these tests through .ci/postgres.sh")
    name = f"mr_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\''))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
