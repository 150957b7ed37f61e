"""Opening an unchanged project skips ``PRAGMA quick_check`` (remembered by the file's
fingerprint in the user's cache folder); any change to the file, a hostile or damaged cache,
or damage the fingerprint cannot see never turns into a silent pass or a traceback.

Real project files throughout; the scan is counted by wrapping ``health._quick_check``. The
tests set ``RACY_NS`` to 0 where they need a file that was just written to count as settled
(real use waits 3 s; ``test_a_file_written_just_now_is_scanned_every_time`` keeps it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from medreview.cli.main import main
from medreview.errors import ProjectError
from medreview.storage import health, integrity_cache
from medreview.storage.project import create_project, open_project
from tests.cli.test_errors import _copy, _smash_pages, good_project
from tests.pg_backend import enabled as on_postgres

__all__ = ["good_project"]  # the module-scoped fixture, shared with tests/cli/test_errors.py

SQLITE = pytest.mark.sqlite_only(reason="the fingerprint is of the SQLite file")


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each full scan's database path, in order."""
    done: list[Path] = []
    real = health._quick_check

    def counting(engine: Engine, db_path: Path) -> None:
        done.append(db_path)
        real(engine, db_path)

    monkeypatch.setattr(health, "_quick_check", counting)
    return done


@pytest.fixture
def settled_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity_cache, "RACY_NS", 0)


def _cache() -> Path:
    return Path(os.environ["MEDREVIEW_HOME"]) / "cache" / integrity_cache.CACHE_NAME


def _open_close(path: Path, read_only: bool | None = None) -> None:
    open_project(path, read_only=read_only).close()


