"""A project that is a PostgreSQL URL: create, open, refuse another schema, migrate, keep
passwords out of messages, keep revision numbers unique with writers on many connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import sqlalchemy as sa
from alembic import command
from keyring.backend import KeyringBackend

from medreview.domain.judgment import JudgmentDraft
from medreview.errors import ProjectError, ProjectReadOnly
from medreview.rubrics.templates import load_template
from medreview.services import grading
from medreview.services.projects import (
    add_form,
    add_rater,
    create_project,
    migrate_project,
    open_project,
    project_info,
)
from medreview.storage import schema
from medreview.storage.ingest import ingest
from medreview.storage.server_url import connect_args, parse_server_url
from tests.storage.helpers import case, located, output


def _password(url: str) -> str:
    return str(sa.make_url(url).password or "")


def _with_password(url: str, password: str) -> str:
    return sa.make_url(url).set(password=password).render_as_string(hide_password=False)


def test_create_then_open_by_url_and_info_names_the_url_without_password(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with create_project(pg_url, "ward 7") as project:
        add_rater(project, "Dr A")
    plain = (sa.make_url(pg_url).set(drivername="postgresql")
             .render_as_string(hide_password=False).replace(f":{_password(pg_url)}@", "@"))
    monkeypatch.setenv("PGPASSWORD", _password(pg_url))  # libpq reads it; the URL has none
    with open_project(plain) as project:
        info = project_info(project)
        assert info.name == "ward 7" and info.counts["physicians"] == 1
        assert info.schema_revision == schema.head_revision()
        assert info.path == plain
    with pytest.raises(ProjectError, match="not empty"):
        create_project(pg_url, "again")


def test_password_is_never_in_a_message(pg_url: str) -> None:
    create_project(pg_url, "p").close()
    secret = "s3cr3t-Pw"
    unreachable = sa.make_url(_with_password(pg_url, secret)).set(port=1)
    with pytest.raises(ProjectError) as err:
        open_project(unreachable.render_as_string(hide_password=False))
    assert secret not in err.value.message and "cannot open the database" in err.value.message
    with open_project(pg_url) as project:  # the test server's own password: not shown either
        assert _password(pg_url) not in project.location
        assert _password(pg_url) not in project_info(project).path
    with pytest.raises(ProjectError) as err:
        open_project("postgresql://u:" + secret + "@host:notaport/db")
    assert secret not in err.value.message


class _MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[_MemoryKeyring]:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_password_comes_from_the_keyring_and_tls_options_pass_through(
        memory_keyring: _MemoryKeyring) -> None:
    memory_keyring.set_password("medreview-postgres", "lead@db.example:5433/study", "kr-pw")
    server = parse_server_url(
        "postgresql://lead@db.example:5433/study?sslmode=verify-full&sslrootcert=/ca.pem")
    assert server.password == "kr-pw"
    assert connect_args(server, read_only=False)["password"] == "kr-pw"
    assert server.url.query == {"sslmode": "verify-full", "sslrootcert": "/ca.pem"}
    assert "kr-pw" not in server.display and "kr-pw" not in repr(server)
    assert server.display.startswith("postgresql://lead@db.example:5433/study?")


def test_another_schema_is_refused_naming_who_migrates_then_migrate_brings_it_to_head(
        pg_url: str) -> None:
    create_project(pg_url, "p").close()
    engine = sa.create_engine(pg_url)
    cfg = schema.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    engine.dispose()
    with pytest.raises(ProjectError, match=r"the study lead migrates it with `medreview migrate "
                                           r"postgresql://medreview@"):
        open_project(pg_url)
    assert migrate_project(pg_url) == ("0006", schema.head_revision())
    assert migrate_project(pg_url) == (schema.head_revision(), schema.head_revision())
    open_project(pg_url).close()


def test_read_only_is_refused_by_the_app_and_by_the_server(pg_url: str) -> None:
    create_project(pg_url, "p").close()
    with open_project(pg_url, read_only=True) as project:
        with pytest.raises(ProjectReadOnly):
            add_rater(project, "Dr B")
        with project.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError,
                                                              match="read-only transaction"):
            conn.execute(sa.text("INSERT INTO rater (name, kind, pseudonym, is_adjudicator, "
                                 "created_at) VALUES ('x', 'physician', 'P9', false, now())"))


def test_writers_on_many_connections_number_revisions_without_gaps_or_collisions(
        pg_url: str) -> None:
    with create_project(pg_url, "p") as project:
        add_form(project, load_template("healthbench"))
        ingest(project, located([case("a"), output("a", "m1", "Give 10 mg.")]),
               source="t", importer="t")
        rater = add_rater(project, "Dr A")
        out_id = grading.load_queue(project, rater.id)[0].output_id
    errors: list[BaseException] = []

    def grade(worker: int) -> None:
        try:
            with open_project(pg_url) as mine:  # its own engine: like another process
                for i in range(8):
                    draft = JudgmentDraft(answers={"overall_comment": f"w{worker} #{i}"})
                    grading.save_revision(mine, rater.id, out_id, draft)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=grade, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_project(pg_url) as project:
        numbers = [h.revision_no for h in grading.history(project, rater.id, out_id)]
    assert numbers == list(range(1, 33))


def test_a_folder_project_is_migrated_with_a_backup(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    create_project(folder, "p").close()
    assert migrate_project(folder) == (schema.head_revision(), schema.head_revision())


def test_a_writer_waits_for_the_lock_says_so_and_gives_up_with_nothing_changed(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from medreview.errors import ProjectBusy

    create_project(pg_url, "p").close()
    monkeypatch.setenv("MEDREVIEW_WRITE_WAIT_S", "2.5")
    said: list[str] = []
    with open_project(pg_url) as holder, open_project(pg_url) as waiter:
        waiter.set_writer_wait_callback(said.append)
        with holder.writer("import of a.jsonl"), holder.transaction() as s:
            s.execute(sa.text("SELECT 1"))  # holds the write lock until the block ends
            with pytest.raises(ProjectBusy, match=r"another writer \(import of a.jsonl, "
                                                  r"medreview\) .* nothing was changed"):
                add_rater(waiter, "Dr W")
            assert said and said[0].startswith(
                "waiting for another writer (import of a.jsonl, medreview)… ")
            with waiter.read() as r:  # reads never wait
                assert r.execute(sa.text("SELECT count(*) FROM rater")).scalar_one() == 0
        add_rater(waiter, "Dr W")  # the lock is free again


def test_a_newer_schema_is_refused_and_not_migrated(pg_url: str) -> None:
    create_project(pg_url, "p").close()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for attempt in (open_project, migrate_project):
        with pytest.raises(ProjectError, match=r"made by a newer medreview \(schema 9999\); "
                                               r"this version supports schemas up to"):
            attempt(pg_url)
