"""Project-level use-cases: create, open, describe, register forms and raters, consent."""

from __future__ import annotations

from pathlib import Path

from medreview.domain.changes import Changes
from medreview.domain.rubric import Form
from medreview.progress import Progress, no_progress
from medreview.services.views import ProjectInfo, RaterView
from medreview.storage import project_copy as stored_copy
from medreview.storage import project_info as stored
from medreview.storage import raters
from medreview.storage.ingest import incomplete_imports
from medreview.storage.pending_media import WaitingMedia, waiting_media
from medreview.storage.project import Project, create_project, is_project, migrate, open_project
from medreview.storage.project_copy import ProjectCopyReport
from medreview.storage.server_url import is_database_url, parse_server_url

__all__ = [
    "Project",
    "add_form",
    "add_rater",
    "copy_project",
    "create_project",
    "describe_location",
    "incomplete_imports",
    "is_project",
    "list_raters",
    "media_location",
    "media_problem",
    "media_waiting",
    "migrate_project",
    "open_project",
    "project_info",
    "set_consent",
    "set_reveal_models",
    "unfinished_imports",
]

FINISH_IMPORT_HINT = "import the same file again to finish it"


def add_form(project: Project, form: Form, *, activate: bool = True) -> tuple[str, int]:
    """Register a rubric or taxonomy; returns (key, version) actually stored."""
    return stored.add_form(project, form, activate=activate)


def rubric_templates() -> list[tuple[str, str]]:
    """The built-in rubric and taxonomy templates as (key, name)."""
    from medreview.rubrics.templates import list_templates

    return [(t.key, t.name) for t in list_templates()]


def form_from(value: str) -> Form:
    """A rubric or taxonomy given as a built-in template key or a file path."""
    from medreview.errors import InputError
    from medreview.rubrics.load import load_form
    from medreview.rubrics.templates import list_templates, load_template

    path = Path(value)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        return load_form(path)
    keys = [t.key for t in list_templates()]
    if value in keys:
        return load_template(value)
    raise InputError(
        f"not a file and not a built-in template; templates are: {', '.join(keys)}", item=value
    )


def add_form_from(project: Project, value: str) -> tuple[str, int]:
    """``add_form`` of a template key or rubric file; returns (key, version) stored."""
    return add_form(project, form_from(value))


def add_rater(project: Project, name: str, kind: str = "physician") -> RaterView:
    return raters.add_rater(project, name, kind)


def list_raters(project: Project, kind: str | None = None) -> list[RaterView]:
    return raters.list_raters(project, kind)


def may_add_raters(project: Project) -> bool:
    """False for a physician's own login on a server project (the server would refuse)."""
    return raters.may_add_raters(project)


def set_consent(project: Project, allowed: bool, by: str) -> Changes:
    """Record (or withdraw) consent that case data may be sent off this machine."""
    stored.set_consent(project, allowed, by)
    return Changes(project=True)


def set_reveal_models(project: Project, reveal: bool) -> Changes:
    stored.set_reveal_models(project, reveal)
    return Changes(project=True)


def project_info(project: Project) -> ProjectInfo:
    return stored.project_info(project)


def media_waiting(project: Project) -> WaitingMedia:
    """Media imported before their cases, still waiting (``.sentence()`` says so)."""
    return waiting_media(project)


def unfinished_imports(project: Project) -> list[dict[str, str]]:
    """Imports killed part-way (their finished batches are saved, the rest is not): each as
    ``{"source", "started", "hint"}``; importing the same file again completes it."""
    return [{"source": source, "started": started, "hint": FINISH_IMPORT_HINT}
            for source, started in incomplete_imports(project)]


def migrate_project(target: Path | str) -> tuple[str | None, str]:
    """Bring a project folder or a server database (URL) to this version's schema; returns
    (schema before, schema now). Only the study lead does this for a shared server."""
    return migrate(target)


def copy_project(source: Path | str, destination: Path | str,
                 progress: Progress = no_progress, *,
                 media_folder: str | None = None) -> ProjectCopyReport:
    """Copy a whole project (folder or server URL) into an empty destination of either kind;
    every table and medium verified. Refusals are one line; nothing half-written stays.
    ``media_folder``: a server destination keeps its media in that shared folder."""
    return stored_copy.copy_project(source, destination, progress, media_folder=media_folder)


def media_location(project: Project) -> str:
    """One line: where the project's media are (its folder, the database, a shared folder, or
    why the shared folder cannot be reached from this computer)."""
    return stored.media_location(project)


def media_problem(project: Project) -> str | None:
    """Why this project's media cannot be shown on this computer (its shared folder is not
    reachable: one line naming the recorded folder and ``MEDREVIEW_MEDIA_FOLDER``), or None."""
    return stored.media_problem(project)


def describe_location(target: Path | str) -> str:
    """A folder or server URL as messages show it (a URL without its password)."""
    if is_database_url(target):
        return parse_server_url(str(target), use_keyring=False).display
    return str(target)


def open_or_create(path: Path, name: str | None = None) -> Project:
    return open_project(path) if is_project(path) else create_project(path, name)
