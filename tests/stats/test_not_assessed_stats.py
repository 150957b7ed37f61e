"""Not applicable and cannot assess stay out of every agreement denominator and are reported.

Two real projects hold the same physicians' ratings; in one some answers are "not applicable"
and some items "cannot assess", in the other those answers and judgments were never written.
Every agreement row (kappa, alpha, AC1, ...) must be identical, and the first project's report
counts what was left out.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, cannot_assess_value
from medreview.services.dashboard import project_statistics
from medreview.storage.forms import active_form_rows
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision
from medreview.storage.tables import outputs_table, ratings_long
from tests.judge.conftest import build_project

RATERS = ("Dr. A", "Dr. B", "Dr. C")
REASONS = ("missing_context", "outside_specialty", "other")


def _plan(project: Project) -> list[tuple[str, int, dict[str, object]]]:
    """(rater, output, answers) with the not-assessed ones marked, from a fixed seed."""
    rng = random.Random(5)
    out = []
    for oid in outputs_table(project)["output_id"].astype(int):
        for rater in RATERS:
            answers: dict[str, object] = {"criterion:urgent": rng.random() < 0.7,
                                          "criterion:overconfident": rng.random() < 0.3}
            roll = rng.random()
            if roll < 0.15:
                answers["criterion:overconfident"] = NOT_APPLICABLE
            elif roll < 0.25:
                reason = REASONS[rng.randrange(3)]
                answers[CANNOT_ASSESS_KEY] = cannot_assess_value(
                    reason, "no vitals given" if reason == "other" else "")
            out.append((rater, int(oid), answers))
    return out


def _write(project: Project, plan: list[tuple[str, int, dict[str, object]]]) -> None:
    with project.transaction() as s:
        rubric, _ = active_form_rows(s)
        assert rubric is not None
        for name, oid, answers in plan:
            rater = get_or_create_rater(s, name, "physician")
            append_revision(s, rater_id=rater.id, output_id=oid, content=RevisionContent(
                answers=answers, status="done"), form_id=rubric.id, taxonomy_id=None, author=name,
                source="import")


def _by_hand(plan: list[tuple[str, int, dict[str, object]]]
             ) -> list[tuple[str, int, dict[str, object]]]:
    """The same ratings with every not-assessed answer and judgment left out."""
    return [(r, o, {k: v for k, v in a.items() if v != NOT_APPLICABLE})
            for r, o, a in plan if CANNOT_ASSESS_KEY not in a]


def test_agreement_is_the_same_as_on_the_data_without_them(tmp_path: Path) -> None:
    marked = build_project(tmp_path / "marked", forms=("healthbench",), n_cases=20)
    plain = build_project(tmp_path / "plain", forms=("healthbench",), n_cases=20)
    plan = _plan(marked)
    n_na = sum(a.get("criterion:overconfident") == NOT_APPLICABLE for _, _, a in plan)
    n_ca = sum(CANNOT_ASSESS_KEY in a for _, _, a in plan)
    assert n_na >= 5 and n_ca >= 5  # the seed does exercise both
    _write(marked, plan)
    _write(plain, _by_hand(plan))
    _, with_marks = project_statistics(marked, ci=False)
    _, without = project_statistics(plain, ci=False)

    def criteria(t: pd.DataFrame) -> pd.DataFrame:
        # the score differs by design: N/A is out of the denominator, unanswered counts as
        # not met (below); every criterion row must be equal
        return t[t["question_id"] != "score"].reset_index(drop=True)

    a, b = criteria(with_marks.agreement), criteria(without.agreement)
    assert len(a) > 0 and a["value"].notna().any()
    pd.testing.assert_frame_equal(a, b)

    # reported: N/A per question, cannot assess per reason
    table = with_marks.not_assessed
    na = table[table["what"] == "not_applicable"]
    assert na[["question_id", "count"]].values.tolist() == [["criterion:overconfident", n_na]]
    ca = table[table["what"] == "cannot_assess"]
    assert int(ca["count"].sum()) == n_ca
    want = pd.Series([a[CANNOT_ASSESS_KEY]["reason"] for _, _, a in plan  # type: ignore[index]
                      if CANNOT_ASSESS_KEY in a]).value_counts().sort_index()
    assert dict(zip(ca["reason"], ca["count"], strict=True)) == want.to_dict()
    data = json.loads(with_marks.to_json())
    assert sum(r["count"] for r in data["not_assessed"] if r["what"] == "cannot_assess") == n_ca
    marked.close()
    plain.close()


def test_scores_leave_na_out_and_cannot_assess_unscored(tmp_path: Path) -> None:
    project = build_project(tmp_path / "p", forms=("healthbench",), n_cases=1,
                            models=("model-a",))
    oid = int(outputs_table(project)["output_id"].iloc[0])
    _write(project, [
        ("Dr. A", oid, {"criterion:urgent": True, "criterion:overconfident": NOT_APPLICABLE}),
        ("Dr. B", oid, {"criterion:urgent": True, "criterion:overconfident": True}),
        ("Dr. C", oid, {"criterion:urgent": True,
                        CANNOT_ASSESS_KEY: cannot_assess_value("ambiguous_question")}),
    ])
    long = ratings_long(project)
    scores = long[long["question_id"] == "score"].set_index("rater")["value"].to_dict()
    # urgent +8 met; overconfident -4: N/A leaves 8/8, met gives (8 - 4)/8
    assert scores == {"Dr. A": 1.0, "Dr. B": 0.5}
    assert "Dr. C" not in set(long["rater"])
    assert NOT_APPLICABLE not in set(map(str, long["value"]))
    kept = ratings_long(project, keep_not_assessed=True)
    assert NOT_APPLICABLE in set(map(str, kept["value"]))
    assert CANNOT_ASSESS_KEY in set(kept["question_id"])
    project.close()


def test_the_stats_command_prints_and_writes_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medreview.cli.main import main

    project = build_project(tmp_path / "p", forms=("healthbench",), n_cases=6)
    plan = _plan(project)
    _write(project, plan)
    project.close()
    assert main(["stats", str(tmp_path / "p"), "--no-ci"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("Not assessed (left out of every statistic above)"):]
    n_na = sum(a.get("criterion:overconfident") == NOT_APPLICABLE for _, _, a in plan)
    assert "criterion:overconfident" in block and str(n_na) in block
    assert main(["stats", str(tmp_path / "p"), "--no-ci", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    got = {(r["what"], r["question_id"] or r["reason"]): r["count"] for r in data["not_assessed"]}
    assert got[("not_applicable", "criterion:overconfident")] == n_na
    for reason in {a[CANNOT_ASSESS_KEY]["reason"] for _, _, a in plan  # type: ignore[index]
                   if CANNOT_ASSESS_KEY in a}:
        assert got[("cannot_assess", reason)] >= 1
