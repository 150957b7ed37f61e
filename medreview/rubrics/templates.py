"""The built-in rubric and taxonomy templates shipped in ``resources/rubrics/``.

A template is a ``<key>.yaml`` form file whose ``key`` equals its file name; the folder comes
from ``medreview.paths.rubric_templates_dir()`` so an installed wheel and a checkout behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medreview import paths
from medreview.domain.rubric import Form, FormKind
from medreview.errors import RubricError
from medreview.rubrics._fields import closest
from medreview.rubrics.load import load_form


@dataclass(frozen=True)
class TemplateInfo:
    """What a template picker shows before loading the full form."""

    key: str
    name: str
    kind: FormKind
    version: int
    description: str
    references: tuple[str, ...]
    question_count: int
    per_case_criteria: bool
    path: Path


def _template_files() -> list[Path]:
    folder = paths.rubric_templates_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".yaml" and p.is_file())


def _checked(path: Path) -> Form:
    form = load_form(path)
    if form.key != path.stem:
        raise RubricError(
            f"template key {form.key!r} does not match the file name {path.stem!r}",
            source=str(path), item="key",
        )
    return form


def list_templates() -> list[TemplateInfo]:
    """Every built-in template, sorted by key. A broken template raises ``RubricError``."""
    out = []
    for path in _template_files():
        form = _checked(path)
        out.append(
            TemplateInfo(
                key=form.key,
                name=form.name,
                kind=form.kind,
                version=form.version,
                description=form.description,
                references=form.references,
                question_count=len(form.questions),
                per_case_criteria=form.per_case_criteria,
                path=path,
            )
        )
    return out


def template_keys() -> list[str]:
    return [p.stem for p in _template_files()]


def load_template(key: str) -> Form:
    """The built-in template ``key`` (for instance ``"medval"``)."""
    keys = template_keys()
    if key not in keys:
        raise RubricError(
            f"no built-in template {key!r}{closest(key, keys)}; available: {', '.join(keys)}",
            source=str(paths.rubric_templates_dir()),
        )
    return _checked(paths.rubric_templates_dir() / f"{key}.yaml")
