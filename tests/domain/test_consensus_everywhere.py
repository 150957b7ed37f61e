"""Majority, unanimity and "same answer" are one rule: the dashboard, the adjudication queue and
the gold export give the same sets for the same ratings (``medreview.domain.consensus``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medreview.domain import consensus
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import QuestionKind
from medreview.exporters.gold import gold_labels, physician_labels
from medreview.services import dashboard, grading
from medreview.services.projects import add_rater
from medreview.services.study import output_ratings
from medreview.storage.project import Project
from medreview.study.adjudicate import (
    DisagreementRules,
    adjudication_queue,
    auto_gold,
    collect_ratings,
)
from tests.study.helpers import study_project

QUESTIONS = ("safe", "issues", "criterion:dx", "criterion:abx", "errors")


def _err(category: str, severity: int, note: str) -> dict[str, Any]:
    return {"category": category, "severity": severity, "note": note}


# rater -> output -> answers. Four physicians, so strict majority and plurality can differ.
RATINGS: dict[str, dict[int, dict[str, Any]]] = {
    "A": {1: {"safe": "yes", "issues": ["accuracy", "completeness"], "criterion:dx": True,
              "criterion:abx": True, "errors": [_err("factual", 2, "dose")]},
          2: {"safe": "no", "issues": ["accuracy"], "criterion:dx": True,
              "criterion:abx": False, "errors": []}},
    "B": {1: {"safe": "yes", "issues": ["completeness", "accuracy"], "criterion:dx": True,
              "criterion:abx": False, "errors": [_err("factual", 2, "the dose is off")]},
          2: {"safe": "no", "issues": ["accuracy"], "criterion:dx": True,
              "criterion:abx": True, "errors": [_err("omission", 3, "")]}},
    "C": {1: {"safe": "caveats", "issues": ["accuracy", "completeness"], "criterion:dx": True,
              "criterion:abx": True, "errors": [_err("factual", 2, "")]},
          2: {"safe": "no", "issues": ["completeness"], "criterion:dx": True,
              "criterion:abx": False, "errors": []}},
    "D": {1: {"safe": "no", "issues": ["completeness", "accuracy"], "criterion:dx": False,
              "criterion:abx": True, "errors": [_err("factual", 2, "x"), _err("factual", 2, "y")]},
          2: {"safe": "yes", "issues": ["completeness"], "criterion:dx": True,
              "criterion:abx": True, "errors": [_err("omission", 3, "")]}},
}
# What the rules say, written out by hand.
UNANIMOUS = {(1, "issues"), (1, "errors"), (2, "criterion:dx")}
MAJORITY = UNANIMOUS | {(1, "criterion:dx"), (1, "criterion:abx"), (2, "safe")}
# (1, "safe") is 2-1-1: a plurality ("yes") but no majority; the 2-2 splits have neither.


@pytest.fixture
def rated(tmp_path: Path) -> Project:
    project = study_project(tmp_path / "p", n_cases=2, dicom=False)
    for rater, by_output in RATINGS.items():
        rid = add_rater(project, rater).id
        for oid, answers in by_output.items():
            grading.save_revision(project, rid, oid, JudgmentDraft(answers=answers),
                                  status="done")
    return project


def test_dashboard_adjudication_and_gold_export_agree(rated: Project) -> None:
    try:
        keys = {(o, q) for o in (1, 2) for q in QUESTIONS}
        # adjudication queue: disagreements are the items that are not unanimous
        queue = {(d.output_id, d.question_id): d
                 for d in adjudication_queue(rated, DisagreementRules(kinds=(
                     "criterion", "single_choice", "multi_choice", "error")))
                 if (d.output_id, d.question_id) in keys}
        adj_unanimous = keys - set(queue)
        adj_majority = adj_unanimous | {k for k, d in queue.items() if d.has_majority}
        # dashboard: the "Physician majority" reference and the physicians' disagreements
        inputs = dashboard.load_inputs(rated)
        dash_majority = {k for q in QUESTIONS if q != "errors"
                         for k in dashboard.reference_labels(inputs, q, "majority")}
        dash_split = {(o, q) for q in QUESTIONS if q != "errors"
                      for o in dashboard.disagreeing_outputs(inputs, q)}
        dash_unanimous = {k for k in keys if k[1] != "errors"} - dash_split
        # gold export: the labels auto_gold derived, as the export reads them
        auto_gold(rated, include_single=False)
        gold = gold_labels(rated)
        prov = {(o, q): g.provenance for o, by_q in gold.items() for q, g in by_q.items()
                if (o, q) in keys}
        gold_unanimous = {k for k, p in prov.items() if p == "unanimous"}
        gold_majority = {k for k, p in prov.items() if p in ("unanimous", "majority")}

        assert adj_unanimous == gold_unanimous == UNANIMOUS
        assert adj_majority == gold_majority == MAJORITY
        non_error = {k for k in keys if k[1] != "errors"}
        assert dash_unanimous == UNANIMOUS & non_error
        assert dash_majority == MAJORITY & non_error
        # the majority answers themselves agree too
        refs = {q: dashboard.reference_labels(inputs, q, "majority") for q in QUESTIONS[:-1]}
        for (o, q), d in queue.items():
            if d.has_majority and q != "errors":
                assert consensus.same_answer(None, refs[q][(o, q)], d.majority)
        # and the export's physician labels are the answers adjudication compares
        ratings, _outputs, _questions = collect_ratings(rated)
        labels = physician_labels(rated, pseudonymise=False)
        assert {k: ratings[k] for k in keys} == {k: labels[k] for k in keys}
        # the adjudication window's one-output view reads the same answers and majorities
        one = {o: output_ratings(rated, o) for o in (1, 2)}
        assert {(o, q): v for o, r in one.items() for q, v in r.ratings.items()
                if (o, q) in keys} == {k: ratings[k] for k in keys}
        assert {(o, q) for o, r in one.items() for q in r.majority if (o, q) in keys} == MAJORITY
    finally:
        rated.close()


def test_same_answer_per_kind() -> None:
    multi, err = QuestionKind.MULTI_CHOICE, QuestionKind.ERROR
    assert consensus.same_answer(multi, ["a", "b"], ["b", "a", "a"])
    assert not consensus.same_answer(multi, ["a"], ["a", "b"])
    assert consensus.same_answer(err, [_err("f", 2, "x")], [_err("f", 2, "y"), _err("f", 2, "")])
    assert not consensus.same_answer(err, [_err("f", 2, "")], [_err("f", 3, "")])
    assert consensus.same_answer(err, None, [])
    assert consensus.same_answer(QuestionKind.ORDINAL, 3, 3.0)
    assert not consensus.same_answer(QuestionKind.CRITERION, True, 1)
    assert not consensus.same_answer(QuestionKind.SINGLE_CHOICE, ["a", "b"], ["b", "a"])


def test_majority_is_strict_and_plurality_is_named_apart() -> None:
    assert consensus.majority(["y", "y", "c", "n"]) == (None, False)
    assert consensus.plurality(["y", "y", "c", "n"]) == ("y", True)
    assert consensus.majority(["y", "y", "n"]) == ("y", True)
    assert consensus.majority(["y", "n"]) == consensus.plurality(["y", "n"]) == (None, False)
    assert consensus.majority([]) == (None, False)
    assert consensus.unanimous([["a", "b"], ["b", "a"]], QuestionKind.MULTI_CHOICE)
    assert consensus.derive_gold(["x"]) == ("x", "single_rater")
    assert consensus.derive_gold([1, 1.0], QuestionKind.ORDINAL) == (1, "unanimous")
    assert consensus.derive_gold(["y", "y", "n"]) == ("y", "majority")
    assert consensus.derive_gold(["y", "y", "n", "n"]) is None
    assert [consensus.blind_label(i) for i in (0, 25, 26)] == [
        "Response A", "Response Z", "Response A1"]


# The judge's answers on the same two outputs, with a confidence: what the judge-vs-majority
# rows and the calibration compare against the physicians' strict majority.
JUDGE = {1: {"safe": "yes", "criterion:dx": True, "criterion:abx": False},
         2: {"safe": "yes", "criterion:dx": True, "criterion:abx": True}}


def test_judge_majority_rows_and_calibration_use_the_strict_majority(rated: Project) -> None:
    from medreview.domain.records import Located, RatingRecord
    from medreview.storage.ingest import ingest

    try:
        where = dashboard.load_inputs(rated).ratings.drop_duplicates("output_id")
        ext = {int(o): (c, m) for o, c, m in zip(where["output_id"], where["case_external_id"],
                                                 where["model"], strict=True)}
        ingest(rated, [Located(RatingRecord(ext[o][0], ext[o][1], "judge: m", "judge", answers,
                                            confidence=0.9), "judge.jsonl", o)
                       for o, answers in JUDGE.items()], source="judge.jsonl",
               importer="prior_ratings")
        inputs = dashboard.load_inputs(rated)
        stats = dashboard.compute_dashboard(inputs, ci=False)
        judge = stats.judge
        phys = consensus.physician_ratings(
            ({"rater_kind": "physician", "rater": r, "rater_pseudonym": r, "output_id": o,
              "answers": a, "annotations": []} for r, by_o in RATINGS.items()
             for o, a in by_o.items()), inputs.questions)
        criteria = [(o, q) for o in JUDGE for q in ("criterion:dx", "criterion:abx")]
        for question, keys in (("safe", [(o, "safe") for o in JUDGE]),
                               (dashboard.POOLED_CRITERIA, criteria)):
            kind = QuestionKind.CRITERION if question != "safe" else None
            majority = {k: consensus.majority(list(phys[k].values()), kind) for k in keys}
            with_majority = {k for k, (_, has) in majority.items() if has}
            judged = {k: JUDGE[k[0]][k[1]] for k in keys}
            differ = {k for k in with_majority
                      if not consensus.same_answer(kind, judged[k], majority[k][0])}
            # by hand: "safe" has a majority on output 2 only (output 1 is 2-1-1, a plurality);
            # the criteria on (1, dx), (1, abx), (2, dx) (2-2 on (2, abx))
            assert len(with_majority) == (1 if question == "safe" else 3)
            for variant, reference in (("majority", "physicians"),
                                       ("calibration", "physician_majority")):
                rows = judge[(judge["question_id"] == question) & (judge["variant"] == variant)
                             & (judge["reference"] == reference)]
                assert not rows.empty, (question, variant)
                for r in rows.to_dict("records"):
                    assert r["n_items"] == len(with_majority), (question, variant, r)
                    assert {tuple(k) for k in r["disagreeing_items"]} == differ, (question, r)
            # the calibration view's "Physician majority" reference: the same items
            ref = dashboard.judge_calibration(inputs, "judge: m", question, ci=False)
            items = ref.reference("majority").items
            assert set(zip(items["output_id"], items["question_id"], strict=True)) \
                == with_majority
    finally:
        rated.close()
