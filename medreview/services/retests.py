"""Retests served in queues for the lead (``medreview retest``, ``assign --retest-fraction``,
``import --retest``): choose a seeded fraction of each physician's items to come back to them
blind after a delay, and see how far the retests have come.

The storage layer is imported by the first call, not with this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medreview.domain.changes import Changes

if TYPE_CHECKING:
    from medreview.storage.project import Project
    from medreview.storage.retests import RetestOverview


def check_design(fraction: float, delay_days: float) -> None:
    """InputError unless 0 < fraction <= 1 and 0 <= delay <= ten years (before any write)."""
    from medreview.storage.retests import check_design as check

    check(fraction, delay_days)


def choose_retests(project: Project, *, fraction: float, delay_days: float, seed: int = 0,
                   raters: tuple[str, ...] | None = None, by: str = ""
                   ) -> tuple[dict[str, int], Changes]:
    """Rater -> retest items added (a seeded ``fraction`` of their assigned items)."""
    from medreview.storage.retests import choose_retests as choose

    added = choose(project, fraction=fraction, delay_days=delay_days, seed=seed,
                   raters=raters, by=by)
    return added, Changes(project=True)


def retest_overview(project: Project) -> list[RetestOverview]:
    from medreview.storage.retests import retest_overview as overview

    return overview(project)


def answered_retest_last(project: Project, rater_id: int, output_id: int) -> bool:
    """Whether the rater just finished this output's retest (the screen reloads the item)."""
    from medreview.storage.retests import answered_retest_last as answered

    return answered(project, rater_id, output_id)
