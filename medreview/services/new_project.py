"""New project use-case for the app: check the choices, then create the folder in one step.

The New project dialog checks each field as it is typed (``check_name``, ``check_folder``,
``load_form_choice``) and shows the one-line reason; ``create_new_project`` checks them all
again and builds the project: the folder, the rubric (and taxonomy) and the lead as a rater.
It is all or nothing: if any step fails, what it created is removed again, so a failed
attempt never leaves a half-made project that "Open project" would then accept.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from medreview.domain.rubric import Form, FormKind
from medreview.errors import InputError, MedreviewError
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.projects import add_form, add_rater, create_project, form_from, is_project

__all__ = [
    "NewProject",
    "TemplateChoice",
    "check_folder",
    "check_name",
    "create_new_project",
    "load_form_choice",
    "template_choices",
]

MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class TemplateChoice:
    """A built-in template as the rubric step lists it."""

    key: str
    name: str
    kind: str  # rubric | taxonomy
    description: str
    questions: int
    per_case_criteria: bool


@dataclass(frozen=True)
class NewProject:
    folder: Path
    name: str
    rubric: Form
    taxonomy: Form | None = None
    rater: str = ""  # who will grade first (usually the lead); "" adds nobody


def template_choices(kind: str) -> list[TemplateChoice]:
    """The built-in templates of one kind (``"rubric"`` or ``"taxonomy"``), sorted by key."""
    from medreview.rubrics.templates import list_templates

    return [TemplateChoice(t.key, t.name, t.kind.value, t.description, t.question_count,
                           t.per_case_criteria)
            for t in list_templates() if t.kind.value == kind]


def check_name(name: str) -> str:
    """The project name, trimmed; one-line ``InputError`` when it cannot be one."""
    name = " ".join(name.split())
    if not name:
        raise InputError("give the project a name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"the name is longer than {MAX_NAME_CHARS} characters")
    if any(not ch.isprintable() for ch in name):
        raise InputError("the name holds a control character")
    return name


def _nearest_existing(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def check_folder(folder: str | Path) -> Path:
    """The folder for a new project: new, or an existing empty one (hidden files such as
    ``.DS_Store`` do not count, as for ``medreview init``). One-line ``InputError`` otherwise."""
    text = str(folder).strip()
    if not text:
        raise InputError("choose a folder for the project")
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise InputError("give the full path of the folder", source=text)
    if is_project(path):
        raise InputError("a project already exists here: open it with Open project…",
                         source=str(path))
    if path.exists() and not path.is_dir():
        raise InputError("this is a file, not a folder", source=str(path))
    if path.is_dir():
        try:
            if any(not p.name.startswith(".") for p in path.iterdir()):
                raise InputError("the folder is not empty: choose a new or an empty folder",
                                 source=str(path))
        except OSError as exc:
            raise InputError(f"cannot read the folder: {exc.strerror or exc}",
                             source=str(path)) from None
    base = _nearest_existing(path)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise InputError("cannot create the project here: this folder cannot be written",
                         source=str(base))
    return path


def load_form_choice(value: str, kind: str) -> Form:
    """A template key or a form file, validated by the same loader (and messages) as
    ``medreview init --rubric`` (which also refuses huge files and YAML alias bombs); it must
    be of ``kind`` (``"rubric"`` or ``"taxonomy"``)."""
    form = form_from(value)
    if form.kind.value != kind:
        other = "a taxonomy" if form.kind is FormKind.TAXONOMY else "a rubric"
        raise InputError(f"this is {other} ({form.key!r}), not a {kind}", source=value)
    return form


def _remove_created(folder: Path, existed: bool) -> None:
    """Take back what a failed creation made: the whole folder if it was new, else what was
    put into the (checked empty) folder, never the hidden files that were already there."""
    if not existed:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.name.startswith(".") and not child.name.startswith(".writers"):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def create_new_project(plan: NewProject, progress: Progress = no_progress,
                       token: CancelToken | None = None) -> tuple[Path, int | None]:
    """Create the project of ``plan``; returns its folder and the id of ``plan.rater`` (None
    when no rater was named). Nothing is left behind when it fails or is cancelled."""
    name = check_name(plan.name)
    folder = check_folder(plan.folder)
    if plan.rubric.kind is not FormKind.RUBRIC:
        raise InputError("the rubric step needs a rubric, not a taxonomy", item=plan.rubric.key)
    if plan.taxonomy is not None and plan.taxonomy.kind is not FormKind.TAXONOMY:
        raise InputError("the taxonomy step needs a taxonomy", item=plan.taxonomy.key)
    existed = folder.exists()
    steps = 3 + (plan.taxonomy is not None)
    rater_id: int | None = None
    try:
        progress(0, steps, "creating the project folder")
        project = create_project(folder, name)
        try:
            for i, form in enumerate(f for f in (plan.rubric, plan.taxonomy) if f is not None):
                if token is not None:
                    token.raise_if_cancelled()
                progress(1 + i, steps, f"adding the {form.kind.value} {form.name}")
                add_form(project, form)
            if plan.rater.strip():
                progress(steps - 1, steps, "adding you as a rater")
                rater_id = add_rater(project, " ".join(plan.rater.split())).id
        finally:
            project.close()
    except BaseException as exc:
        _remove_created(folder, existed)
        if isinstance(exc, OSError):
            raise MedreviewError(f"cannot create the project: {exc.strerror or exc}",
                                 source=str(folder)) from None
        raise
    progress(steps, steps, "created")
    return folder, rater_id
