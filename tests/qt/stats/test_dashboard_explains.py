"""A dashboard that explains itself: Disagree counts per statistic row (and a click lists the
items), a note on paradoxical κ/α with Gwet's AC1 beside it, one consistent busy state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from medreview.domain import consensus
from medreview.domain.changes import Changes
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import QuestionKind
from medreview.progress import CancelToken
from medreview.qt.stats import dashboard as qdash
from medreview.qt.stats.dashboard import DashboardWindow
from medreview.qt.stats.items_list import ItemsDialog
from medreview.qt.stats.table import ITEMS, PARADOX, StatsTable
from medreview.services import dashboard, grading, projects
from medreview.services.bus import ChangeBus
from medreview.services.sample_project import build_sample_project
from medreview.services.tasks import DbExecutor, WorkExecutor
from tests.qt.stats.conftest import spin_until

POOLED = dashboard.POOLED_CRITERIA


@pytest.fixture(scope="module")
def demo_dash(demo_env: Any, qapp: Any) -> Iterator[DashboardWindow]:
    project, db, work = demo_env
    bus = ChangeBus()
    w = DashboardWindow(project, db, work, bus)
    w.bus_for_tests = bus  # type: ignore[attr-defined]
    w.show()
    spin_until(qapp, lambda: w.stats is not None and not w.job.running)
    yield w
    w.close()
    w.deleteLater()


def _count_column(table: StatsTable) -> int:
    return next(i for i, c in enumerate(table.model_.columns) if c.kind == "count")


def _shown_count(table: StatsTable, view_row: int) -> str:
    return str(table.proxy.index(view_row, _count_column(table)).data())


def _answers(ratings: Any, question: str, kind: str = "physician"
             ) -> dict[tuple[int, str], dict[str, Any]]:
    sub = ratings[ratings["rater_kind"] == kind]
    sub = sub[sub["question_id"].str.startswith("criterion:")] if question == POOLED else \
        sub[sub["question_id"] == question]
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for o, q, r, v in zip(sub["output_id"], sub["question_id"], sub["rater"], sub["value"],
                          strict=True):
        if v is not None:
            out.setdefault((int(o), str(q)), {})[str(r)] = v
    return out


def test_disagree_counts_differ_per_row_and_mean_that_rows_comparison(
        demo_dash: DashboardWindow) -> None:
    w = demo_dash
    assert w.inputs is not None
    ratings = w.inputs.ratings
    table = w.overview.agreement
    rows = table.rows()
    shown = [_shown_count(table, i) for i in range(len(rows))]
    assert len(set(shown)) > 1, shown  # not the same number on every row
    # The pooled criteria count (output, criterion) items where physicians differ.
    phys = _answers(ratings, POOLED)
    split = {k for k, by in phys.items() if len({consensus.answer_key(
        QuestionKind.CRITERION, v) for v in by.values()}) > 1}
    pooled = [i for i, r in enumerate(rows) if r["question_id"] == POOLED]
    assert pooled and all(_shown_count(table, i) == str(len(split)) for i in pooled)
    assert {tuple(k) for k in rows[pooled[0]][ITEMS]} == split
    # Judge rows: "vs majority" counts differences from the strict majority, "pooled pairs"
    # from any physician; on the demo these differ.
    judge = next(str(r) for r in ratings.loc[ratings["rater_kind"] == "judge", "rater"])
    j = {k: next(iter(by.values())) for k, by in _answers(ratings, POOLED, "judge").items()}
    vs_majority, vs_any = set(), set()
    for k, by in phys.items():
        if k not in j:
            continue
        if any(v != j[k] for v in by.values()):
            vs_any.add(k)
        value, has = consensus.majority(list(by.values()), QuestionKind.CRITERION)
        if has and value != j[k]:
            vs_majority.add(k)
    w.judge.question.setCurrentIndex(w.judge.question.findData(POOLED))
    jt = w.judge.table_
    jrows = jt.rows()
    count = {(r["reference"], r["variant"], r["statistic"]): _shown_count(jt, i)
             for i, r in enumerate(jrows) if r["judge"] == judge}
    assert count[("physicians", "majority", "accuracy")] == str(len(vs_majority))
    assert count[("physicians", "pooled", "accuracy")] == str(len(vs_any))
    assert len(vs_majority) != len(vs_any)


def test_a_click_on_the_count_lists_the_items_with_every_answer(
        qtbot: Any, demo_dash: DashboardWindow) -> None:
    w = demo_dash
    w.tabs.setCurrentWidget(w.overview)
    table = w.overview.agreement
    rows = table.rows()
    i = next(k for k, r in enumerate(rows) if r["question_id"] == POOLED)
    rect = table.visualRect(table.proxy.index(i, _count_column(table)))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = w.overview.items_dialog
    assert isinstance(dialog, ItemsDialog) and dialog.isVisible()
    assert dialog.table.rowCount() == int(_shown_count(table, i))
    # every listed item shows at least two different physician answers
    heads = [dialog.table.horizontalHeaderItem(c).text()
             for c in range(dialog.table.columnCount())]
    doctors = [c for c, h in enumerate(heads) if h.startswith("Dr.")]
    for r in range(dialog.table.rowCount()):
        answers = {dialog.table.item(r, c).text() for c in doctors} - {""}
        assert len(answers) > 1, (r, answers)
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    ids, label = blocker.args
    assert ids == [dialog.items[0][0]] and label.endswith("1 item")
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.open_all, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == sorted({o for o, _ in dialog.items})
    dialog.close()


@pytest.fixture(scope="module")
def paradox_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 outputs, three physicians answering "yes" to "safe" on all but two, where one of
    them says "no": percent agreement 0.96, Fleiss' κ below zero (prevalence)."""
    path = tmp_path_factory.mktemp("paradox") / "p"
    project, _me = build_sample_project(path, n_cases=10, outputs_per_case=3, with_dicom=False)
    try:
        for n, name in enumerate(("Dr A", "Dr B", "Dr C")):
            rid = projects.add_rater(project, name).id
            for oid in range(1, 31):
                safe = "no" if oid == n + 1 and n < 2 else "yes"
                grading.save_revision(project, rid, oid, JudgmentDraft(answers={"safe": safe}),
                                      status="done")
    finally:
        project.close()
    return path


