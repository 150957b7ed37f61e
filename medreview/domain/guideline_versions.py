"""The grading guidelines versions a judgment revision was written with, as one number.

A revision has one integer column for them (``judgment_revision.guideline_version``, schema
0006, from when only the rubric had guidelines); the error taxonomy's version shares it as
``rubric + taxonomy * TAXONOMY_STEP``. A revision made with the rubric's guidelines alone keeps
the plain rubric version, so older revisions read the same. 300005 = taxonomy v3, rubric v5.
"""

from __future__ import annotations

# The composite fits a PostgreSQL INTEGER: 21_474 * 100_000 + 99_999 < 2**31.
TAXONOMY_STEP = 100_000
MAX_GUIDELINE_VERSION = 21_474


def recorded_versions(rubric: int | None, taxonomy: int | None) -> int | None:
    """The one integer a revision stores for the guideline versions shown (None: none shown)."""
    if not rubric and not taxonomy:
        return None
    for v in (rubric, taxonomy):
        if v is not None and not 0 < v <= MAX_GUIDELINE_VERSION:
            raise ValueError(f"guideline version {v} is out of range")
    return (rubric or 0) + (taxonomy or 0) * TAXONOMY_STEP


def shown_versions(recorded: int | None) -> tuple[int | None, int | None]:
    """(rubric version, taxonomy version) of a revision's ``guideline_version``."""
    if not recorded or recorded < 0:
        return None, None
    taxonomy, rubric = divmod(recorded, TAXONOMY_STEP)
    return rubric or None, taxonomy or None
