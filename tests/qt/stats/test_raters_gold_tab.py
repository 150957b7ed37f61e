"""The Raters tab on the demo with its hidden gold and attention rounds: accuracy and pass rate
per physician as the service computes them, off the UI thread, a failed attention item marked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medreview.demo.checks import ATTENTION_MISS
from medreview.demo.checks import add_to_demo as add_hidden_items
from medreview.qt.stats.raters_tab import FLAG_BRUSH, RatersTab
from medreview.services import projects
from medreview.services import rater_quality as rq
from medreview.services.tasks import DbExecutor, WorkExecutor
from tests.qt.stats.conftest import spin_until


@pytest.fixture
def checks_env(demo_copy: Path, qapp: Any) -> Iterator[tuple[Any, DbExecutor, WorkExecutor]]:
    add_hidden_items(demo_copy)
    db, work = DbExecutor(), WorkExecutor()
    project = db.submit(projects.open_project, demo_copy).result()
    yield project, db, work
    db.submit(project.close).result()
    db.shutdown()
    work.shutdown()


def _cells(table: Any, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_the_tab_shows_accuracy_on_hidden_gold(checks_env: Any, qapp: Any, qtbot: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project, db, work = checks_env
    tab = RatersTab(project, db, work)
    qtbot.addWidget(tab)
    threads: list[str] = []
    original = rq.compute_rater_report

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(rq, "compute_rater_report", spy)
    tab.refresh()
    spin_until(qapp, lambda: tab.report is not None and not tab.job.running)
    monkeypatch.undo()
    assert threads and threads[0].startswith("medreview-work")
    expected = db.submit(lambda: rq.rater_report(project)).result()
    rows = rq.gold_rows(expected)
    assert len(rows) == 3 and tab.gold.rowCount() == 3
    assert [_cells(tab.gold, i) for i in range(3)] == [list(r) for r in rows]
    assert [_cells(tab.gold_questions, i) for i in range(tab.gold_questions.rowCount())] == [
        list(r) for r in rq.gold_question_rows(expected)]
    # Real numbers: every physician has an accuracy with an interval; one failed attention.
    for r in expected.raters:
        assert r.gold is not None and r.gold.overall.n > 0 and r.gold.overall.ci is not None
    missed = [i for i, r in enumerate(rows) if r[0] == ATTENTION_MISS[0]]
    assert missed and ATTENTION_MISS[1] in rows[missed[0]][6]
    for i in range(3):
        marked = tab.gold.item(i, 0).background() == FLAG_BRUSH
        assert marked == (i in missed)
