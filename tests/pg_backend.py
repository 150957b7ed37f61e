"""The PostgreSQL backend of the test run: ``MEDREVIEW_TEST_BACKEND=postgres``.

`.ci/postgres.sh` runs tests/storage, tests/services, tests/study and tests/stats a second time
with this switch and ``MEDREVIEW_TEST_PG_URL`` (a superuser's URL on the throw-away server).
The tests name projects by folder (``create_project(tmp_path / "p")``, ``open_project(path)``,
the ``empty_project``/``demo_path``/``demo_copy`` fixtures, the CLI given a folder); under the
switch each such folder stands for a fresh database on the server instead:

- ``create_project(folder)`` makes a database ``CREATE DATABASE … TEMPLATE`` a project that
  the product's own ``create_project(URL)`` built once per session (so the migration chain runs
  once, not per test), gives it a new uid and the name the folder would have given, and
  records "folder -> URL" (and the server project's own ``path`` -> URL);
- ``open_project(folder)`` and ``is_project(folder)`` follow that record; any other folder is
  left to the product unchanged;
- ``demo_copy`` clones the session's demo database, as the SQLite run copies its folder.

This is an explicit test-side indirection, not a product feature: the three functions of
``medreview.storage.project`` are replaced for the session in that module and in every module
that imported them by name. One exception by design: ``medreview.storage.packages`` keeps the
real ``create_project``, because a rater package *is* a SQLite file sent to a rater.

Tests inherently about the SQLite file (corruption, WAL, file modes, backups, the folder
layout, child processes given the folder) carry ``@pytest.mark.sqlite_only(reason)`` and are
deselected here; everything else must pass on both backends.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

BACKEND_ENV = "MEDREVIEW_TEST_BACKEND"
PG_URL_ENV = "MEDREVIEW_TEST_PG_URL"
# Modules that must keep the real functions: a rater package is a SQLite file by design.
_SQLITE_BY_DESIGN = frozenset({"medreview.storage.packages"})
_NAMES = ("create_project", "open_project", "is_project")
_SESSION: list[ServerProjects] = []  # the session's mapping, for the closing report


def enabled() -> bool:
    backend = os.environ.get(BACKEND_ENV, "sqlite")
    if backend not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"{BACKEND_ENV} must be sqlite or postgres, not {backend!r}")
    return backend == "postgres"


def _key(path: Path | str) -> Path:
    return Path(path).expanduser().resolve()


class ServerProjects:
    """Databases on the test server standing for the folders the tests name."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                                      poolclass=sa.pool.NullPool)
        self.session_id = uuid.uuid4().hex[:8]
        self.by_folder: dict[Path, str] = {}
        self.databases: list[str] = []  # made in the current module; dropped after it
        self.kept: list[str] = []  # the session's template and demo
        self.template = ""
        self.created = 0  # databases made in the session (the report says how many)
        self._real: dict[str, Callable[..., Any]] = {}

    # -- databases -------------------------------------------------------------------------
    def url(self, database: str) -> str:
        return (sa.make_url(self.admin_url).set(database=database)
                .render_as_string(hide_password=False))

    def _new_name(self) -> str:
        return f"mr_{self.session_id}_{uuid.uuid4().hex[:10]}"

    def create_database(self, template: str | None = None) -> str:
        name = self._new_name()
        with self.admin.connect() as conn:
            if template:
                # CREATE … TEMPLATE needs the template unused: end what a test left open on it.
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :d AND pid <> pg_backend_pid()"),
                             {"d": template})
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            else:
                conn.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'"))
        self.databases.append(name)
        self.created += 1
        return name

    def drop(self, names: list[str]) -> None:
        with self.admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def start(self) -> None:
        """The session's template: a project the product's ``create_project(URL)`` made."""
        self.template = self.create_database()
        self.databases.remove(self.template)
        self.kept.append(self.template)
        self._real["create_project"](self.url(self.template), "template").close()

    def finish(self) -> None:
        self.drop(self.databases + self.kept)
        # The template's migration made its group roles; every clone's tables were theirs.
        with self.admin.connect() as conn:
            roles = conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"),
                                 {"p": f"mr\\_{self.session_id}\\_%"}).scalars().all()
            for role in roles:
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        self.admin.dispose()

    def end_module(self) -> None:
        self.by_folder = {k: v for k, v in self.by_folder.items()
                          if sa.make_url(v).database in self.kept}
        names, self.databases = self.databases, []
        self.drop(names)

    # -- the folder -> database mapping ------------------------------------------------------
    def register(self, folder: Path | str, url: str, project: Any = None) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.by_folder[_key(folder)] = url
        if project is not None:
            self.by_folder[_key(project.path)] = url

    def lookup(self, folder: object) -> str | None:
        if not isinstance(folder, str | os.PathLike):
            return None
        from medreview.storage.server_url import is_database_url

        if is_database_url(folder):
            return None
        return self.by_folder.get(_key(folder))

    def keep(self, folder: Path) -> None:
        """The database behind ``folder`` lives for the session (the demo)."""
        url = self.lookup(folder)
        assert url is not None, f"{folder} stands for no test database"
        name = str(sa.make_url(url).database)
        self.databases.remove(name)
        self.kept.append(name)

    def clone(self, source_folder: Path, folder: Path) -> Path:
        source = self.lookup(source_folder)
        assert source is not None, f"{source_folder} stands for no test database"
        name = self.create_database(template=sa.make_url(source).database)
        self.register(folder, self.url(name))
        return folder

    # -- the replacements --------------------------------------------------------------------
    def create_project(self, path: Path | str, name: str | None = None, *,
                       database_url: str | None = None) -> Any:
        from medreview.storage.server_url import is_database_url

        real = self._real["create_project"]
        mapped = self.lookup(path)
        if database_url is not None or mapped is not None or is_database_url(path):
            # A URL as such; a folder that already stands for a database gets the product's
            # own refusal of a database that is not empty.
            return real(database_url or mapped or path, name)
        url = self.url(self.create_database(template=self.template))
        project = self._real["open_project"](url)
        with project.transaction() as s:
            # What create_project(folder) would have stored: a new uid, the folder's name.
            s.execute(sa.text("UPDATE project SET uid = :u, name = :n"),
                      {"u": str(uuid.uuid4()), "n": name or Path(path).name})
        self.register(path, url, project)
        return project

    def open_project(self, path: Path | str, **kwargs: Any) -> Any:
        url = self.lookup(path)
        if url is None:
            return self._real["open_project"](path, **kwargs)
        kwargs.pop("database_url", None)
        return self._real["open_project"](url, **kwargs)

    def is_project(self, path: Path | str) -> bool:
        return self.lookup(path) is not None or bool(self._real["is_project"](path))

    def copytree(self, src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        """Copying a folder that stands for a database copies the database (as the SQLite
        run copies ``project.sqlite``); every other folder is copied as usual."""
        if self.lookup(src) is None:
            return self._real["copytree"](src, dst, *args, **kwargs)
        return self.clone(Path(src), Path(dst))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import medreview.storage.packages  # noqa: F401  (imported first: keeps the real one)
        import medreview.storage.project as project_module

        self._real = {n: getattr(project_module, n) for n in _NAMES}
        self._real["copytree"] = shutil.copytree
        monkeypatch.setattr(shutil, "copytree", self.copytree)
        # Every name bound to one of the three (``open_stored_project`` too) in the modules
        # loaded so far; modules imported later take the replacements from ``project_module``.
        by_function = {id(self._real[n]): getattr(self, n) for n in _NAMES}
        for module_name, module in list(sys.modules.items()):
            if module is None or module_name in _SQLITE_BY_DESIGN or not (
                    module_name.startswith(("medreview", "tests"))):
                continue
            for attr, value in list(vars(module).items()):
                if id(value) in by_function:
                    monkeypatch.setattr(module, attr, by_function[id(value)])


@pytest.fixture(scope="session")
def server_projects() -> Iterator[ServerProjects | None]:
    """The session's mapping (None on the SQLite backend)."""
    if not enabled():
        yield None
        return
    admin_url = os.environ.get(PG_URL_ENV)
    if not admin_url:
        pytest.fail(f"{BACKEND_ENV}=postgres needs {PG_URL_ENV}: run it through .ci/postgres.sh")
    projects = ServerProjects(admin_url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        projects.install(monkeypatch)
        projects.start()
        _SESSION.append(projects)
        try:
            yield projects
        finally:
            projects.finish()


def deselect_sqlite_only(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL backend, leave out the tests marked ``sqlite_only``; every such
    marker must say why."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None and not (marker.kwargs.get("reason") or marker.args):
            raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs a reason")
        (drop if marker is not None and enabled() else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def report_counts(terminalreporter: Any) -> None:
    """After a PostgreSQL run: outcomes per test directory (tests/storage: 80 passed, …)."""
    if not enabled():
        return
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            folder = "/".join(nodeid.split("::")[0].split("/")[:2])
            by = counts.setdefault(folder, {})
            by[outcome] = by.get(outcome, 0) + 1
    terminalreporter.section("PostgreSQL backend: tests per directory")
    if _SESSION:
        terminalreporter.line(f"{_SESSION[0].created} databases made on the server: one "
                              "template migrated once, the others its clones")
    for folder in sorted(counts):
        by = counts[folder]
        terminalreporter.line(f"{folder}: " + ", ".join(
            f"{n} {'deselected (sqlite_only)' if o == 'deselected' else o}"
            for o, n in by.items()))
