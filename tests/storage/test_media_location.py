"""Where a server project's media live (``storage/media_location``) and the shared-folder store's
refusals: hostile settings values, a moved share, links out of the folder, altered files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from medreview.errors import ProjectError
from medreview.storage.media import SharedFolderMediaStore, UnavailableMediaStore
from medreview.storage.media_location import (
    ENV_VAR,
    SETTINGS_KEY,
    check_new_folder,
    choose_folder,
    path_problem,
    with_folder,
)


def test_settings_without_a_folder_mean_media_in_the_database() -> None:
    assert choose_folder({}, {}) is None
    assert choose_folder(None, {}) is None
    assert choose_folder(["not", "a", "dict"], {}) is None
    assert choose_folder({"lease": {"seconds": 60}}, {ENV_VAR: "/tmp"}) is None


def test_the_recorded_folder_is_used_when_it_exists(tmp_path: Path) -> None:
    choice = choose_folder({SETTINGS_KEY: str(tmp_path)}, {})
    assert choice is not None and choice.folder == tmp_path and choice.problem is None


def test_the_override_wins_and_a_missing_override_falls_back(tmp_path: Path) -> None:
    here = tmp_path / "mounted-here"
    here.mkdir()
    settings = {SETTINGS_KEY: r"\\fileserver\study\media"}  # recorded on a Windows computer
    choice = choose_folder(settings, {ENV_VAR: str(here)})
    assert choice is not None and choice.folder == here
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    choice = choose_folder({SETTINGS_KEY: str(recorded)}, {ENV_VAR: str(tmp_path / "nope")})
    assert choice is not None and choice.folder == recorded


def test_neither_reachable_is_one_line_naming_both(tmp_path: Path) -> None:
    gone = str(tmp_path / "unmounted")
    choice = choose_folder({SETTINGS_KEY: gone}, {ENV_VAR: str(tmp_path / "elsewhere")})
    assert choice is not None and choice.folder is None and choice.problem is not None
    assert gone in choice.problem and ENV_VAR in choice.problem
    assert str(tmp_path / "elsewhere") in choice.problem and "\n" not in choice.problem
    no_env = choose_folder({SETTINGS_KEY: gone}, {})
    assert no_env is not None and no_env.problem is not None
    assert f"set {ENV_VAR}" in no_env.problem


@pytest.mark.parametrize("value, reason", [
    (42, "not a path but int"),
    ({"path": "/x"}, "not a path but dict"),
    (None, "not a path but NoneType"),
    ("", "empty"),
    ("media/shared", "relative path"),
    ("../../etc", "relative path"),
    ("/x\x00y", "not a usable path"),
    ("/" + "a" * 5000, "not a usable path"),
])
def test_hostile_recorded_values_are_never_used_as_paths(value: object, reason: str,
                                                         tmp_path: Path) -> None:
    assert reason in (path_problem(value) or "")
    choice = choose_folder({SETTINGS_KEY: value}, {})
    assert choice is not None and choice.folder is None
    assert choice.problem is not None and reason in choice.problem
    assert len(choice.problem) < 400 and "\n" not in choice.problem
    # A relative override is refused too; a good one still rescues the project.
    assert choose_folder({SETTINGS_KEY: value}, {ENV_VAR: "relative"}).folder is None  # type: ignore[union-attr]
    rescued = choose_folder({SETTINGS_KEY: value}, {ENV_VAR: str(tmp_path)})
    assert rescued is not None and rescued.folder == tmp_path


def test_windows_paths_count_as_absolute() -> None:
    assert path_problem(r"\\server\share\media") is None
    assert path_problem(r"D:\study\media") is None
    assert path_problem(r"study\media") is not None


def test_a_new_folder_must_exist_be_a_folder_and_be_writable(tmp_path: Path) -> None:
    assert check_new_folder(str(tmp_path)) == tmp_path
    assert list(tmp_path.iterdir()) == []  # the write probe leaves nothing behind
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(ProjectError, match="is a file, not a folder"):
        check_new_folder(str(afile))
    with pytest.raises(ProjectError, match="does not exist"):
        check_new_folder(str(tmp_path / "missing"))
    with pytest.raises(ProjectError, match="relative path"):
        check_new_folder("relative/media")


def test_a_folder_that_cannot_be_written_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The write probe is the check (modes, ACLs, read-only shares, quotas all answer it); a
    # refusing file system is simulated because root ignores file modes.
    import medreview.storage.media_location as ml

    def refuse(**_kw: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ml.tempfile, "TemporaryFile", refuse)
    with pytest.raises(ProjectError, match=r"cannot be written \(Permission denied\)"):
        check_new_folder(str(tmp_path))


def test_with_folder_records_and_clears_without_touching_other_settings() -> None:
    base = {"judge_eval": {"split": 1}}
    assert with_folder(base, "/share/m") == {"judge_eval": {"split": 1}, SETTINGS_KEY: "/share/m"}
    assert with_folder({**base, SETTINGS_KEY: "/old"}, None) == base
    assert with_folder("garbage", None) == {}
    assert base == {"judge_eval": {"split": 1}}


# --- the stores ---


def _store(tmp_path: Path) -> SharedFolderMediaStore:
    (tmp_path / "share").mkdir()
    return SharedFolderMediaStore(tmp_path / "share", tmp_path / "cache" / "not-reachable")


def test_shared_folder_store_verifies_what_it_hands_out(tmp_path: Path) -> None:
    store = _store(tmp_path)
    digest, size = store.add_bytes(b"pixel data")
    assert size == 10 and store.path_for(digest).read_bytes() == b"pixel data"
    assert b"".join(store.chunks(digest)) == b"pixel data"
    # Someone on the share rewrites the file: it is no longer handed out.
    blob = tmp_path / "share" / digest[:2] / digest[2:]
    blob.write_bytes(b"pixel dat4")
    assert not store.path_for(digest).exists()
    with pytest.raises(ProjectError, match="damaged"):
        store.open_verified(digest)
    with pytest.raises(ProjectError, match="damaged"):
        b"".join(store.chunks(digest))


def test_a_link_out_of_the_folder_is_never_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the share")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    (tmp_path / "share" / digest[:2]).mkdir()
    os.symlink(secret, tmp_path / "share" / digest[:2] / digest[2:])
    with pytest.raises(ProjectError, match="link to somewhere else"):
        store.open_verified(digest)
    assert not store.path_for(digest).exists()
    # A linked sub-folder is refused the same way.
    other = tmp_path / "elsewhere"
    other.mkdir()
    data = b"in a linked folder"
    d2 = hashlib.sha256(data).hexdigest()
    (other / d2[2:]).write_bytes(data)
    os.symlink(other, tmp_path / "share" / d2[:2])
    with pytest.raises(ProjectError, match="link to somewhere else"):
        store.open_verified(d2)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "AB" * 32, "x"])
def test_a_hostile_media_name_is_not_a_path(tmp_path: Path, name: str) -> None:
    store = _store(tmp_path)
    with pytest.raises(ProjectError, match="not a media hash"):
        store.path_for(name)
    with pytest.raises(ProjectError, match="not a media hash"):
        store.open_verified(name)
    gone = UnavailableMediaStore("the media folder /x is not reachable", tmp_path / "c")
    with pytest.raises(ProjectError, match="not a media hash"):
        gone.path_for(name)


def test_an_unreachable_folder_refuses_every_media_read_and_write(tmp_path: Path) -> None:
    line = "the media folder /mnt/gone is not reachable from this computer"
    store = UnavailableMediaStore(line, tmp_path / "missing")
    digest = "ab" * 32
    assert not store.has(digest) and not store.path_for(digest).exists()
    for call in (lambda: store.open_verified(digest), lambda: store.add_bytes(b"x"),
                 lambda: store.add(tmp_path), lambda: store.chunks(digest),
                 lambda: store.copy_out(digest, tmp_path / "out"),
                 lambda: store.add_chunks(digest, 1, iter([b"x"]))):
        with pytest.raises(ProjectError, match="/mnt/gone is not reachable"):
            call()


def test_a_judge_run_sends_only_verified_images(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from medreview.services.judging import _images

    store = _store(tmp_path)
    digest, _ = store.add_bytes(b"png bytes")
    project = SimpleNamespace(media=store)
    assert _images(project, (("image/png", digest),)) == (  # type: ignore[arg-type]
        "data:image/png;base64,cG5nIGJ5dGVz",)
    (tmp_path / "share" / digest[:2] / digest[2:]).write_bytes(b"png byteZ")
    with pytest.raises(ProjectError, match="damaged"):
        _images(project, (("image/png", digest),))  # type: ignore[arg-type]
    gone = SimpleNamespace(media=UnavailableMediaStore("the media folder /x is not reachable",
                                                       tmp_path / "c"))
    with pytest.raises(ProjectError, match="/x is not reachable"):
        _images(gone, (("image/png", digest),))  # type: ignore[arg-type]
