"""The lead's dashboard on a server project: per-rater progress changes as another connection
(another rater's machine) saves, from the server's NOTIFY hint, without a Refresh."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from medreview.domain.judgment import JudgmentDraft
from medreview.qt.stats.dashboard import DashboardWindow
from medreview.services import grading
from medreview.services.bus import ChangeBus
from medreview.services.projects import add_rater, open_project
from medreview.services.tasks import DbExecutor, WorkExecutor
from medreview.storage import leases
from tests.postgres.test_live_team import _graded_project


def test_the_dashboard_shows_another_machines_save_live(qtbot: Any, pg_url: str,
                                                        tmp_path: Path) -> None:
    rater, outputs = _graded_project(pg_url, tmp_path)
    db, work = DbExecutor(), WorkExecutor()
    project = db.submit(open_project, pg_url).result()
    try:
        w = DashboardWindow(project, db, work, ChangeBus())  # nobody emits on this bus
        qtbot.addWidget(w)
        w.show()
        panel = w.team
        assert panel.listener is not None
        qtbot.waitUntil(lambda: panel.progress is not None and panel.online is True,
                        timeout=10_000)
        assert panel.row_of("Dr A")["Done"] == "0"
        # Nothing finished yet: the statistics page says so and leads to the team's progress.
        qtbot.waitUntil(lambda: w.stats is not None and not w.job.running, timeout=10_000)
        assert w.stack.currentWidget() is w.empty and "Team progress" in w.empty.text()
        w.empty.linkActivated.emit("team-progress")
        assert w.stack.currentWidget() is w.tabs and w.tabs.currentWidget() is panel
        assert panel.isVisible()
        assert "live (revision" in panel.status.text()
        reads = panel.refreshes
        with open_project(pg_url) as elsewhere:
            add_rater(elsewhere, "Dr B")
            started = time.monotonic()
            grading.save_revision(elsewhere, rater, outputs[0],
                                  JudgmentDraft(answers={"overall_comment": "ok"}),
                                  status="done")
            qtbot.waitUntil(lambda: panel.row_of("Dr A")["Done"] == "1", timeout=3000)
            assert time.monotonic() - started < 3.0  # the hint, not the 30 s timer
            assert panel.row_of("Dr B")["Done"] == "0"
            leases.take(elsewhere, rater, outputs[1])
            qtbot.waitUntil(lambda: panel.row_of("Dr A")["Open now"] == "1", timeout=3000)
        assert panel.refreshes > reads
        w.close()
    finally:
        db.submit(project.close).result()
        db.shutdown()
        work.shutdown()