def _open(path: Path) -> tuple[Any, DbExecutor, WorkExecutor]:
    db, work = DbExecutor(), WorkExecutor()
    return db.submit(projects.open_project, path).result(), db, work


def _close(project: Any, db: DbExecutor, work: WorkExecutor) -> None:
    db.submit(project.close).result()
    db.shutdown()
    work.shutdown()


def test_paradox_note_with_gwets_ac1_beside_kappa(qtbot: Any, paradox_path: Path) -> None:
    project, db, work = _open(paradox_path)
    try:
        w = DashboardWindow(project, db, work, ChangeBus())
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.stats is not None and not w.job.running, timeout=60000)
        rows = {r["statistic"]: r for r in w.overview.agreement.rows()
                if r["question_id"] == "safe"}
        assert rows["percent_agreement"]["value"] > 0.9 and rows["fleiss_kappa"]["value"] < 0.1
        ac1 = rows["gwet_ac1"]["value"]
        assert ac1 > 0.9
        note = w.overview.paradox
        assert note.isVisible()
        text = note.text()
        assert "kappa paradox" in text and "safe" in text
        assert f"Gwet's AC1 = {ac1:.2f}" in text and "skewed prevalence" in text
        # the κ row itself: tinted value, the note in its tooltip
        table = w.overview.agreement
        view_row = next(i for i, r in enumerate(table.rows())
                        if r["question_id"] == "safe" and r["statistic"] == "fleiss_kappa")
        value_col = [c.key for c in table.model_.columns].index("value")
        index = table.proxy.index(view_row, value_col)
        assert index.data(Qt.ItemDataRole.BackgroundRole) is not None
        assert "Paradox" in index.data(Qt.ItemDataRole.ToolTipRole)
        assert rows["percent_agreement"][PARADOX] == "" and rows["gwet_ac1"][PARADOX] == ""
        w.close()
    finally:
        _close(project, db, work)


def _visible_texts(w: DashboardWindow) -> list[str]:
    texts = [lab.text() for lab in w.findChildren(QLabel) if lab.isVisible()]
    if w.strip.bar.isVisible():
        texts.append(w.strip.bar.text())
    return [*texts, w.windowTitle()]


