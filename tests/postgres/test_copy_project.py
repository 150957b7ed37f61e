"""``medreview copy``: the demo to PostgreSQL and back is the same project (info, statistics,
every medium); refusals are one line and leave the destination as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.cli.main import main
from medreview.demo import build_demo_project
from medreview.services.projects import open_project


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: object) -> dict[str, object]:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo")


def _one_error_line(err: str) -> bool:
    """Progress lines, then exactly one error line and no traceback."""
    errors = [ln for ln in err.splitlines() if not ln.startswith("copy ")]
    return len(errors) == 1 and errors[0].startswith("medreview copy: error: ")


def _blob_count(pg_url: str) -> int:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text("SELECT count(*) FROM media_blob")).scalar_one())
    engine.dispose()
    return n


def test_demo_to_postgresql_and_back_has_identical_info_and_statistics(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    password = str(sa.make_url(pg_url).password or "")
    there = _json(capsys, "copy", demo, pg_url, "--json")
    assert there["verified"] is True and there["media"] == 85 and int(str(there["rows"])) > 500
    assert password not in json.dumps(there)
    back = tmp_path / "back"
    code, out, err = run(capsys, "copy", pg_url, back)
    assert code == 0, err
    assert "verified" in out and password not in out + err

    infos = [_json(capsys, "info", where, "--json") for where in (demo, pg_url, back)]
    shown = sa.make_url(pg_url).set(drivername="postgresql").render_as_string()
    assert infos[1]["path"] == shown.replace(":***@", "@")
    for info in infos:
        info.pop("path")
    assert infos[0] == infos[1] == infos[2]
    stats = [_json(capsys, "stats", where, "--json", "--no-ci") for where in (demo, pg_url, back)]
    assert stats[0] == stats[1] == stats[2]

    # Every medium came back byte for byte (content-addressed names, so equal names = equal bytes
    # once each is verified on read).
    with open_project(back) as project:
        names = sorted(p.name for p in (back / "media").rglob("*") if p.is_file())
        originals = sorted(p.name for p in (demo / "media").rglob("*") if p.is_file())
        assert names == originals
        for p in (back / "media").rglob("*"):
            if p.is_file():
                project.media.open_verified(p.parent.name + p.name)


def test_media_in_the_database_are_verified_on_read(
        demo: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "copy", demo, pg_url)[0] == 0
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        digest, chunks = conn.execute(sa.text(
            "SELECT sha256, chunks FROM media_blob WHERE chunks > 0 ORDER BY size DESC LIMIT 1"
        )).one()
        assert chunks >= 1
        conn.execute(sa.text("UPDATE media_chunk SET data = set_byte(data, 7, "
                             "(get_byte(data, 7) + 1) % 256) WHERE sha256 = :d AND seq = 0"),
                     {"d": digest})
    engine.dispose()
    from medreview.errors import ProjectError

    with open_project(pg_url) as project:
        with pytest.raises(ProjectError, match="damaged in the database"):
            project.media.open_verified(digest)
        cached = project.media.path_for(digest)
        assert not cached.exists()  # a damaged blob never reaches the cache as a file


def test_refusals_are_one_line_and_leave_the_destination_as_it_was(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Text PostgreSQL cannot store: named, and the media already sent are taken back.
    hostile = tmp_path / "hostile"
    assert run(capsys, "copy", demo, hostile)[0] == 0
    with sqlite3.connect(hostile / "project.sqlite") as conn:
        conn.execute("UPDATE output SET text = 'dose' || char(0) || 'x' WHERE id = 3")
    conn.close()
    code, _, err = run(capsys, "copy", hostile, pg_url)
    assert code == 2 and _one_error_line(err)
    assert "output (id=3): column text holds a NUL" in err
    assert _blob_count(pg_url) == 0
    # The database stayed empty, so the copy can be made once the source is mended.
    assert run(capsys, "copy", demo, pg_url)[0] == 0
    code, _, err = run(capsys, "copy", demo, pg_url)
    assert code == 2 and _one_error_line(err) and "not empty" in err
    # Into a folder that is not empty: refused before anything is written.
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "copy", pg_url, tmp_path / "full")
    assert code == 2 and "not empty" in err
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
