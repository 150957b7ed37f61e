"""The demo's hidden gold and attention rounds: added after the demo's own rows (which stay as
they are), scored against the demo's truth, attention cases out of the statistics."""

from __future__ import annotations

from pathlib import Path

from medreview.demo.build import PHYSICIANS
from medreview.demo.checks import ATTENTION_CASES, ATTENTION_MISS, CHECKS_PER_RATER, add_to_demo
from medreview.services.rater_quality import rater_report
from medreview.storage import tables
from medreview.storage.check_items import hidden_items, project_attention_ids
from medreview.storage.project import open_project


def _current(path: Path) -> dict[tuple[str, int], tuple[object, ...]]:
    project = open_project(path, read_only=True)
    try:
        return {(r["rater"], r["output_id"]): (r["answers"], r["revision_no"], r["created_at"])
                for r in tables.current_revisions(project)}
    finally:
        project.close()


def test_the_demo_gets_answered_hidden_items_and_keeps_its_rows(demo_copy: Path) -> None:
    before = _current(demo_copy)
    add_to_demo(demo_copy)
    after = _current(demo_copy)
    assert {k: after[k] for k in before} == before  # nothing of the demo changed
    project = open_project(demo_copy, read_only=True)
    try:
        hidden = hidden_items(project)
        attention = project_attention_ids(project)
        report = rater_report(project)
        ratings = tables.ratings_long(project)
    finally:
        project.close()
    names = [n for n, _acc in PHYSICIANS]
    assert len(attention) == len(ATTENTION_CASES)
    assert not set(ratings["output_id"]) & attention
    new = set(after) - set(before)
    assert {o for _r, o in new} and not {o for _r, o in new} & attention
    for name in names:
        checks = [a for a in hidden.answers if a.rater == name and a.kind == "check"]
        assert 0 < len(checks) <= CHECKS_PER_RATER
        assert all((name, a.output_id) not in before for a in checks)  # unrated before
        assert all(a.gold and set(a.gold) <= set(a.answers) for a in checks)
        assert hidden.assigned[(name, "attention")] == len(ATTENTION_CASES)
    by = {r.rater: r.gold for r in report.raters}
    for name in names:
        g = by[name]
        assert g is not None and g.overall.n > 0 and g.overall.ci is not None
        expected_failed = [ATTENTION_MISS[1]] if name == ATTENTION_MISS[0] else []
        assert [c for _o, c, _m in g.failed_attention] == expected_failed
