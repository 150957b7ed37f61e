"""The demo's qualification round and retests: every physician passed (scores differ), each
has answered retests the Raters tab pairs, and the demo's study answers are unchanged."""

from __future__ import annotations

from pathlib import Path

from medreview.demo.build import PHYSICIANS
from medreview.demo.quality import add_to_demo
from medreview.services.projects import open_project
from medreview.services.qualification import round_status
from medreview.services.rater_quality import rater_report
from medreview.storage.ratings_read import read_ratings_long
from medreview.storage.retests import retest_overview


def test_the_demo_has_a_passed_round_and_answered_retests(demo_copy: Path) -> None:
    with open_project(demo_copy) as project:
        before = read_ratings_long(project)
    add_to_demo(demo_copy)
    with open_project(demo_copy) as project:
        rounds = round_status(project)
        assert [r.rater for r in rounds] == sorted(n for n, _ in PHYSICIANS)
        assert all(r.state == "passed" and r.done == r.items == 5 for r in rounds)
        scores = [r.score for r in rounds if r.score is not None]
        assert len(set(scores)) > 1 and min(scores) >= rounds[0].pass_mark
        overview = retest_overview(project)
        assert [(r.open, r.waiting) for r in overview] == [(0, 0)] * 3
        assert all(r.done >= 4 for r in overview)
        report = rater_report(project)
        for r in report.raters:
            assert r.n_retest >= 4 and r.n_retest_too_soon == 0 and r.retest
        after = read_ratings_long(project)
    # Gold labels and retest revisions added; not one study answer changed.
    assert after.equals(before)
