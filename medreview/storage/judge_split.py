"""The judge-evaluation split recorded in the project's settings (``settings["judge_eval"]``).

No table of its own: the split is computed from a seed and the case keys, so recording the seed
and the fractions is recording the split.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from medreview.storage.models import ProjectRow
from medreview.storage.project import Project

KEY = "judge_eval"


def read_split_setting(project: Project) -> Any:
    """The stored split (raw JSON, to be checked by the caller) or None."""
    with project.read() as s:
        settings = s.scalars(select(ProjectRow)).one().settings or {}
    section = settings.get(KEY) if isinstance(settings, dict) else None
    return section.get("split") if isinstance(section, dict) else None


def write_split_setting(project: Project, split: dict[str, Any]) -> None:
    with project.transaction() as s:
        row = s.scalars(select(ProjectRow)).one()
        settings = dict(row.settings or {})
        section = dict(settings.get(KEY) or {})
        section["split"] = split
        settings[KEY] = section
        row.settings = settings
