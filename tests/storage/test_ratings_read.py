"""``ratings_long`` read column by column equals the table built from one dict per answer
(the code it replaced, kept here as the reference): rows, order, columns, dtypes and values,
with and without pseudonyms and drafts, on a real project with judge confidences per question,
rubric scores, drafts and answers of every type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import update

from medreview.demo import build_demo_project
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow
from medreview.storage.project import create_project, open_project
from medreview.storage.rating_columns import SCORE_QUESTION_ID, question_confidences
from medreview.storage.tables import current_revisions, ratings_long


def _reference(project: Any, *, pseudonymise: bool = False,
               include_drafts: bool = False) -> pd.DataFrame:
    """The table as built before (one dict per answer from ``current_revisions``)."""
    rows = []
    for r in current_revisions(project, include_drafts=include_drafts):
        rater = r["rater_pseudonym"] if pseudonymise else r["rater"]
        per_q_conf = question_confidences(r["annotations"])
        answers = dict(r["answers"])
        if r["overall_score"] is not None:
            answers[SCORE_QUESTION_ID] = r["overall_score"]
        for qid, value in answers.items():
            conf = per_q_conf.get(qid, r["confidence"])
            rows.append({
                "output_id": r["output_id"], "case_id": r["case_id"],
                "case_external_id": r["case_external_id"], "model": r["model"],
                "rater": rater, "rater_kind": r["rater_kind"], "question_id": qid,
                "value": value,
                "confidence": float(conf) if conf is not None else float("nan"),
                "rationale": r["rationale"], "status": r["status"],
                "revision_no": r["revision_no"], "form_key": r["form_key"],
                "form_version": r["form_version"]})
    return pd.DataFrame(rows, columns=[
        "output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
        "question_id", "value", "confidence", "rationale", "status", "revision_no",
        "form_key", "form_version"])


def _text_as_categories(df: pd.DataFrame) -> pd.DataFrame:
    """The reference's text columns as the reader gives them (issue #17: memory): categoricals
    with the sorted distinct texts as categories, so every cell reads as the same text."""
    cols = {c: df[c].astype(pd.CategoricalDtype(sorted(set(df[c].dropna()))))
            for c in df.columns if isinstance(df[c].dtype, pd.StringDtype)}
    return df.assign(**cols)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    b = _text_as_categories(b)
    pd.testing.assert_frame_equal(a, b, check_dtype=True, check_exact=True)
    assert a.astype(str).equals(b.astype(str))  # the same text in every cell
    # object cells compared by type too (True is not 1 for the statistics' users)
    assert [type(v) for v in a["value"]] == [type(v) for v in b["value"]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_demo_project(tmp_path_factory.mktemp("ratings") / "demo")
    project = open_project(path)
    try:
        with project.transaction() as s:
            ids = list(s.scalars(JudgmentRevisionRow.__table__.select()
                                 .with_only_columns(JudgmentRevisionRow.id)
                                 .order_by(JudgmentRevisionRow.id)))
            odd: list[Any] = [["a", {"category": "x"}], "free text", None, 10**30, 2.5,
                              {"k": [1, 2]}, True, 0]
            for n, rid in enumerate(ids[:40]):
                s.execute(update(JudgmentRevisionRow).where(JudgmentRevisionRow.id == rid)
                          .values(answers={"q-odd": odd[n % len(odd)], "overall": n % 5},
                                  annotations=[{"question_id": "overall",
                                                "judge": {"confidence": 0.25 + n / 100}}]
                                  if n % 3 == 0 else [],
                                  confidence=None if n % 4 == 0 else 0.5,
                                  overall_score=None if n % 2 else n / 7))
            s.execute(update(JudgmentRevisionRow).where(JudgmentRevisionRow.id == ids[40])
                      .values(answers={}, overall_score=None))  # no answer: no rows
            s.execute(update(JudgmentRow).where(JudgmentRow.id % 5 == 0)
                      .values(status="draft"))
    finally:
        project.close()
    return path


@pytest.mark.parametrize("pseudonymise", [False, True])
@pytest.mark.parametrize("include_drafts", [False, True])
def test_columns_equal_the_per_answer_table(demo: Path, pseudonymise: bool,
                                            include_drafts: bool) -> None:
    project = open_project(demo)
    try:
        got = ratings_long(project, pseudonymise=pseudonymise, include_drafts=include_drafts)
        want = _reference(project, pseudonymise=pseudonymise, include_drafts=include_drafts)
    finally:
        project.close()
    assert len(got) > 100 and got["status"].eq("draft").any() == include_drafts
    assert got["question_id"].eq("q-odd").sum() > 0 and got["question_id"].eq("score").any()
    _same(got, want)
    assert isinstance(got.index, pd.RangeIndex)  # (``equiv`` above would let Index pass)


def test_empty_project(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "empty")
    try:
        _same(ratings_long(project), _reference(project))
    finally:
        project.close()


def test_shared_values_are_the_same_values() -> None:
    from medreview.storage.ratings_read import _SHARED_MAX, SharedValues

    shared = SharedValues()
    a = {"x": float("0.4"), "s": "".join(["ti", "e"]), "z": -0.0, "n": float("nan"),
         "b": True, "i": 1, "l": [0.4]}
    b = {"x": float("0.4"), "s": "".join(["t", "ie"]), "z": 0.0, "n": float("nan"),
         "b": 1, "i": 1.0, "l": [0.4]}
    assert a["x"] is not b["x"] and a["s"] is not b["s"]
    shared.share(a)
    shared.share(b)
    assert a["x"] is b["x"] and a["s"] is b["s"]
    assert str(a["z"]) == "-0.0" and str(b["z"]) == "0.0"  # signed zeros kept apart
    c = {"z": -1.0 * 0.0, "p": 1.0 - 1.0}
    shared.share(c)
    assert c["z"] is a["z"] and c["p"] is b["z"]  # and shared per sign
    assert a["n"] != a["n"] and b["n"] != b["n"]
    assert a["b"] is True and b["b"] == 1 and type(b["b"]) is int  # types never mixed
    assert type(b["i"]) is float and type(a["i"]) is int
    many = [{"v": float(i) + 0.5} for i in range(2 * _SHARED_MAX + 10)]
    for d in many:
        shared.share(d)
    assert len(shared._floats) <= _SHARED_MAX + 1  # bounded
    assert [d["v"] for d in many] == [float(i) + 0.5 for i in range(2 * _SHARED_MAX + 10)]
