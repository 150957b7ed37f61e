"""The demo's "cannot assess" marks: one per reason on answers their physician had not rated,
reported by the statistics, and not one rating or statistic of the demo changed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medreview.demo.not_assessed import N_MARKS, add_to_demo
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, REASONS
from medreview.services import dashboard
from medreview.services.projects import open_project
from medreview.storage.ratings_read import read_ratings_long
from medreview.storage.tables import current_revisions


def test_the_demo_marks_one_item_per_reason_and_changes_no_statistic(demo_copy: Path) -> None:
    with open_project(demo_copy) as project:
        before = read_ratings_long(project)
        n_before = len(current_revisions(project))
        _, stats_before = dashboard.project_statistics(project, ci=False)
    add_to_demo(demo_copy)
    with open_project(demo_copy) as project:
        revisions = current_revisions(project)
        marked = [r for r in revisions if CANNOT_ASSESS_KEY in r["answers"]]
        assert len(revisions) == n_before + N_MARKS == n_before + len(marked)
        assert sorted(r["answers"][CANNOT_ASSESS_KEY]["reason"] for r in marked) == \
            sorted(REASONS)
        assert all(r["rater_kind"] == "physician" and r["overall_score"] is None
                   for r in marked)
        assert read_ratings_long(project).equals(before)
        _, stats = dashboard.project_statistics(project, ci=False)
    pd.testing.assert_frame_equal(stats.agreement, stats_before.agreement)
    pd.testing.assert_frame_equal(stats.judge, stats_before.judge)
    table = stats.not_assessed
    assert sorted(table.loc[table["what"] == "cannot_assess", "reason"]) == sorted(REASONS)
    assert stats_before.not_assessed.empty
