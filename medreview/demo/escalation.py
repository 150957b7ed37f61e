"""The demo's escalation rules and a few escalated items (issue #18).

The lead's rule: an answer whose physicians are not unanimous on more than half of its
questions goes to a senior rater, Dr. Ingrid Solberg (added as a physician) or Dr. Amara Okafor
(one of the panel; she is given only answers she has not rated). The run writes the escalations
as the app and ``medreview escalate`` do; they wait in Dr. Solberg's queue, with the reason on
each item. A severe-harm rule is not set: half the demo's answers carry a physician's "major"
error, far more than "a few".

Deterministic like the rest of the demo; the demo's own rows are not changed (no judgment is
added: exports and statistics of the demo stay as they were).
"""

from __future__ import annotations

from pathlib import Path

from medreview.domain.escalation import EscalationRules
from medreview.services import escalation
from medreview.storage.project import open_project

SENIOR = "Dr. Ingrid Solberg"
RULES = EscalationRules(disagreement=0.5, seniors=(SENIOR, "Dr. Amara Okafor"))


def add_to_demo(path: Path) -> None:
    """Set the rules on the demo project at ``path`` and escalate what they catch."""
    project = open_project(path)
    try:
        escalation.set_rules(project, RULES)
        escalation.run_escalation(project, by="demo lead")
    finally:
        project.close()
