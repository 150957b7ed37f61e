"""The lead's per-rater progress panel on a folder project: refreshed by this app's saves (the
change bus) and by its timer (a lease that runs out is no write), part of the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreview.domain.changes import Changes
from medreview.domain.judgment import JudgmentDraft
from medreview.qt.stats.team_progress import TeamProgressPanel
from medreview.services import grading, team
from medreview.services.bus import ChangeBus
from medreview.services.sample_project import build_sample_project
from medreview.services.tasks import DbExecutor
from medreview.storage import leases
from tests.storage.study_helpers import assign_all


def test_the_panel_follows_saves_and_leases(qtbot: Any, tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "p", n_cases=2, outputs_per_case=2,
                                        with_dicom=False, rater="Dr Lead")
    ids = assign_all(project, "Dr A")
    a = next(r.rater_id for r in team.team_progress(project).raters if r.name == "Dr A")
    team.set_lease_settings(project, needed=1, seconds=30)
    db, bus = DbExecutor(), ChangeBus()
    try:
        panel = TeamProgressPanel(project, db, bus, poll_ms=300)
        qtbot.addWidget(panel)
        panel.show()
        assert panel.listener is None  # a folder: no server hints
        qtbot.waitUntil(lambda: panel.progress is not None, timeout=5000)
        assert panel.row_of("Dr A") == {"Rater": "Dr A", "Assigned": "4", "Done": "0",
                                        "Drafts": "0", "Open now": "0", "Progress": "0 %"}
        assert "pool: 1 rating each, 0 complete" in panel.status.text()
        grading.save_revision(project, a, ids[0], JudgmentDraft(answers={"overall": 3}),
                              status="done")
        bus.emit(Changes(judgments=frozenset({ids[0]})))
        qtbot.waitUntil(lambda: panel.row_of("Dr A")["Done"] == "1", timeout=5000)
        assert panel.row_of("Dr A")["Progress"] == "25 %"
        assert "1 complete" in panel.status.text()
        # A lease appears and, once it runs out, goes: no write in between, the timer reads.
        leases.take(project, a, ids[1], seconds=0.8)
        qtbot.waitUntil(lambda: panel.row_of("Dr A")["Open now"] == "1", timeout=5000)
        qtbot.waitUntil(lambda: panel.row_of("Dr A")["Open now"] == "0", timeout=5000)
        # Hidden (another tab, a closed window): changes wait until it shows again.
        panel.hide()
        reads = panel.refreshes
        grading.save_revision(project, a, ids[1], JudgmentDraft(answers={"overall": 2}),
                              status="done")
        bus.emit(Changes(judgments=frozenset({ids[1]})))
        qtbot.wait(800)
        assert panel.refreshes == reads and panel.row_of("Dr A")["Done"] == "1"
        panel.show()
        qtbot.waitUntil(lambda: panel.row_of("Dr A")["Done"] == "2", timeout=5000)
    finally:
        db.shutdown()
        project.close()
