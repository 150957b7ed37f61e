"""The grading screen's leases on a server project: two physicians' screens (own engines, own
database threads) on one pool; the second is moved on from the item the first has open, the
lease is renewed while its rater is active and given back when the item is finished."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.leases import attach_leases
from medreview.services import team
from medreview.services.bus import ChangeBus
from medreview.services.projects import add_rater, open_project
from medreview.services.tasks import DbExecutor
from tests.postgres.test_live_team import _graded_project
from tests.storage.study_helpers import assign_all


def _open_now(pg_url: str) -> dict[str, int]:
    with open_project(pg_url) as project:
        return {r.name: r.open_now for r in team.team_progress(project).raters}


def test_two_screens_share_a_pool(qtbot: Any, pg_url: str, tmp_path: Path) -> None:
    _graded_project(pg_url, tmp_path)
    with open_project(pg_url) as lead:
        add_rater(lead, "Dr B")
        ids = assign_all(lead, "Dr A")
        assign_all(lead, "Dr B")
        team.set_lease_settings(lead, needed=1, seconds=0.9)
        raters = {r.name: r.rater_id for r in team.team_progress(lead).raters}
    screens: list[tuple[Any, DbExecutor, Any]] = []
    moved: dict[str, list[int]] = {"Dr A": [], "Dr B": []}
    said: dict[str, list[str]] = {"Dr A": [], "Dr B": []}
    try:
        for name in ("Dr A", "Dr B"):
            db = DbExecutor()
            project = db.submit(open_project, pg_url).result()
            c = GradingController(project, raters[name], db, ChangeBus())
            leases = attach_leases(c, on_move=moved[name].append, on_message=said[name].append)
            assert leases is not None
            leases.timer.setInterval(100)
            screens.append((c, db, leases))
        (a, _, a_leases), (b, _, _) = screens
        a.open_item(ids[0])
        qtbot.waitUntil(lambda: _open_now(pg_url)["Dr A"] == 1, timeout=5000)
        # B opens the same item: refused, moved on to B's next free one.
        b.open_item(ids[0])
        qtbot.waitUntil(lambda: moved["Dr B"] == [ids[1]], timeout=5000)
        assert "Another physician is grading that item" in said["Dr B"][0]
        # A keeps working (keys anywhere in the app): renewed past the 0.9 s lease length.
        field = QLineEdit()
        qtbot.addWidget(field)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            qtbot.keyClick(field, Qt.Key.Key_A)
            qtbot.wait(100)
        assert _open_now(pg_url)["Dr A"] == 1
        # Finished (skipped counts as finished): the lease goes at once.
        a.skip()
        qtbot.waitUntil(lambda: _open_now(pg_url)["Dr A"] == 0, timeout=5000)
        assert a_leases.keeper.output_id is None and moved["Dr A"] == []
    finally:
        for c, db, _ in screens:
            c.close()
            db.submit(c.project.close).result()
            db.shutdown()
