"""The test backend switch (tests/pg_backend.py) without a server: which tests a PostgreSQL
run leaves out, that every ``sqlite_only`` says why, and that a wrong switch is refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests import pg_backend
from tests.pg_backend import BACKEND_ENV, deselect_sqlite_only, enabled


@dataclass
class _Item:
    nodeid: str
    marker: Any = None

    def get_closest_marker(self, name: str) -> Any:
        return self.marker if name == "sqlite_only" else None


@dataclass
class _Hook:
    deselected: list[Any] = field(default_factory=list)

    def pytest_deselected(self, items: list[Any]) -> None:
        self.deselected.extend(items)


@dataclass
class _Config:
    hook: _Hook = field(default_factory=_Hook)


def _items() -> list[Any]:
    return [_Item("a"), _Item("b", pytest.mark.sqlite_only(reason="the file").mark),
            _Item("c")]


def test_the_sqlite_run_keeps_every_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    items, config = _items(), _Config()
    deselect_sqlite_only(config, items)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == ["a", "b", "c"] and config.hook.deselected == []


def test_the_postgres_run_leaves_out_sqlite_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "postgres")
    items, config = _items(), _Config()
    deselect_sqlite_only(config, items)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == ["a", "c"]
    assert [i.nodeid for i in config.hook.deselected] == ["b"]


def test_sqlite_only_without_a_reason_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    items = [_Item("x", pytest.mark.sqlite_only.mark)]
    with pytest.raises(pytest.UsageError, match="x: sqlite_only needs a reason"):
        deselect_sqlite_only(_Config(), items)  # type: ignore[arg-type]


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "postgresql")
    with pytest.raises(pytest.UsageError, match="sqlite or postgres"):
        enabled()


def test_the_postgres_run_needs_the_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "postgres")
    monkeypatch.delenv(pg_backend.PG_URL_ENV, raising=False)
    fixture = pg_backend.server_projects.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(pytest.fail.Exception, match="needs MEDREVIEW_TEST_PG_URL"):
        next(fixture())
