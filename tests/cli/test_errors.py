"""Errors a person can act on: damaged, empty, newer and read-only projects; unexpected errors.

The damaged databases are made for real from a real project file: truncated, overwritten with
garbage (with and without the SQLite header), pages smashed in the middle, emptied.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from medreview.cli.main import main
from medreview.domain.records import Located, RatingRecord
from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form
from medreview.storage import project as storage_project
from medreview.storage.ingest import ingest
from medreview.storage.project import backup_database, create_project
from tests.storage.helpers import case, output

COMMANDS: list[list[str]] = [
    ["info", "{p}"],
    ["stats", "{p}", "--no-ci"],
    ["export", "{p}", "{out}"],
    ["export", "{p}", "{out}", "--kind", "media"],
    ["gui", "{p}"],
]


@pytest.fixture(scope="module")
def good_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "proj"
    with create_project(path, "good") as project:
        add_form(project, load_template("quality_harm"))
        records = []
        for i in range(400):
            records.append(case(f"c{i}", f"Case {i}: a long enough prompt " * 4))
            records += [output(f"c{i}", m, f"{m} answer {i} " * 10) for m in ("ma", "mb")]
        for i in range(40):  # two physicians' finished ratings, so statistics have data
            for r, rater in enumerate(("Dr A", "Dr B")):
                answers = {"overall_quality": 1 + (i + r * (i % 3 == 0)) % 5,
                           "harm_extent": i % 3, "harm_likelihood": (i + r) % 3,
                           "rationale": "because"}
                records.append(RatingRecord(case_external_id=f"c{i}", model="ma", rater=rater,
                                            rater_kind="physician", answers=answers))
        ingest(project, [Located(r, "f", n) for n, r in enumerate(records, 1)],
               source="f", importer="t")
    assert (path / "project.sqlite").stat().st_size > 400 * 1024
    return path


def _copy(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    (dest / "media").mkdir()
    (dest / "project.sqlite").write_bytes((src / "project.sqlite").read_bytes())
    return dest


def _truncate_half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _truncate_100(db: Path) -> None:
    os.truncate(db, 100)


def _empty(db: Path) -> None:
    os.truncate(db, 0)


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _garbage_with_header(db: Path) -> None:
    size = db.stat().st_size
    header = db.read_bytes()[:100]  # a valid header in front of random pages
    db.write_bytes(header + os.urandom(size - 100))


def _smash_pages(db: Path) -> None:
    with db.open("r+b") as fh:  # ten pages of random bytes in the middle of the data
        fh.seek(4096 * 40)
        fh.write(os.urandom(4096 * 10))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated-half": _truncate_half,
    "truncated-100-bytes": _truncate_100,
    "zero-length": _empty,
    "garbage": _garbage,
    "garbage-with-sqlite-header": _garbage_with_header,
    "page-smashed": _smash_pages,
}


def _run(args: list[str], p: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[
    int, list[str]
]:
    rc = main([a.format(p=p, out=out) for a in args])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "[" not in ln.split(":")[0]]
    return rc, lines


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_database_gives_one_line_and_a_failure_on_every_command(
    damage: str, good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _copy(good_project, tmp_path / "p")
    db = p / "project.sqlite"
    DAMAGE[damage](db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in COMMANDS:
        rc, lines = _run(args, p, tmp_path / "out", capsys)
        assert rc == 2, (args, lines)
        assert len(lines) == 1, (args, lines)
        assert "Traceback" not in lines[0] and "project.sqlite" in lines[0]
        assert "restore project.sqlite" in lines[0], lines[0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # never rewritten
    assert sorted(x.name for x in p.iterdir()) == ["media", "project.sqlite"]
    assert not (tmp_path / "out").exists()


def test_newer_schema_names_the_supported_version_and_makes_no_backups(
    good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medreview.storage.schema import head_revision

    p = _copy(good_project, tmp_path / "p")
    with sqlite3.connect(p / "project.sqlite") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    for args in COMMANDS:
        rc, lines = _run(args, p, tmp_path / "out", capsys)
        assert rc == 2 and len(lines) == 1, lines
        assert "newer medreview (schema 0099)" in lines[0]
        assert f"up to {head_revision()}" in lines[0]
    assert not list(p.glob("*.bak.sqlite"))


def test_upgrade_backup_is_made_once_per_version_while_the_database_is_unchanged(
    good_project: Path, tmp_path: Path
) -> None:
    db = _copy(good_project, tmp_path / "p") / "project.sqlite"
    first = backup_database(db, "schema-0001")
    assert backup_database(db, "schema-0001") == first
    assert len(list(db.parent.glob("*.bak.sqlite"))) == 1


def test_read_only_flag_browses_counts_and_exports_but_saves_nothing(
    good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _copy(good_project, tmp_path / "p")
    db = p / "project.sqlite"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert main(["--read-only", "info", str(p)]) == 0
    assert "cases                400" in capsys.readouterr().out
    assert main(["--read-only", "stats", str(p), "--no-ci"]) == 0
    assert main(["--read-only", "export", str(p), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "cases.csv").is_file()
    capsys.readouterr()
    src = tmp_path / "new.jsonl"
    src.write_text('{"case_id": "n1", "prompt": "q", "model": "m", "output": "a"}\n')
    assert main(["--read-only", "import", str(p), str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("the project is open read-only (opened read-only on request); "
                            "nothing can be saved")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    # SQLite itself refuses: a write through the read-only connection fails, even as root.
    project = storage_project.open_project(p, read_only=True)
    with project.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("DELETE FROM output")
    project.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_a_folder_that_cannot_be_written_opens_read_only(
    good_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = _copy(good_project, tmp_path / "p")
    # Root writes anywhere, so chmod proves nothing under root: ask the probe instead.
    monkeypatch.setattr(storage_project, "_writable", lambda path: Path(path) != p)
    with storage_project.open_project(p) as project:
        assert project.read_only_reason == "the project folder is not writable"
    assert main(["info", str(p)]) == 0
    capsys.readouterr()
    src = tmp_path / "new.jsonl"
    src.write_text('{"case_id": "n1", "prompt": "q", "model": "m", "output": "a"}\n')
    assert main(["import", str(p), str(src)]) == 2
    assert "the project folder is not writable" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes; the probe test covers it")
def test_chmod_read_only_project_opens_read_only(
    good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = _copy(good_project, tmp_path / "p")
    (p / "project.sqlite").chmod(0o444)
    p.chmod(0o555)
    try:
        assert main(["info", str(p)]) == 0
        assert main(["stats", str(p), "--no-ci"]) == 0
    finally:
        p.chmod(0o755)


def test_unexpected_error_prints_one_line_naming_the_log(
    good_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import medreview.services.projects as projects

    logs = tmp_path / "logs"
    monkeypatch.setenv("MEDREVIEW_LOG_DIR", str(logs))

    def broken(project: object) -> None:
        raise ValueError("something nobody expected")

    monkeypatch.setattr(projects, "project_info", broken)
    assert main(["info", str(good_project)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "internal error: ValueError: something nobody expected" in err[0]
    assert str(logs / "errors.log") in err[0]
    text = (logs / "errors.log").read_text()
    assert "Traceback (most recent call last)" in text and "broken" in text


def test_database_error_after_opening_is_one_line_too(
    good_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import medreview.services.projects as projects

    monkeypatch.setenv("MEDREVIEW_LOG_DIR", str(tmp_path / "logs"))

    def damaged(project: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(projects, "project_info", damaged)
    assert main(["info", str(good_project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the database is damaged" in err[0]


def test_immutable_fallback_only_without_a_pending_write_ahead_log(
    good_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medreview.errors import ProjectError
    from medreview.storage.engine import read_only_connector

    p = _copy(good_project, tmp_path / "p")
    used: list[bool] = []

    def connector(path: Path, *, immutable: bool = False) -> Callable[[], sqlite3.Connection]:
        real = read_only_connector(path, immutable=immutable)

        def connect() -> sqlite3.Connection:
            used.append(immutable)
            if not immutable:  # as in a folder where SQLite cannot create project.sqlite-shm
                raise sqlite3.OperationalError("unable to open database file")
            return real()

        return connect

    monkeypatch.setattr(storage_project, "read_only_connector", connector)
    with storage_project.open_project(p, read_only=True) as project, project.read() as s:
        assert s.execute(text('SELECT count(*) FROM "case"')).scalar() == 400
    assert used[0] is False and used[-1] is True
    (p / "project.sqlite-wal").write_bytes(b"unfinished commits")
    with pytest.raises(ProjectError, match="write-ahead log"):
        storage_project.open_project(p, read_only=True)


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["import", "somewhere", "--rater-kind", "nobody"],
    ["export", "p", "out", "--kind", "everything"],
])
def test_usage_errors_are_one_line_naming_the_help(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage:" not in err
    assert "error:" in err and "--help)" in err
