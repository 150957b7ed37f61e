"""The judge-evaluation abstention table reads physicians' "cannot assess" and "not applicable"
marks (``NotAssessedTally.marks``: the ratings table has no row for them), and such marks
never settle gold."""

from __future__ import annotations

import pandas as pd

from medreview.domain.not_assessed import ALL_QUESTIONS, NOT_APPLICABLE
from medreview.domain.rubric import Question, QuestionKind
from medreview.stats.judge_eval import Version, collect_items, evaluate

QUESTIONS = {q: Question(q, QuestionKind.CRITERION, q.upper(), points=1) for q in ("c", "d")}
COLS = ["output_id", "case_external_id", "model", "rater", "rater_kind", "question_id",
        "value", "confidence"]


def _ratings() -> pd.DataFrame:
    rows: list[tuple[object, ...]] = []
    for oid in range(1, 9):
        case = f"case-{oid}"
        for phys in ("A", "B"):
            rows += [(oid, case, "m", phys, "physician", q, oid % 2 == 0, None) for q in "cd"]
        rows.append((oid, case, "m", "J", "judge", "d", oid % 2 == 0, 0.9))
        if oid > 4:  # the judge abstains on c for outputs 1-4
            rows.append((oid, case, "m", "J", "judge", "c", oid % 2 == 0, 0.9))
    # Dr A could not assess outputs 1-4 (no rows: the read path left them out), and Dr B
    # marked c not applicable on output 5
    df = pd.DataFrame(rows, columns=COLS)
    drop = ((df["rater"] == "A") & (df["output_id"] <= 4)) | (
        (df["rater"] == "B") & (df["output_id"] == 5) & (df["question_id"] == "c"))
    return df[~drop].reset_index(drop=True)


MARKS = {**{(oid, "A"): ALL_QUESTIONS for oid in range(1, 5)}, (5, "B"): frozenset({"c"})}


def test_marks_enter_as_not_applicable_answers_and_settle_no_gold() -> None:
    items = {(it.output_id, it.qid): it for it in collect_items(
        _ratings(), None, QUESTIONS, [Version("v1", "J")], MARKS)}
    assert items[(1, "c")].physicians == {"A": NOT_APPLICABLE, "B": False}
    assert items[(1, "d")].physicians == {"A": NOT_APPLICABLE, "B": False}
    assert items[(5, "c")].physicians == {"A": False, "B": NOT_APPLICABLE}
    # gold is what the assessing physician says, the mark never votes
    assert items[(1, "c")].has_gold and items[(1, "c")].gold is False
    assert items[(5, "c")].has_gold and items[(5, "c")].gold is False
    without = {(it.output_id, it.qid): it for it in collect_items(
        _ratings(), None, QUESTIONS, [Version("v1", "J")])}
    assert without[(1, "c")].physicians == {"B": False}


def test_abstention_where_physicians_could_not_assess() -> None:
    split = {f"case-{i}": "test" for i in range(1, 9)}
    ev = evaluate(_ratings(), None, QUESTIONS, [Version("v1", "J")], split, ci=False,
                  marks=MARKS)
    (row,) = ev.abstention
    # c and d on outputs 1-4 (Dr A's marks) and c on output 5 (Dr B's): 9 items; the judge
    # skipped c on 1-4
    assert row.n_cannot_assess == 9
    assert row.rate_cannot_assess.value == 4 / 9
    assert row.rate_assessed.value == 0.0
    bare = evaluate(_ratings(), None, QUESTIONS, [Version("v1", "J")], split, ci=False)
    assert bare.abstention[0].n_cannot_assess == 0  # without the marks nothing is seen
