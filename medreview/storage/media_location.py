"""Where a PostgreSQL project's media live: in the database, or in a shared folder.

The lead chooses at creation (``medreview init URL --media-folder PATH``); the choice is the
absolute path as given, kept in the project row's settings (``settings["media_folder"]``).
The share may be mounted elsewhere on another computer (a UNC path on Windows, a mount point
on Linux), so ``MEDREVIEW_MEDIA_FOLDER`` on this computer overrides the recorded path.

Settings are hostile input: a value that is not a non-empty absolute path string is never used
as a path. When no usable folder is found the project still opens (cases, grading, statistics)
and every medium is "missing" with one line naming the recorded folder and the override.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from sqlalchemy import Engine, select

from medreview.errors import ProjectError
from medreview.storage.engine import reading
from medreview.storage.media import (
    Media,
    MediaStore,
    SharedFolderMediaStore,
    UnavailableMediaStore,
)
from medreview.storage.models import ProjectRow
from medreview.storage.server_media import DatabaseMediaStore

SETTINGS_KEY = "media_folder"
ENV_VAR = "MEDREVIEW_MEDIA_FOLDER"
_MAX_PATH = 4096  # longer than any real path; a longer value is not one


@dataclass(frozen=True)
class FolderChoice:
    """The folder to use (None: none usable) and, when none, the one-line reason."""

    folder: Path | None
    recorded: str | None  # the recorded path, shown in messages (None if not a usable string)
    problem: str | None


def path_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a media folder path (None: it can). No file system access."""
    if not isinstance(value, str):
        return f"is not a path but {type(value).__name__}"
    if not value.strip():
        return "is empty"
    if len(value) > _MAX_PATH or "\x00" in value:
        return "is not a usable path"
    if not _absolute(value):
        return "is a relative path; an absolute path is needed"
    return None


def _absolute(value: str) -> bool:
    # A path recorded on Windows (\\server\share, D:\x) is absolute even when read on Linux.
    return (Path(value).is_absolute() or PurePosixPath(value).is_absolute()
            or PureWindowsPath(value).is_absolute())


def recorded_folder(settings: Any) -> tuple[bool, Any]:
    """(whether the settings name a media folder at all, the raw value)."""
    if isinstance(settings, dict) and SETTINGS_KEY in settings:
        return True, settings[SETTINGS_KEY]
    return False, None


def _usable_dir(value: str) -> bool:
    try:
        return Path(value).is_dir()
    except OSError:  # a path the OS cannot even look at (too long, bad characters)
        return False


def choose_folder(settings: Any, environ: dict[str, str] | None = None) -> FolderChoice | None:
    """The folder store's folder for a project with these settings; None: media in the database.

    ``MEDREVIEW_MEDIA_FOLDER`` wins when it names a folder on this computer, then the recorded
    path; neither gives a FolderChoice without a folder and with a one-line reason."""
    named, raw = recorded_folder(settings)
    if not named:
        return None
    env = os.environ if environ is None else environ
    override = env.get(ENV_VAR, "")
    recorded_problem = path_problem(raw)
    recorded = raw if recorded_problem is None else None
    if override and path_problem(override) is None and _usable_dir(override):
        return FolderChoice(Path(override), recorded, None)
    if recorded is not None and _usable_dir(recorded):
        return FolderChoice(Path(recorded), recorded, None)
    if recorded_problem is not None:
        shown = repr(raw)[:80]
        where = f"the recorded media folder {shown} {recorded_problem}"
    else:
        where = f"the media folder {recorded} is not reachable from this computer"
    if override:
        hint = f"{ENV_VAR}={override[:200]} is not a folder here either"
    else:
        hint = f"set {ENV_VAR} to where the share is mounted on this computer"
    return FolderChoice(None, recorded, f"{where}; {hint}; images are shown as missing")


def check_new_folder(value: str) -> Path:
    """A media folder chosen at creation: absolute, an existing folder, writable (tried by
    writing a file). Refused with one line otherwise."""
    problem = path_problem(value)
    if problem is not None:
        raise ProjectError(f"the media folder {problem}", source=str(value)[:200])
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ProjectError("the media folder is a file, not a folder", source=value)
    if not path.is_dir():
        raise ProjectError("the media folder does not exist; create it (on the shared drive) "
                           "first", source=value)
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".medreview-write-test-"):
            pass
    except OSError as exc:
        raise ProjectError(f"the media folder cannot be written ({exc.strerror or exc})",
                           source=value) from exc
    return path


def with_folder(settings: Any, folder: str | None) -> dict[str, Any]:
    """A copy of ``settings`` that records ``folder`` (None: media in the database)."""
    out = dict(settings) if isinstance(settings, dict) else {}
    out.pop(SETTINGS_KEY, None)
    if folder is not None:
        out[SETTINGS_KEY] = folder
    return out


def media_store(settings: Any, engine: Engine, cache: Path, location: str) -> Media:
    """The media store of a server project with these settings: the database, the shared
    folder, or (folder not reachable here) one that shows every medium as missing."""
    choice = choose_folder(settings)
    if choice is None:
        return DatabaseMediaStore(engine, cache, location=location)
    missing = cache / "not-reachable"  # never written: viewers find nothing there
    if choice.folder is None:
        return UnavailableMediaStore(choice.problem or "media folder not reachable", missing)
    return SharedFolderMediaStore(choice.folder, missing)


def settings_of(engine: Engine) -> Any:
    """The project row's settings (whatever JSON is there; parsed by the callers)."""
    with reading(engine).connect() as conn:
        return conn.execute(select(ProjectRow.settings)).scalar()


def describe(media: Media) -> str:
    """Where a project's media are, for ``medreview info``."""
    if isinstance(media, UnavailableMediaStore):
        return f"media: NOT REACHABLE: {media.problem}"
    if isinstance(media, SharedFolderMediaStore):
        return f"media: shared folder {media.root}"
    if isinstance(media, DatabaseMediaStore):
        return "media: in the database"
    if isinstance(media, MediaStore):
        return f"media: folder {media.root}"
    return "media: unknown store"
