"""The database media store (used by PostgreSQL projects; its tables exist on SQLite too, so its
rules are tested here without a server) and ``copy_project`` between folders; server URLs as
CLI arguments and in messages."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.cli.common import project_arg
from medreview.errors import InputError, ProjectError
from medreview.services.projects import copy_project, create_project, open_project, project_info
from medreview.storage import schema
from medreview.storage.engine import make_engine
from medreview.storage.server_media import CHUNK, DatabaseMediaStore
from medreview.storage.server_url import is_database_url, parse_server_url


@pytest.fixture
def store(tmp_path: Path) -> DatabaseMediaStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema.upgrade(engine)
    return DatabaseMediaStore(engine, tmp_path / "cache", location="db")


def _rows(store: DatabaseMediaStore, sql: str) -> list[tuple[object, ...]]:
    with store._read.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_blobs_are_chunked_deduplicated_and_read_back_whole(store: DatabaseMediaStore,
                                                            tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK + 123)
    src = tmp_path / "scan.dcm"
    src.write_bytes(data)
    digest, size = store.add(src)
    assert size == len(data) and store.add(src) == (digest, size)
    assert store.add_bytes(data) == (digest, size)
    assert _rows(store, "SELECT sha256, size, chunks FROM media_blob") == [(digest, size, 3)]
    assert [r[0] for r in _rows(store, "SELECT length(data) FROM media_chunk ORDER BY seq")] == [
        CHUNK, CHUNK, 123]
    assert store.open_verified(digest).read_bytes() == data
    assert store.path_for(digest).read_bytes() == data
    assert store.verify(digest) == len(data)


def test_a_damaged_or_short_blob_is_an_error_never_a_file(store: DatabaseMediaStore) -> None:
    digest, _ = store.add_bytes(os.urandom(CHUNK + 10))
    with store._write.begin() as conn:
        conn.execute(sa.text("UPDATE media_chunk SET data = zeroblob(10) WHERE seq = 1"))
    with pytest.raises(ProjectError, match="damaged in the database"):
        store.open_verified(digest)
    assert not store.path_for(digest).exists()
    with store._write.begin() as conn:
        conn.execute(sa.text("DELETE FROM media_chunk WHERE seq = 1"))
    with pytest.raises(ProjectError, match=r"in 1 chunks; expected \d+ in 2"):
        store.verify(digest)
    with pytest.raises(ProjectError, match="missing"):
        store.open_verified("ab" * 32)
    with pytest.raises(ProjectError, match="not a media hash"):
        store.open_verified("../../etc/passwd")


def test_a_stream_that_is_not_what_it_claims_is_not_stored(store: DatabaseMediaStore) -> None:
    data = b"x" * 100
    with pytest.raises(InputError, match="changed while it was being stored"):
        store.add_chunks("ab" * 32, 100, iter([data]))
    assert _rows(store, "SELECT count(*) FROM media_blob") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM media_chunk") == [(0,)]


def test_two_writers_adding_the_same_file_store_it_once(store: DatabaseMediaStore) -> None:
    data = os.urandom(CHUNK + 1)
    errors: list[BaseException] = []

    def add() -> None:
        try:
            store.add_bytes(data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _rows(store, "SELECT count(*), sum(chunks) FROM media_blob") == [(1, 2)]


def test_remove_takes_blob_chunks_and_cached_copy(store: DatabaseMediaStore) -> None:
    digest, _ = store.add_bytes(b"scan")
    cached = store.open_verified(digest)
    store.remove(digest)
    assert not store.has(digest) and not cached.exists()
    assert _rows(store, "SELECT count(*) FROM media_chunk") == [(0,)]


def test_copy_between_folders_is_verified_and_refuses_a_used_destination(tmp_path: Path) -> None:
    src = tmp_path / "src"
    with create_project(src, "p") as project:
        project.media.add_bytes(b"not yet attached")  # no row names it: not copied
    report = copy_project(src, tmp_path / "dst")
    assert report.verified and report.media == 0 and report.rows >= 1
    with open_project(tmp_path / "dst") as copy:
        assert project_info(copy).name == "p"
        assert project_info(copy).schema_revision == report.revision == schema.head_revision()
    with pytest.raises(ProjectError, match="not empty"):
        copy_project(src, tmp_path / "dst")


def test_server_urls_are_kept_as_text_and_never_show_a_password() -> None:
    url = "postgresql://lead:pw-123@db.example:5433/study?sslmode=require"
    assert project_arg(url) == url and is_database_url(url)
    assert project_arg("some/folder") == Path("some/folder")
    assert not is_database_url(Path("postgresql:/x"))
    server = parse_server_url(url, use_keyring=False)
    assert server.password == "pw-123" and server.url.password is None
    assert server.display == "postgresql://lead@db.example:5433/study?sslmode=require"
    assert server.redact("FATAL: password pw-123 rejected") == "FATAL: password *** rejected"
    for bad in ("postgresql://u:pw-123@h:port/db", "mysql://u:pw-123@h/db",
                "postgresql://u:pw-123@h:5432/"):
        with pytest.raises(ProjectError) as err:
            parse_server_url(bad, use_keyring=False)
        assert "pw-123" not in err.value.message
