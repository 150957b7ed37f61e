"""The grading guidelines the grading screen shows beside the panel: the rubric's and the
error taxonomy's (each form has its own, versioned under its key), and the one number a
judgment revision records for the pair (``storage.guidelines.recorded_versions``)."""

from __future__ import annotations

from dataclasses import dataclass

from medreview.domain.guideline_versions import recorded_versions, shown_versions
from medreview.storage import guidelines as store
from medreview.storage.guidelines import GuidelineView
from medreview.storage.project import Project

__all__ = ["GuidelineView", "ShownGuidelines", "recorded_versions", "shown_guidelines",
           "shown_versions"]


@dataclass(frozen=True)
class ShownGuidelines:
    rubric_key: str
    rubric: GuidelineView | None
    taxonomy_key: str
    taxonomy: GuidelineView | None

    @property
    def recorded(self) -> int | None:
        """What each revision saved while these are on screen records."""
        return recorded_versions(self.rubric.version if self.rubric else None,
                                 self.taxonomy.version if self.taxonomy else None)


def shown_guidelines(project: Project, rubric_key: str, taxonomy_key: str) -> ShownGuidelines:
    """The newest guidelines of an item's rubric and taxonomy (either key may be empty)."""
    found = store.current_guidelines(project, (rubric_key, taxonomy_key))
    return ShownGuidelines(rubric_key, found.get(rubric_key) if rubric_key else None,
                           taxonomy_key, found.get(taxonomy_key) if taxonomy_key else None)
