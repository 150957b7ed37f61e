"""The statistics dashboard on the demo project: computed off the UI thread, the same numbers as
the command line's statistics, rows that open exactly the items the raters disagree on."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from medreview.domain.changes import Changes
from medreview.progress import CancelToken
from medreview.qt.stats import dashboard as qdash
from medreview.qt.stats.dashboard import DashboardWindow
from medreview.qt.stats.format import number
from medreview.qt.stats.runner import RefreshOnChange
from medreview.services import dashboard
from medreview.services.bus import ChangeBus
from medreview.services.sample_project import build_sample_project
from medreview.services.tasks import ImmediateExecutor
from medreview.storage.tables import ratings_long
from tests.qt.stats.conftest import spin_until

POOLED = dashboard.POOLED_CRITERIA


@pytest.fixture(scope="module")
def computed(demo_env: Any, qapp: Any) -> Iterator[dict[str, Any]]:
    """One dashboard on real threads, computed once for the module, plus the references."""
    project, db, work = demo_env
    threads: dict[str, str] = {}
    original = qdash._compute

    def spy(inputs: Any, progress: Any, token: CancelToken) -> Any:
        threads["compute"] = threading.current_thread().name
        return original(inputs, progress, token)

    bus = ChangeBus()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(qdash, "_compute", spy)
        w = DashboardWindow(project, db, work, bus)
        w.resize(1400, 900)
        w.show()
        assert w.job.running and w.strip.bar.isVisible()  # started by showing, not finished
        spin_until(qapp, lambda: w.stats is not None)
    _, by_rater = db.submit(dashboard.project_statistics, project, by="rater").result()
    _, by_model = db.submit(dashboard.project_statistics, project, by="model").result()
    ratings = db.submit(ratings_long, project).result()
    yield {"w": w, "threads": threads, "by_rater": by_rater, "by_model": by_model,
           "ratings": ratings, "bus": bus, "qapp": qapp}
    w.close()
    w.deleteLater()


def _key(r: dict[str, Any], *cols: str) -> tuple[Any, ...]:
    return tuple(r[c] for c in cols)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _check_rows(shown: list[dict[str, Any]], expected: Any, cols: tuple[str, ...]) -> None:
    exp = {_key(r, *cols): r for r in expected.to_dict("records")}
    assert shown and len(shown) == len(exp)
    for r in shown:
        e = exp[_key(r, *cols)]
        for c in ("value", "ci_low", "ci_high", "n_items", "disagreeing_output_ids"):
            assert _same(r[c], e[c]), (r, c)


def _answers(ratings: Any, rater: str, question: str) -> dict[tuple[int, str], Any]:
    sub = ratings[ratings["rater"] == rater]
    sub = sub[sub["question_id"].str.startswith("criterion:")] if question == POOLED else \
        sub[sub["question_id"] == question]
    return {(int(o), q): v for o, q, v in zip(sub["output_id"], sub["question_id"], sub["value"],
                                              strict=True) if v is not None}


def _pair_disagreements(ratings: Any, a: str, b: str, question: str) -> list[int]:
    """Outputs where raters a and b both answered and differ (independent of the app)."""
    xa, xb = _answers(ratings, a, question), _answers(ratings, b, question)
    return sorted({k[0] for k in xa.keys() & xb.keys() if xa[k] != xb[k]})


def test_computes_on_the_work_thread_and_shows_the_tabs(computed: dict[str, Any]) -> None:
    w = computed["w"]
    assert computed["threads"]["compute"].startswith("medreview-work")
    assert w.stack.currentWidget() is w.tabs
    assert not w.strip.bar.isVisible() and not w.strip.cancel_button.isVisible()
    assert "up to date" in w.strip.status.text()
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == [
        "Overview", "By question", "By model", "Rater pairs", "Judge vs physicians",
        "Score distributions", "Team progress", "Raters"]
    assert w.isWindow()


def test_overview_and_judge_tables_hold_the_command_line_numbers(computed: dict[str, Any]
                                                                 ) -> None:
    w, by_rater = computed["w"], computed["by_rater"]
    a = by_rater.agreement
    shown = w.overview.agreement.rows()
    _check_rows(shown, a[a["scope"] == "physicians"], ("question_id", "statistic"))
    # The cells show those numbers, not something else.
    model = w.overview.agreement.model_
    col = [c.key for c in model.columns].index("value")
    first = model.rows[0]
    assert model.index(0, col).data() == number(first["value"])
    judge_rows = []
    for i in range(w.judge.question.count()):
        w.judge.question.setCurrentIndex(i)
        judge_rows += w.judge.table_.rows()
    _check_rows(judge_rows, by_rater.judge, ("question_id", "reference", "variant", "statistic"))
    cal = w.judge.reliability
    w.judge.question.setCurrentIndex(w.judge.question.findData(POOLED))
    ece = by_rater.judge[(by_rater.judge["question_id"] == POOLED)
                         & (by_rater.judge["statistic"] == "ece")]["value"].iloc[0]
    assert any(f"ECE {ece:.3f}" in s for s in cal.series)


def test_model_and_pair_tables_hold_the_command_line_numbers(computed: dict[str, Any]) -> None:
    w, by_model, by_rater = computed["w"], computed["by_model"], computed["by_rater"]
    rows = []
    for i in range(w.by_model.question.count()):
        w.by_model.question.setCurrentIndex(i)
        rows += w.by_model.table_.rows()
    m = by_model.agreement
    _check_rows(rows, m[m["scope"] == "model"], ("question_id", "group", "statistic"))
    pairs = []
    for kind in range(w.pairs.kind.count()):
        w.pairs.kind.setCurrentIndex(kind)
        for i in range(w.pairs.question.count()):
            w.pairs.question.setCurrentIndex(i)
            pairs += [r for r in w.pairs.table_.rows() if r.get("scope") == "rater_pair"]
    a = by_rater.agreement
    _check_rows(pairs, a[a["scope"] == "rater_pair"], ("question_id", "group", "statistic"))


def test_double_click_on_a_pair_opens_exactly_their_disagreements(qtbot: Any,
                                                                  computed: dict[str, Any]
                                                                  ) -> None:
    w, ratings = computed["w"], computed["ratings"]
    w.tabs.setCurrentWidget(w.pairs)
    w.pairs.question.setCurrentIndex(w.pairs.question.findData(POOLED))
    table = w.pairs.table_
    rows = table.rows()
    row = next(i for i, r in enumerate(rows) if r.get("scope") == "rater_pair")
    a, b = rows[row]["rater_a"], rows[row]["rater_b"]
    rect = table.visualRect(table.proxy.index(row, 1))
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        # A real double-click starts with a press (Qt needs the pressed index to match).
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    ids, label = blocker.args
    expected = _pair_disagreements(ratings, a, b, POOLED)
    assert ids == expected and len(ids) > 0
    assert label == f"All criteria (pooled) · {a} vs {b} · {len(ids)} items"


def test_enter_on_an_overview_row_opens_outputs_where_physicians_differ(
        qtbot: Any, computed: dict[str, Any]) -> None:
    w, ratings = computed["w"], computed["ratings"]
    w.tabs.setCurrentWidget(w.overview)
    table = w.overview.agreement
    rows = table.rows()
    i = next(k for k, r in enumerate(rows) if r["question_id"] == "score")
    table.setFocus()
    table.selectRow(i)
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    ids, _label = blocker.args
    phys = sorted({str(r) for r in ratings.loc[ratings["rater_kind"] == "physician", "rater"]})
    truly = set()
    for x in phys:
        for y in phys:
            if x < y:
                truly |= set(_pair_disagreements(ratings, x, y, "score"))
    assert set(ids) == truly and ids


def test_clicking_a_judge_cell_of_the_heat_map(qtbot: Any, computed: dict[str, Any]) -> None:
    w, ratings = computed["w"], computed["ratings"]
    w.tabs.setCurrentWidget(w.pairs)
    w.pairs.question.setCurrentIndex(w.pairs.question.findData(POOLED))
    heat = w.pairs.heatmap
    names = heat.names
    judge = next(n for n in names if n.startswith("judge:"))
    doctor = names[0]
    i, j = names.index(judge), names.index(doctor)
    assert not math.isnan(heat.matrix[i, j]) and heat.matrix[i, j] == heat.matrix[j, i]
    vb = heat.getPlotItem().getViewBox()
    pos = heat.mapFromScene(vb.mapViewToScene(QPointF(j + 0.5, i + 0.5)))
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.mouseClick(heat.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    ids, label = blocker.args
    assert ids == _pair_disagreements(ratings, judge, doctor, POOLED)
    assert f"{judge} vs {doctor}" in label


def test_refresh_can_be_cancelled_and_keeps_the_old_tables(qtbot: Any, computed: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    w = computed["w"]
    before = w.stats
    started = threading.Event()

    def stuck(inputs: Any, progress: Any, token: CancelToken) -> Any:
        started.set()
        while not token.cancelled:
            threading.Event().wait(0.01)
        token.raise_if_cancelled()

    monkeypatch.setattr(qdash, "_compute", stuck)
    qtbot.mouseClick(w.strip.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert w.strip.cancel_button.isVisible()
    qtbot.mouseClick(w.strip.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.job.running, timeout=5000)
    assert "Cancelled" in w.strip.status.text()
    assert w.stats is before and w.stack.currentWidget() is w.tabs


def test_project_changes_mark_the_dashboard_stale(computed: dict[str, Any]) -> None:
    w, bus = computed["w"], computed["bus"]
    bus.emit(Changes(queue=frozenset({1})))  # the queue order cannot change a statistic
    assert not w.watch.stale and not w.watch.timer.isActive()
    bus.emit(Changes(judgments=frozenset({1})))
    assert w.watch.stale and w.watch.timer.isActive()
    w.watch.timer.stop()
    w.watch.stale = False


def test_refresh_is_debounced_and_waits_until_shown(qtbot: Any) -> None:
    bus = ChangeBus()
    host = QWidget()
    qtbot.addWidget(host)
    calls: list[int] = []
    watch = RefreshOnChange(bus, host, lambda: calls.append(1), delay_ms=30)
    for oid in range(5):
        bus.emit(Changes(gold=frozenset({oid})))
    qtbot.wait(120)
    assert calls == []  # hidden: nothing computed for nobody
    host.show()
    watch.window_shown()
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
    bus.emit(Changes(judgments=frozenset({1})))
    bus.emit(Changes(judgments=frozenset({2})))
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=2000)
    qtbot.wait(100)
    assert calls == [1, 1]  # two changes in quick succession: one refresh
    n = len(bus)
    watch.deleteLater()
    qtbot.waitUntil(lambda: len(bus) == n - 1, timeout=2000)


def test_empty_project_shows_the_empty_state(qtbot: Any, tmp_path: Any) -> None:
    project, _me = build_sample_project(tmp_path / "empty", n_cases=1, outputs_per_case=1,
                                        with_dicom=False)
    try:
        # A parent with a single-key shortcut, like the grading window's "Y" (met).
        grading = QWidget()
        qtbot.addWidget(grading)
        fired: list[int] = []
        QShortcut(QKeySequence("Y"), grading).activated.connect(lambda: fired.append(1))
        grading.show()
        w = DashboardWindow(project, ImmediateExecutor(), ImmediateExecutor(), ChangeBus(),
                            parent=grading)
        w.show()
        qtbot.waitUntil(lambda: w.inputs is not None, timeout=10000)
        assert w.stack.currentWidget() is w.empty
        assert "No finished judgments yet" in w.empty.text()
        assert w.isWindow()
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow, timeout=2000)
        qtbot.keyClick(w.strip.refresh_button, Qt.Key.Key_Y)
        assert fired == []  # its own window: the grading keys do not reach through
        grading.activateWindow()
        qtbot.waitUntil(grading.isActiveWindow, timeout=2000)
        qtbot.keyClick(grading, Qt.Key.Key_Y)
        assert fired == [1]  # (the shortcut itself works)
    finally:
        project.close()
