"""A PostgreSQL project whose media live in a shared folder chosen at creation: created with
``init --media-folder``, copied to and from a project folder both ways (verified), found through
``MEDREVIEW_MEDIA_FOLDER`` when the share is mounted elsewhere, and still usable (cases,
grading, statistics) when it is not reachable at all. Hostile settings and files: one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.cli.main import main
from medreview.demo import build_demo_project
from medreview.errors import ProjectError
from medreview.services.grading import load_item
from medreview.services.projects import list_raters, media_problem, open_project
from medreview.storage.media import SharedFolderMediaStore, UnavailableMediaStore
from medreview.storage.media_location import ENV_VAR


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


def _one_line(err: str, command: str) -> str:
    errors = [ln for ln in err.splitlines() if not ln.startswith(f"{command} ")]
    assert len(errors) == 1 and errors[0].startswith(f"medreview {command}: error: "), err
    assert "Traceback" not in err
    return errors[0]


def _sql(pg_url: str, query: str, **params: object) -> list[sa.Row[object]]:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        result = conn.execute(sa.text(query), params)
        rows = list(result) if result.returns_rows else []
    engine.dispose()
    return rows


def _files(folder: Path) -> dict[str, bytes]:
    return {p.parent.name + p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_init_records_the_folder_and_imports_go_there(
        pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    share = tmp_path / "share"
    share.mkdir()
    code, out, err = run(capsys, "init", pg_url, "--media-folder", share)
    assert code == 0, err
    assert f"media in the shared folder {share}" in out
    [(settings,)] = _sql(pg_url, "SELECT settings FROM project")
    assert settings == {"media_folder": str(share)}
    with open_project(pg_url) as project:
        assert isinstance(project.media, SharedFolderMediaStore)
        digest, _ = project.media.add_bytes(b"\x89PNG not really")
        assert project.media.open_verified(digest).read_bytes() == b"\x89PNG not really"
    assert (share / digest[:2] / digest[2:]).is_file()
    assert _sql(pg_url, "SELECT count(*) FROM media_blob")[0][0] == 0
    code, out, _ = run(capsys, "info", pg_url)
    assert code == 0 and f"media: shared folder {share}" in out


@pytest.mark.parametrize("make, reason", [
    (lambda t: "relative/media", "relative path"),
    (lambda t: str(t / "missing"), "does not exist"),
    (lambda t: str(t / "a-file"), "is a file, not a folder"),
])
def test_init_refuses_a_bad_folder_before_touching_the_database(
        pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        make: object, reason: str) -> None:
    (tmp_path / "a-file").write_text("x")
    folder = make(tmp_path)  # type: ignore[operator]
    code, _, err = run(capsys, "init", pg_url, "--media-folder", folder)
    assert code == 2 and reason in _one_line(err, "init")
    assert _sql(pg_url, "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = 'public'")[0][0] == 0


def test_a_project_folder_refuses_a_media_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "share").mkdir()
    code, _, err = run(capsys, "init", tmp_path / "p", "--media-folder", tmp_path / "share")
    assert code == 2 and "only for a PostgreSQL project" in _one_line(err, "init")
    assert not (tmp_path / "p").exists()


def test_copy_both_ways_through_a_shared_folder_is_verified_and_identical(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    share = tmp_path / "share"
    share.mkdir()
    there = _json(capsys, "copy", demo, pg_url, "--media-folder", share, "--json")
    assert there["verified"] is True and there["media"] == 85
    assert _files(share) == _files(demo / "media")  # every medium, byte for byte
    assert _sql(pg_url, "SELECT count(*) FROM media_blob")[0][0] == 0
    [(settings,)] = _sql(pg_url, "SELECT settings FROM project")
    assert settings["media_folder"] == str(share)

    back = tmp_path / "back"
    code, out, err = run(capsys, "copy", pg_url, back)
    assert code == 0 and "verified" in out, err
    assert _files(back / "media") == _files(demo / "media")
    code, out, _ = run(capsys, "info", back)
    assert f"media: folder {back / 'media'}" in out  # the folder keeps its own media/

    infos = [_json(capsys, "info", where, "--json") for where in (demo, pg_url, back)]
    for info in infos:
        info.pop("path")
    assert infos[0] == infos[1] == infos[2]
    stats = [_json(capsys, "stats", where, "--json", "--no-ci") for where in (demo, pg_url, back)]
    assert stats[0] == stats[1] == stats[2]
    # The folder copy does not carry the server's media folder along: copied to another
    # database without one, its media go into that database.
    with open_project(back) as project:
        from medreview.storage.project_info import project_settings

        assert "media_folder" not in project_settings(project)


def _copied(demo: Path, pg_url: str, share: Path, capsys: pytest.CaptureFixture[str]) -> None:
    share.mkdir()
    assert run(capsys, "copy", demo, pg_url, "--media-folder", share)[0] == 0


def _an_image(project: object) -> tuple[int, int, str]:
    """(rater id, output id, sha256) of an output whose case has an image."""
    from sqlalchemy import select

    from medreview.storage.models import AttachmentRow, OutputRow

    with project.read() as s:  # type: ignore[attr-defined]
        case_id, digest = s.execute(select(AttachmentRow.case_id, AttachmentRow.sha256)
                                    .where(AttachmentRow.kind != "document").limit(1)).one()
        output_id = s.execute(select(OutputRow.id).where(OutputRow.case_id == case_id)
                              .limit(1)).scalar_one()
    rater = list_raters(project, "physician")[0]  # type: ignore[arg-type]
    return rater.id, output_id, digest


def test_a_share_mounted_elsewhere_is_found_through_the_override(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    share = tmp_path / "share"
    _copied(demo, pg_url, share, capsys)
    moved = tmp_path / "mounted-here"
    share.rename(moved)

    # Not reachable: the project opens; cases, grading and statistics work without images.
    code, out, err = run(capsys, "info", pg_url)
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "media:" in ln)
    assert "NOT REACHABLE" in line and str(share) in line and ENV_VAR in line
    assert run(capsys, "stats", pg_url, "--json", "--no-ci")[0] == 0
    with open_project(pg_url) as project:
        assert isinstance(project.media, UnavailableMediaStore)
        rater_id, output_id, digest = _an_image(project)
        item = load_item(project, rater_id, output_id)
        paths = [a.path for s in item.series for a in s.attachments]
        assert paths and not any(p.exists() for p in paths)  # the viewer's "missing"
        with pytest.raises(ProjectError, match=f"{share}.*{ENV_VAR}"):
            project.media.open_verified(digest)
        problem = media_problem(project)
        assert problem is not None and str(share) in problem and ENV_VAR in problem
    code, _, err = run(capsys, "copy", pg_url, tmp_path / "out")
    assert code == 2 and "not reachable" in _one_line(err, "copy")
    assert not (tmp_path / "out").exists()

    # This computer mounts the share elsewhere: the override finds it, reads verified.
    monkeypatch.setenv(ENV_VAR, str(moved))
    with open_project(pg_url) as project:
        assert isinstance(project.media, SharedFolderMediaStore)
        assert media_problem(project) is None
        item = load_item(project, rater_id, output_id)
        paths = [a.path for s in item.series for a in s.attachments]
        assert paths and all(p.is_file() and str(p).startswith(str(moved)) for p in paths)
        assert hashlib.sha256(project.media.open_verified(digest).read_bytes()).hexdigest() \
            == digest
    assert run(capsys, "copy", pg_url, tmp_path / "back")[0] == 0


def test_altered_and_linked_files_in_the_share_are_refused(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    share = tmp_path / "share"
    _copied(demo, pg_url, share, capsys)
    blobs = sorted(p for p in share.rglob("*") if p.is_file())
    altered, linked = blobs[0], blobs[1]
    altered.write_bytes(altered.read_bytes() + b"tampered")
    outside = tmp_path / "outside.bin"
    shutil.copyfile(linked, outside)  # same bytes, but outside the folder: still refused
    linked.unlink()
    os.symlink(outside, linked)
    with open_project(pg_url) as project:
        bad = altered.parent.name + altered.name
        with pytest.raises(ProjectError, match="damaged"):
            project.media.open_verified(bad)
        assert not project.media.path_for(bad).exists()
        link = linked.parent.name + linked.name
        with pytest.raises(ProjectError, match="link to somewhere else"):
            project.media.open_verified(link)
        assert not project.media.path_for(link).exists()
    code, _, err = run(capsys, "copy", pg_url, tmp_path / "back")
    assert code == 2 and ("damaged" in err or "link to somewhere else" in err)
    _one_line(err, "copy")
    assert not (tmp_path / "back").exists()


@pytest.mark.parametrize("value, reason", [
    ("42", "is not a path but int"),
    ('"media/shared"', "is a relative path"),
    ('{"path": "/etc"}', "is not a path but dict"),
])
def test_a_hostile_settings_value_is_never_a_path(
        demo: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        value: str, reason: str) -> None:
    _copied(demo, pg_url, tmp_path / "share", capsys)
    from medreview.storage.models import ProjectRow

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.update(ProjectRow).values(settings={"media_folder": json.loads(value)}))
    engine.dispose()
    code, out, err = run(capsys, "info", pg_url)
    assert code == 0, err
    assert reason in out and "NOT REACHABLE" in out
    assert run(capsys, "stats", pg_url, "--json", "--no-ci")[0] == 0
    code, _, err = run(capsys, "copy", pg_url, tmp_path / "back")
    assert code == 2 and reason in _one_line(err, "copy")