def test_busy_state_is_one_story_and_cancellable(qtbot: Any, paradox_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    original = qdash._compute

    def gated(inputs: Any, progress: Any, token: CancelToken) -> Any:
        result = original(inputs, progress, token)  # every progress report, then wait
        gate.wait(30)
        token.raise_if_cancelled()
        return result

    monkeypatch.setattr(qdash, "_compute", gated)
    project, db, work = _open(paradox_path)
    try:
        w = DashboardWindow(project, db, work, ChangeBus())
        qtbot.addWidget(w)
        seen: list[str] = []
        w.job.sig_progress.connect(lambda _d, _t, message: seen.append(message))
        w.show()
        qtbot.waitUntil(lambda: bool(seen) and seen[-1].endswith("all questions"),
                        timeout=60000)
        qtbot.wait(50)
        # Busy: the strip says so, its bar and Cancel show, the page says the same words.
        assert w.job.running
        assert w.strip.bar.isVisible() and w.strip.cancel_button.isVisible()
        assert w.strip.status.text().startswith("Computing")
        assert w.stack.currentWidget() is w.empty
        assert w.strip.status.text() in w.empty.text()
        assert not any("done" in t.lower() for t in _visible_texts(w) + seen), seen
        # Cancel: every part of the window says cancelled, nothing says computing.
        qtbot.mouseClick(w.strip.cancel_button, Qt.MouseButton.LeftButton)
        assert not w.strip.bar.isVisible() and not w.strip.cancel_button.isVisible()
        assert "Cancelled" in w.strip.status.text() and "Cancelled" in w.empty.text()
        assert not any("Computing" in t for t in _visible_texts(w))
        gate.set()  # the cancelled run ends; its result is dropped
        qtbot.wait(200)
        assert w.stats is None
        # Refresh and let it finish: up to date, no "Computing" anywhere.
        qtbot.mouseClick(w.strip.refresh_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.stats is not None and not w.job.running, timeout=60000)
        assert w.stack.currentWidget() is w.tabs
        assert "up to date" in w.strip.status.text()
        assert not w.strip.bar.isVisible() and not w.strip.cancel_button.isVisible()
        assert not any("Computing" in t for t in _visible_texts(w))
        w.close()
    finally:
        gate.set()
        _close(project, db, work)


def test_a_change_makes_the_header_say_out_of_date(demo_dash: DashboardWindow) -> None:
    w = demo_dash
    assert "up to date" in w.strip.status.text()
    w.bus_for_tests.emit(Changes(judgments=frozenset({1})))  # type: ignore[attr-defined]
    try:
        assert "up to date" not in w.strip.status.text()
        assert "Out of date" in w.strip.status.text()
    finally:
        w.watch.timer.stop()
        w.watch.stale = False


def test_the_items_list_is_bounded_but_open_all_opens_everything(qtbot: Any) -> None:
    from medreview.qt.stats.items_list import MAX_ROWS, AnswerIndex

    items = [(o, f"criterion:c{k}") for o in range(1, 1501) for k in range(2)]  # 3000 items
    dialog = ItemsDialog(items, AnswerIndex(None), "huge")
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == MAX_ROWS < len(items)
    with qtbot.waitSignal(dialog.sig_open_items, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.open_all, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == list(range(1, 1501))


def test_calibration_counts_are_items_as_its_item_list(qtbot: Any, demo_env: Any) -> None:
    from medreview.qt.stats.calibration_view import CalibrationWindow

    project, db, work = demo_env
    w = CalibrationWindow(project, db, work, ChangeBus())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.outcome is not None and not w.job.running, timeout=60000)
    table = w.summary
    rows = table.rows()
    i = next(k for k, r in enumerate(rows) if r.get("reference") == "majority")
    rect = table.visualRect(table.proxy.index(i, _count_column(table)))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    shown = _shown_count(table, i)
    # the count is in items, like Items and like the list below ("Disagreeing items (N)")
    assert w.details.currentIndex() == 0
    assert w.details.tabText(0) == f"Disagreeing items ({shown})"
    assert int(shown) == w.items.model_.rowCount()
    w.close()
