"""A judge that answers "N/A": stored as a physician's N/A where the question allows it
(left out of every statistic, counted apart), refused where it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.domain.not_assessed import NOT_APPLICABLE
from medreview.domain.rubric import Option, Question, QuestionKind, case_criterion_question
from medreview.judge.parse import ReplyParseError, coerce_value
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.dashboard import load_inputs
from medreview.services.judging import run_judge
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow, RaterRow
from medreview.storage.project import Project
from tests.judge.conftest import build_project, fast_config

ORDINAL = Question("q", QuestionKind.ORDINAL, "Quality",
                   options=(Option(1, "Poor"), Option(2, "Good")))


@pytest.mark.parametrize("word", ["N/A", "n/a", " Not applicable ", "NA", "not_applicable"])
def test_na_words_on_a_criterion_become_not_applicable(word: str) -> None:
    assert coerce_value(case_criterion_question("k", "Advises X", 5), word) == NOT_APPLICABLE


def test_na_refused_where_the_question_does_not_allow_it() -> None:
    with pytest.raises(ReplyParseError, match=r"not applicable.*does not allow"):
        coerce_value(ORDINAL, "N/A")
    strict = case_criterion_question("k", "Advises X", 5)
    strict = Question(strict.id, strict.kind, strict.prompt, allow_na=False)
    with pytest.raises(ReplyParseError, match="does not allow"):
        coerce_value(strict, "n/a")


def test_na_allowed_on_a_scale_that_allows_it() -> None:
    scale = Question("q", QuestionKind.ORDINAL, "Quality", allow_na=True,
                     options=(Option(1, "Poor"), Option(2, "Good")))
    assert coerce_value(scale, "N/A") == NOT_APPLICABLE
    assert coerce_value(scale, 2) == 2


def test_an_option_named_na_wins() -> None:
    q = Question("q", QuestionKind.SINGLE_CHOICE, "Applies?", allow_na=True,
                 options=(Option("yes", "Yes"), Option("na", "N/A")))
    assert coerce_value(q, "N/A") == "na"  # the form's own option, not the N/A marker
    assert coerce_value(q, "not applicable") == NOT_APPLICABLE


def test_other_words_still_refused() -> None:
    crit = case_criterion_question("k", "Advises X", 5)
    for raw in ("maybe", "N/A because", "", None, ["N/A"], {"value": "N/A"}):
        with pytest.raises(ReplyParseError):
            coerce_value(crit, raw)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return build_project(tmp_path / "p", forms=("healthbench",))


def test_judge_run_stores_na_and_statistics_count_it_apart(
        project: Project, server: FakeOpenAIServer) -> None:
    server.sticky.append(("", "not_applicable"))  # every reply: criteria_met "N/A"
    summary = run_judge(project, fast_config(server.url))
    # 3 cases x 2 outputs x 2 per-case criteria, every one judged (none a parse failure)
    assert (summary.items_total, summary.judged, summary.failed) == (12, 12, 0)
    with project.read() as s:
        answers = [a for (a,) in s.execute(
            select(JudgmentRevisionRow.answers)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .where(RaterRow.kind == "judge"))]
    values = [v for a in answers for k, v in a.items() if k.startswith("criterion:")]
    assert len(values) == 12 and set(values) == {NOT_APPLICABLE}
    inputs = load_inputs(project)
    # No statistic sees them; the not-assessed table counts them for the judge.
    assert not (inputs.ratings["rater_kind"] == "judge").any()
    counted = {(r["what"], r["question_id"]): r["count"] for r in inputs.not_assessed.rows()
               if r["rater_kind"] == "judge"}
    assert counted == {("not_applicable", "criterion:urgent"): 6,
                       ("not_applicable", "criterion:overconfident"): 6}