@SQLITE
def test_an_unchanged_project_is_scanned_once_by_every_kind_of_open(
    good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = _copy(good_project, tmp_path / "p")
    _open_close(p)
    _open_close(p)
    _open_close(p, read_only=True)  # mode=ro leaves an empty -wal behind: it holds nothing
    assert main(["info", str(p)]) == 0
    assert main(["stats", str(p), "--no-ci"]) == 0
    assert main(["--read-only", "stats", str(p), "--no-ci"]) == 0
    capsys.readouterr()
    assert scans == [p / "project.sqlite"]
    entries = json.loads(_cache().read_text())["entries"]
    assert [e[0] for e in entries] == [os.path.realpath(p / "project.sqlite")]


@SQLITE
def test_a_write_means_a_new_scan(
    good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None
) -> None:
    from medreview.services.projects import add_rater

    p = _copy(good_project, tmp_path / "p")
    _open_close(p)
    with open_project(p) as project:
        add_rater(project, "Dr New")
    _open_close(p)
    _open_close(p)
    assert len(scans) == 2


@SQLITE
def test_a_file_written_just_now_is_scanned_every_time(
    good_project: Path, tmp_path: Path, scans: list[Path]
) -> None:
    """A write in the same timestamp tick as the fingerprint would not show: not remembered."""
    p = _copy(good_project, tmp_path / "p")
    _open_close(p)
    _open_close(p)
    assert len(scans) == 2
    assert not _cache().exists()


def test_settled_needs_every_timestamp_older_than_the_window() -> None:
    now = 10 * integrity_cache.RACY_NS
    old = now - integrity_cache.RACY_NS - 1
    fp: integrity_cache.Fingerprint = [[1, 2, 3, old, old], "h", None]
    assert integrity_cache.settled(fp, now)
    fp[2] = [1, 3, 8, old, now - 5]  # a -wal whose ctime is recent
    assert not integrity_cache.settled(fp, now)
    assert not integrity_cache.settled([[1, 2, 3, old, now + 10**9], "h", None], now)  # future


@SQLITE
def test_pages_smashed_with_the_mtime_put_back_are_refused_in_one_line(
    good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``os.utime`` restores mtime but not ctime (and size, inode and header are the same):
    the fingerprint differs, so the full scan runs and refuses, on every command."""
    p = _copy(good_project, tmp_path / "p")
    db = p / "project.sqlite"
    _open_close(p)
    st = db.stat()
    _smash_pages(db)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert db.stat().st_mtime_ns == st.st_mtime_ns and db.stat().st_size == st.st_size
    with pytest.raises(ProjectError, match="the database is damaged"):
        _open_close(p)
    for args in (["info", str(p)], ["stats", str(p), "--no-ci"],
                 ["export", str(p), str(tmp_path / "out")], ["gui", str(p)]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "the database is damaged" in err[0], err
        assert "restore project.sqlite" in err[0]
    assert len(scans) == 6  # 1 good + 5 refusals


@SQLITE
def test_damage_the_fingerprint_cannot_see_fails_at_the_first_read_in_one_line(
    good_project: Path, tmp_path: Path, settled_now: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bit rot below the file system (or a forged cache entry) changes no fingerprint: the
    scan is skipped, and SQLite's "malformed" at the first read is still one line."""
    p = _copy(good_project, tmp_path / "p")
    db = p / "project.sqlite"
    _smash_pages(db)
    fp = integrity_cache.fingerprint(db)
    assert fp is not None
    integrity_cache.remember(db, fp)
    _open_close(p)  # skipped: the exact fingerprint "passed"
    for args in (["info", str(p)], ["stats", str(p), "--no-ci"],
                 ["export", str(p), str(tmp_path / "out")]):
        assert main(args) == 2, args
        err = [ln for ln in capsys.readouterr().err.splitlines()
               if ln.strip() and "[" not in ln.split(":")[0]]  # progress bars
        assert len(err) == 1, err
        assert "the database is damaged" in err[0] and "malformed" in err[0]
        assert "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def _valid_cache_for(db: Path) -> dict[str, object]:
    fp = integrity_cache.fingerprint(db)
    return {"version": integrity_cache.VERSION, "entries": [[os.path.realpath(db), fp]]}


def _garbage(cache: Path, db: Path) -> None:
    cache.write_bytes(os.urandom(4000))


def _huge(cache: Path, db: Path) -> None:
    text = json.dumps(_valid_cache_for(db))  # the right entry, padded past the limit
    cache.write_text(text[:-1] + " " * integrity_cache.MAX_BYTES + "}")


def _deeply_nested(cache: Path, db: Path) -> None:
    cache.write_text("[" * (integrity_cache.MAX_BYTES - 10))  # json.loads: RecursionError


def _wrong_version(cache: Path, db: Path) -> None:
    cache.write_text(json.dumps({**_valid_cache_for(db), "version": 99}))


def _wrong_shapes(cache: Path, db: Path) -> None:
    fp = integrity_cache.fingerprint(db)
    assert fp is not None and isinstance(fp[0], list)
    loose = [[str(v) for v in fp[0]], fp[1], fp[2]]  # "12" is not 12
    cache.write_text(json.dumps({"version": 1, "entries": [
        {"key": 1}, [1, fp], [os.path.realpath(db)], [os.path.realpath(db), loose],
        [os.path.realpath(db), None]]}))


def _symlink(cache: Path, db: Path) -> None:
    target = cache.with_name("elsewhere.json")
    target.write_text(json.dumps(_valid_cache_for(db)))
    cache.symlink_to(target)


def _fifo(cache: Path, db: Path) -> None:
    os.mkfifo(cache)  # opening it for reading would block without O_NONBLOCK


BAD_CACHES = {"garbage": _garbage, "huge": _huge, "deeply-nested": _deeply_nested,
              "wrong-version": _wrong_version,
              "wrong-shapes": _wrong_shapes, "symlink": _symlink, "fifo": _fifo}


@SQLITE
@pytest.mark.parametrize("kind", list(BAD_CACHES))
def test_a_bad_cache_file_is_ignored_and_replaced(
    kind: str, good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None
) -> None:
    if kind in ("symlink", "fifo") and sys.platform == "win32":
        pytest.skip("POSIX file kinds")
    p = _copy(good_project, tmp_path / "p")
    db = p / "project.sqlite"
    cache = _cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    BAD_CACHES[kind](cache, db)
    _open_close(p)
    assert scans == [db]  # nothing in the bad file was trusted
    assert cache.is_file() and not cache.is_symlink()  # replaced by a good one, not followed
    assert json.loads(cache.read_text()) == _valid_cache_for(db)
    if kind == "symlink":
        assert json.loads(cache.with_name("elsewhere.json").read_text())["entries"]  # untouched
    _open_close(p)
    assert scans == [db]


@SQLITE
def test_an_unusable_cache_folder_means_a_scan_on_every_open(
    good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = _copy(good_project, tmp_path / "p")
    not_a_folder = tmp_path / "home-is-a-file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("MEDREVIEW_HOME", str(not_a_folder))
    _open_close(p)
    _open_close(p)
    assert len(scans) == 2


@SQLITE
def test_two_projects_and_a_copy_of_one(
    good_project: Path, tmp_path: Path, scans: list[Path], settled_now: None
) -> None:
    a = _copy(good_project, tmp_path / "a")
    b = _copy(good_project, tmp_path / "b")
    for p in (a, b, a, b):
        _open_close(p)
    assert scans == [a / "project.sqlite", b / "project.sqlite"]
    c = tmp_path / "c"
    shutil.copytree(a, c)  # same bytes and mtime, another file: scanned on its own
    _open_close(c)
    _open_close(a)
    assert scans[2:] == [c / "project.sqlite"]


def test_the_cache_stays_small(tmp_path: Path) -> None:
    fp: integrity_cache.Fingerprint = [[1, 2, 3, 4, 5], "ab" * 32, None]
    for i in range(3 * integrity_cache.MAX_ENTRIES):
        integrity_cache.remember(tmp_path / f"{i:04d}" / ("long-name-" * 20), fp)
    data = json.loads(_cache().read_text())
    assert len(data["entries"]) == integrity_cache.MAX_ENTRIES
    assert _cache().stat().st_size <= integrity_cache.MAX_BYTES
    newest = tmp_path / f"{3 * integrity_cache.MAX_ENTRIES - 1:04d}" / ("long-name-" * 20)
    assert integrity_cache.passed_before(newest, fp)
    assert not integrity_cache.passed_before(tmp_path / "0000" / ("long-name-" * 20), fp)
    assert not list(_cache().parent.glob(".integrity-*"))  # no temporary files left


def test_server_projects_are_never_scanned(
    tmp_path: Path, scans: list[Path], settled_now: None
) -> None:
    """On PostgreSQL (the second CI run) no SQLite check runs and nothing is remembered."""
    p = tmp_path / "p"
    create_project(p, "p").close()
    _open_close(p)
    _open_close(p)
    if on_postgres():
        assert scans == [] and not _cache().exists()
    else:
        assert scans == [p / "project.sqlite"]
