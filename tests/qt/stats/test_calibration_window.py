"""The judge calibration view on the demo project: the ECE of stats.calibration, confusion
counts and disagreeing items checked against the ratings table, and its empty states."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from medreview.progress import CancelToken, no_progress
from medreview.qt.stats.calibration_view import CalibrationWindow, compute_outcome
from medreview.qt.stats.table import IDS
from medreview.services import dashboard
from medreview.services.bus import ChangeBus
from medreview.services.sample_project import build_sample_project
from medreview.services.tasks import ImmediateExecutor
from medreview.stats.calibration import calibration
from medreview.storage.tables import ratings_long
from tests.qt.stats.conftest import spin_until

JUDGE = "judge: demo-judge-mini"


@pytest.fixture(scope="module")
def cal(demo_env: Any, qapp: Any) -> Iterator[dict[str, Any]]:
    project, db, work = demo_env
    w = CalibrationWindow(project, db, work, ChangeBus())
    w.resize(1440, 920)
    w.show()
    spin_until(qapp, lambda: w.outcome is not None and not w.job.running)
    ratings = db.submit(ratings_long, project).result()
    yield {"w": w, "ratings": ratings, "qapp": qapp}
    w.close()
    w.deleteLater()


def _criteria(ratings: Any) -> Any:
    return ratings[ratings["question_id"].str.startswith("criterion:")]


def _majority(ratings: Any) -> dict[tuple[int, str], Any]:
    """The physicians' modal answer per (output, criterion), ties left out (as documented)."""
    phys = _criteria(ratings)
    phys = phys[phys["rater_kind"] == "physician"]
    votes: dict[tuple[int, str], Counter[Any]] = {}
    for o, q, v in zip(phys["output_id"], phys["question_id"], phys["value"], strict=True):
        votes.setdefault((int(o), q), Counter())[v] += 1
    out = {}
    for k, c in votes.items():
        top = c.most_common()
        if len(top) == 1 or top[0][1] > top[1][1]:
            out[k] = top[0][0]
    return out


def _judge(ratings: Any) -> dict[tuple[int, str], tuple[Any, float]]:
    j = _criteria(ratings)
    j = j[j["rater"] == JUDGE]
    return {(int(o), q): (v, float(c)) for o, q, v, c in
            zip(j["output_id"], j["question_id"], j["value"], j["confidence"], strict=True)}


def test_majority_row_shows_the_ece_of_stats_calibration(cal: dict[str, Any]) -> None:
    w, ratings = cal["w"], cal["ratings"]
    assert w.outcome.question == dashboard.POOLED_CRITERIA and w.outcome.judge == JUDGE
    maj, judge = _majority(ratings), _judge(ratings)
    keys = sorted(maj.keys() & judge.keys())
    expected = calibration([judge[k][1] for k in keys],
                           [float(judge[k][0] == maj[k]) for k in keys])
    row = next(r for r in w.summary.rows() if r["reference"] == "majority")
    assert row["ece"] == pytest.approx(expected.ece, abs=1e-12)
    assert row["brier"] == pytest.approx(expected.brier, abs=1e-12)
    # The majority row is selected at first: its ECE is printed under the reliability diagram.
    assert w.current is not None and w.current.reference == "majority"
    assert f"ECE {expected.ece:.3f}" in w.metrics.text()
    assert w.reliability.series and w.plot_stack.currentWidget() is w.reliability
    # The confusion matrix counts majority label x judge label.
    counts = Counter((maj[k], judge[k][0]) for k in keys)
    assert w.confusion.counts() == [[counts[(False, False)], counts[(False, True)]],
                                    [counts[(True, False)], counts[(True, True)]]]


def test_summary_has_every_physician_and_the_ceiling(cal: dict[str, Any]) -> None:
    w, ratings = cal["w"], cal["ratings"]
    phys = sorted(set(ratings.loc[ratings["rater_kind"] == "physician", "rater"]))
    refs = [r["reference"] for r in w.summary.rows()]
    assert refs == [f"physician:{p}" for p in phys] + ["majority", "ceiling:judge",
                                                       "ceiling:physicians"]
    ceiling = w.summary.rows()[-1]
    assert ceiling["accuracy_lo"] <= ceiling["accuracy"] <= ceiling["accuracy_hi"]


