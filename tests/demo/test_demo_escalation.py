"""The demo's escalation step: rules stored, a few items escalated to a senior who had not rated
them, each with its reason, and the demo's own judgments untouched."""

from __future__ import annotations

from pathlib import Path

from medreview.demo.escalation import RULES, SENIOR, add_to_demo
from medreview.services import escalation, grading
from medreview.services.projects import add_rater, open_project
from medreview.storage.tables import current_revisions


def test_the_demo_escalates_a_few_disagreements(demo_copy: Path) -> None:
    with open_project(demo_copy) as project:
        before = len(current_revisions(project, include_drafts=True))
    add_to_demo(demo_copy)
    with open_project(demo_copy) as project:
        assert escalation.current_rules(project) == RULES
        items = escalation.escalated_items(project)
        assert 1 <= len(items) <= 5
        assert all(i.reason.startswith("disagreement ") and " > 0.5" in i.reason
                   for i in items)
        for i in items:
            raters = {r["rater"] for r in current_revisions(project, include_drafts=True)
                      if r["output_id"] == i.output_id}
            assert i.senior in RULES.seniors and i.senior not in raters
        senior = add_rater(project, SENIOR).id
        queue = grading.load_queue(project, senior)
        assert {r.output_id for r in queue} == {i.output_id for i in items if i.senior == SENIOR}
        shown = grading.load_item(project, senior, queue[0].output_id)
        assert shown.escalation_reason.startswith("disagreement ")
        assert len(current_revisions(project, include_drafts=True)) == before
        # Running the rules again adds nothing.
        report, _ = escalation.run_escalation(project)
        assert report.escalated == ()
