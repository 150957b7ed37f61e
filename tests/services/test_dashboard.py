"""The Qt-free halves of the dashboard and the judge calibration view, on small hand-made
ratings whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medreview.domain.rubric import Option, Question, QuestionKind, case_criterion_question
from medreview.progress import Cancelled, CancelToken
from medreview.services import dashboard as d
from medreview.stats.calibration import calibration
from medreview.stats.project import project_stats

A, B, C, J = "Dr A", "Dr B", "Dr C", "judge: m"
QUESTIONS = {
    "quality": Question("quality", QuestionKind.ORDINAL, "Overall quality",
                        options=(Option(1, "poor"), Option(2, "fair"), Option(3, "good"))),
    "score": Question("score", QuestionKind.NUMBER, "Rubric score"),
    "criterion:a": case_criterion_question("a", "Mentions red flags", 3.0),
    "criterion:b": case_criterion_question("b", "Recommends follow-up", 2.0),
    "note": Question("note", QuestionKind.TEXT, "Comment"),
}


def _rows() -> list[dict[str, Any]]:
    # output -> model; answers per rater. The judge states a confidence per answer.
    models = {1: "m1", 2: "m1", 3: "m2", 4: "m2", 5: "m1", 6: "m2"}
    crit_a = {A: [True, True, False, False, True, False],
              B: [True, False, False, False, True, True],
              C: [True, True, False, True, True, False],
              J: [True, False, True, False, True, False]}
    crit_b = {A: [False, True, True, True, False, False],
              B: [False, True, True, False, False, False],
              J: [False, True, False, True, False, True]}
    quality = {A: [3, 2, 1, 1, 3, 2], B: [3, 2, 2, 1, 3, 3], C: [3, 3, 1, 1, 2, 2],
               J: [3, 2, 1, 2, 3, 3]}
    score = {A: [1.0, 0.5, 0.0, 0.2, 0.9, 0.4], B: [1.0, 0.6, 0.1, 0.2, 0.8, 0.4],
             J: [0.9, 0.5, 0.3, 0.2, 1.0, 0.1]}
    conf = [0.95, 0.55, 0.65, 0.85, 0.9, 0.75]
    rows = []
    for qid, table in (("criterion:a", crit_a), ("criterion:b", crit_b), ("quality", quality),
                       ("score", score)):
        for rater, values in table.items():
            for i, v in enumerate(values):
                oid = i + 1
                rows.append({"output_id": oid, "case_id": oid, "case_external_id": f"case-{oid}",
                             "model": models[oid], "rater": rater,
                             "rater_kind": "judge" if rater == J else "physician",
                             "question_id": qid, "value": v,
                             "confidence": conf[i] if rater == J else math.nan})
    return rows


def _inputs(gold: Any = None, rows: list[dict[str, Any]] | None = None) -> d.StatsInputs:
    return d.StatsInputs(ratings=pd.DataFrame(rows if rows is not None else _rows()), gold=gold,
                         questions=QUESTIONS, project_name="hand-made")


def test_disagreeing_outputs_among_physicians() -> None:
    inp = _inputs()
    # criterion:a: outputs 2 (A/C yes, B no), 4 (C yes), 6 (B yes).
    assert d.disagreeing_outputs(inp, "criterion:a") == [2, 4, 6]
    assert d.disagreeing_outputs(inp, "criterion:a", raters=[A, B]) == [2, 6]
    assert d.disagreeing_outputs(inp, "criterion:a", model="m2") == [4, 6]
    # Pooled: criterion:b adds output 4 (A yes, B no) — already there — and nothing else.
    assert d.disagreeing_outputs(inp, d.POOLED_CRITERIA) == [2, 4, 6]
    assert d.disagreeing_outputs(inp, "quality", raters=[A, C]) == [2, 5]


def test_disagreeing_outputs_for_the_judge() -> None:
    inp = _inputs()
    # Judge on criterion:a: T F T F T F; A: T T F F T F -> differs on 2, 3.
    assert d.disagreeing_outputs(inp, "criterion:a", judge=J, reference=f"physician:{A}") == [2, 3]
    # Any physician: also 4 (C yes) and 6 (B yes).
    assert d.disagreeing_outputs(inp, "criterion:a", judge=J) == [2, 3, 4, 6]
    # Majority of A, B, C: T T F F T F -> judge differs on 2 and 3.
    assert d.disagreeing_outputs(inp, "criterion:a", judge=J, reference="majority") == [2, 3]
    gold = pd.DataFrame({"output_id": [1, 2, 3], "question_id": ["criterion:a"] * 3,
                         "value": [False, False, True]})
    # Gold only where it exists: judge T,F,T vs gold F,F,T -> output 1.
    assert d.disagreeing_outputs(_inputs(gold), "criterion:a", judge=J, reference="gold") == [1]


def test_reference_labels_majority_excludes_ties_and_averages_numbers() -> None:
    inp = _inputs()
    maj = d.reference_labels(inp, "criterion:b", "majority")
    # criterion:b has two physicians: output 4 is a tie (A yes, B no) and is left out.
    assert (4, "criterion:b") not in maj
    assert maj[(2, "criterion:b")] is True
    mean = d.reference_labels(inp, "score", "majority")
    assert mean[(2, "score")] == pytest.approx(0.55)
    with pytest.raises(ValueError, match="unknown reference"):
        d.reference_labels(inp, "score", "everyone")


def test_compute_dashboard_merges_the_per_rater_and_per_model_tables() -> None:
    inp = _inputs()
    got = d.compute_dashboard(inp, ci=False)
    by_rater = project_stats(inp.ratings, inp.questions, None, by="rater", ci=False)
    by_model = project_stats(inp.ratings, inp.questions, None, by="model", ci=False)
    cols = ["question_id", "scope", "group", "statistic", "value", "n_items"]
    rater_part = got.agreement[got.agreement["scope"] != "model"].reset_index(drop=True)
    pd.testing.assert_frame_equal(rater_part[cols], by_rater.agreement[cols])
    model_part = got.agreement[got.agreement["scope"] == "model"].reset_index(drop=True)
    expected = by_model.agreement[by_model.agreement["scope"] == "model"].reset_index(drop=True)
    assert len(model_part) > 0
    pd.testing.assert_frame_equal(model_part[cols], expected[cols])
    pd.testing.assert_frame_equal(got.judge.drop(columns="disagreeing_output_ids"),
                                  by_rater.judge.drop(columns="disagreeing_output_ids"))
    assert got.meta["by"] == "rater+model"


def test_compute_dashboard_reports_progress_and_stops_when_cancelled() -> None:
    seen: list[tuple[int, int | None]] = []
    d.compute_dashboard(_inputs(), ci=False, progress=lambda done, total=None, msg="":
                        seen.append((done, total)))
    assert seen[-1] == (100, 100)
    assert all(b == 100 for _, b in seen) and [a for a, _ in seen] == sorted(a for a, _ in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        d.compute_dashboard(_inputs(), ci=False, token=token)


def test_empty_project_computes_empty_tables() -> None:
    empty = d.StatsInputs(ratings=pd.DataFrame(columns=list(_rows()[0])), gold=None,
                          questions=QUESTIONS, project_name="empty")
    got = d.compute_dashboard(empty, ci=False)
    assert got.agreement.empty and got.judge.empty


def test_judge_lists() -> None:
    inp = _inputs()
    assert d.judge_raters(inp) == [J]
    # Text questions are not comparable; per-case criteria are pooled into one entry.
    assert d.calibration_questions(inp, J) == [d.POOLED_CRITERIA, "quality", "score"]
    assert d.calibration_questions(inp, A) == [d.POOLED_CRITERIA, "quality", "score"]


def test_judge_calibration_against_each_reference() -> None:
    gold = pd.DataFrame({"output_id": [1, 2, 3], "question_id": ["criterion:a"] * 3,
                         "value": [False, False, True]})
    res = d.judge_calibration(_inputs(gold), J, "criterion:a", ci=False)
    assert res.kind == "binary"
    assert [r.reference for r in res.references] == [
        f"physician:{A}", f"physician:{B}", f"physician:{C}", "majority", "gold"]
    vs_a = res.reference(f"physician:{A}")
    # Judge T F T F T F vs A T T F F T F: rows = A's label, columns = judge's label.
    assert vs_a.confusion.to_numpy().tolist() == [[2, 1], [1, 2]]
    assert vs_a.value("accuracy") == pytest.approx(4 / 6)
    assert vs_a.disagreeing_output_ids == [2, 3]
    # Leniency: judge met-rate 3/6 minus A's 3/6.
    assert vs_a.leniency == pytest.approx(0.0)
    # Calibration: confidence against "the judge matches A".
    conf = [0.95, 0.55, 0.65, 0.85, 0.9, 0.75]
    right = [1, 0, 0, 1, 1, 1]
    assert vs_a.calibration.ece == pytest.approx(calibration(conf, right).ece)
    assert vs_a.calibration.brier == pytest.approx(np.mean((np.array(conf) - right) ** 2))
    vs_gold = res.reference("gold")
    assert vs_gold.n_items == 3 and vs_gold.disagreeing_output_ids == [1]
    assert set(res.ceiling["statistic"]) >= {"accuracy", "cohen_kappa"}
    assert res.physicians == (A, B, C)


def test_judge_calibration_pooled_majority_matches_project_stats() -> None:
    inp = _inputs()
    res = d.judge_calibration(inp, J, d.POOLED_CRITERIA, ci=False)
    ps = project_stats(inp.ratings, inp.questions, None, ci=False).judge
    ece = ps[(ps["question_id"] == d.POOLED_CRITERIA) & (ps["statistic"] == "ece")]
    assert res.reference("majority").calibration.ece == pytest.approx(float(ece["value"].iloc[0]))
    # Items are (output, criterion) pairs; output 4 on criterion:b is a tie and left out.
    keys = set(zip(res.reference("majority").items["output_id"],
                   res.reference("majority").items["question_id"], strict=True))
    assert (4, "criterion:b") not in keys and (4, "criterion:a") in keys


def test_judge_calibration_numeric_and_ordinal() -> None:
    inp = _inputs()
    num = d.judge_calibration(inp, J, "score", ci=False)
    assert num.kind == "numeric"
    vs_a = num.reference(f"physician:{A}")
    diffs = np.array([0.9, 0.5, 0.3, 0.2, 1.0, 0.1]) - [1.0, 0.5, 0.0, 0.2, 0.9, 0.4]
    assert vs_a.leniency == pytest.approx(diffs.mean())
    assert vs_a.calibration is None and vs_a.confusion is None
    assert vs_a.disagreeing_output_ids == [1, 3, 5, 6]
    assert num.reference("majority").label == "Physician mean"
    ordinal = d.judge_calibration(inp, J, "quality", ci=True)
    vs_maj = ordinal.reference("majority")
    # Majority of A, B, C on quality: 3, 2, 1, 1, 3, 2 -> judge differs on 4 and 6.
    assert vs_maj.disagreeing_output_ids == [4, 6]
    lo, hi = vs_maj.leniency_ci
    assert lo <= vs_maj.leniency <= hi


def test_judge_calibration_explains_what_it_cannot_compare() -> None:
    inp = _inputs()
    assert "no judge comparison" in d.judge_calibration(inp, J, "note").note
    assert "has not answered" in d.judge_calibration(inp, "judge: other", "score").note