def test_double_click_on_a_physician_row_opens_the_outputs_they_disagree_on(
        qtbot: Any, cal: dict[str, Any]) -> None:
    w, ratings = cal["w"], cal["ratings"]
    table = w.summary
    row = 0
    doctor = table.rows()[row]["label"]
    rect = table.visualRect(table.proxy.index(row, 0))
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    ids, label = blocker.args
    judge = _judge(ratings)
    d = _criteria(ratings)
    d = d[d["rater"] == doctor]
    truly = sorted({int(o) for o, q, v in zip(d["output_id"], d["question_id"], d["value"],
                                              strict=True)
                    if (int(o), q) in judge and judge[(int(o), q)][0] != v})
    assert ids == truly and ids
    assert label == f"All criteria (pooled) · judge vs {doctor} · {len(ids)} items"
    # Selecting the row (the click) switched the details to that physician.
    assert w.current is not None and w.current.reference == f"physician:{doctor}"


def test_items_list_opens_one_disagreeing_item(qtbot: Any, cal: dict[str, Any]) -> None:
    w, ratings = cal["w"], cal["ratings"]
    w.summary.selectRow(next(i for i, r in enumerate(w.summary.rows())
                             if r["reference"] == "majority"))
    items = w.items.rows()
    maj, judge = _majority(ratings), _judge(ratings)
    assert len(items) == sum(1 for k in maj.keys() & judge.keys() if judge[k][0] != maj[k])
    w.items.setFocus()
    w.items.selectRow(0)
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.keyClick(w.items, Qt.Key.Key_Enter)
    ids, label = blocker.args
    first = items[0]
    assert ids == [first["output_id"]] and label.endswith("· 1 item")
    key = (first["output_id"], first["question_id"])
    assert judge[key][0] != maj[key]
    with qtbot.waitSignal(w.sig_open_items, timeout=2000) as blocker:
        qtbot.mouseClick(w.open_all, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == sorted({i["output_id"] for i in items})


def test_switching_to_the_numeric_score_shows_a_scatter(qtbot: Any, cal: dict[str, Any]
                                                        ) -> None:
    w = cal["w"]
    w.question_box.setCurrentIndex(w.question_box.findData("score"))
    w.recompute()
    qtbot.waitUntil(lambda: w.outcome.question == "score" and not w.job.running, timeout=20000)
    assert w.plot_stack.currentWidget() is w.scatter
    assert not w.confusion_box.isVisible()
    refs = [r["label"] for r in w.summary.rows()]
    assert "Physician mean" in refs
    mean_row = next(r for r in w.summary.rows() if r["reference"] == "majority")
    assert mean_row["leniency"] == pytest.approx(w.current.leniency)
    assert "Leniency" in w.metrics.text()


def test_gold_labels_become_a_reference_row(qtbot: Any, cal: dict[str, Any]) -> None:
    w, ratings = cal["w"], cal["ratings"]
    maj = _majority(ratings)
    keys = sorted(maj)[::3]  # gold on every third (output, criterion), equal to the majority
    gold = pd.DataFrame({"output_id": [k[0] for k in keys], "question_id": [k[1] for k in keys],
                         "value": [maj[k] for k in keys]})
    inputs = dataclasses.replace(w.inputs, gold=gold)
    outcome = compute_outcome(inputs, JUDGE, dashboard.POOLED_CRITERIA, no_progress,
                              CancelToken())
    other = CalibrationWindow(None, ImmediateExecutor(), ImmediateExecutor(), ChangeBus())
    qtbot.addWidget(other)
    other._on_finished(inputs, outcome)
    row = next(r for r in other.summary.rows() if r["reference"] == "gold")
    judge = _judge(ratings)
    on_gold = [k for k in keys if k in judge]
    assert row["n_items"] == len(on_gold)
    assert row[IDS] == sorted({k[0] for k in on_gold if judge[k][0] != maj[k]})


def test_no_judge_explains_how_to_run_one(qtbot: Any, cal: dict[str, Any]) -> None:
    w = cal["w"]
    inputs = w.inputs
    physicians_only = dataclasses.replace(
        inputs, ratings=inputs.ratings[inputs.ratings["rater_kind"] == "physician"])
    outcome = compute_outcome(physicians_only, None, None, no_progress, CancelToken())
    assert outcome.judges == [] and outcome.result is None
    other = CalibrationWindow(None, ImmediateExecutor(), ImmediateExecutor(), ChangeBus())
    qtbot.addWidget(other)
    other._on_finished(physicians_only, outcome)
    assert other.stack.currentWidget() is other.empty
    assert "medreview judge" in other.empty.text() and "No LLM judge" in other.empty.text()


def test_empty_project_shows_the_empty_state(qtbot: Any, tmp_path: Any) -> None:
    project, _me = build_sample_project(tmp_path / "empty", n_cases=1, outputs_per_case=1,
                                        with_dicom=False)
    try:
        w = CalibrationWindow(project, ImmediateExecutor(), ImmediateExecutor(), ChangeBus())
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.outcome is not None, timeout=10000)
        assert w.stack.currentWidget() is w.empty
        assert "No finished judgments yet" in w.empty.text()
    finally:
        project.close()
