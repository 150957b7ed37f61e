"""Per-rater accuracy on hidden gold through the services on a real project: physicians of
known accuracy grade their queues (hidden items among them, unseen); the report recovers each
accuracy within its interval, lists failed attention items, and keeps attention items out of
the other rater statistics."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.domain.judgment import JudgmentDraft
from medreview.services import checks, grading
from medreview.services.rater_quality import gold_question_rows, gold_rows, rater_report
from medreview.services.sample_project import build_sample_project
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import rater_by_name
from medreview.storage.check_items import project_attention_ids
from medreview.storage.models import JudgmentRow, OutputRow, StudyItemRow
from medreview.storage.project import Project, open_project
from medreview.study.assign import AssignmentDesign, assign

# An item is understood with chance u (every question right) or not (each question right by
# chance c): accuracy per question u + (1 - u) c, errors clustered by item.
MODEL = {"Dr Sharp": (0.8, 0.5), "Dr Sloppy": (0.2, 0.375)}
ACCURACY = {n: u + (1 - u) * c for n, (u, c) in MODEL.items()}  # 0.9 and 0.5
OPTIONS = ("yes", "caveats", "no")


def _gold_value(oid: int) -> str:
    return OPTIONS[oid % 3]


@pytest.fixture(scope="module")
def graded_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gold") / "p"
    project, _me = build_sample_project(path, n_cases=60, outputs_per_case=2,
                                        with_dicom=False, rater="Dr Lead")
    with project.read() as s:
        oids = list(s.scalars(select(OutputRow.id).order_by(OutputRow.id)))
    for o in oids[:100]:
        append_gold(project, o, "safe", _gold_value(o), provenance="imported")
        append_gold(project, o, "overall", 1 + o % 5, provenance="imported")
    attention = oids[-10:]
    checks.set_attention(project, attention, [("safe", "no"), ("overall", 1)])
    assign(project, AssignmentDesign(tuple(ACCURACY), per_output=1, seed=1))
    summary, _ = checks.mix(project, checks.CheckDesign(rate=0.35, attention_rate=0.15, seed=1))
    assert all(per.get("check", 0) >= 20 for per in summary.added.values()), summary
    rng = random.Random(3)
    for name, (u, c) in MODEL.items():
        with project.read() as s:
            rid = rater_by_name(s, name).id
        for q in grading.load_queue(project, rid):
            o = q.output_id
            want_safe = "no" if o in attention else _gold_value(o)
            want_overall = 1 if o in attention else 1 + o % 5
            understood = rng.random() < u
            safe_ok = understood or rng.random() < c
            overall_ok = understood or rng.random() < c
            answers = {"safe": want_safe if safe_ok else next(v for v in OPTIONS
                                                               if v != want_safe),
                       "overall": want_overall if overall_ok else 1 + (want_overall % 5)}
            grading.save_revision(project, rid, o, JudgmentDraft(answers=answers),
                                  status="done")
    project.close()
    return path


@pytest.fixture
def graded(graded_path: Path) -> Iterator[Project]:
    project = open_project(graded_path)
    yield project
    project.close()


def test_the_report_recovers_each_raters_accuracy_within_its_interval(graded: Project) -> None:
    report = rater_report(graded)
    by_name = {r.rater: r for r in report.raters}
    for name in ACCURACY:
        g = by_name[name].gold
        assert g is not None and g.overall.ci is not None
        assert g.overall.n_items == g.n_check_assigned >= 20
        assert g.overall.n == 2 * g.overall.n_items  # two scored questions per item
        assert set(g.per_question) == {"safe", "overall"}
        assert g.attention.n == g.n_attention_assigned >= 8
    sharp, sloppy = by_name["Dr Sharp"].gold, by_name["Dr Sloppy"].gold
    assert sharp is not None and sloppy is not None
    for name, g in (("Dr Sharp", sharp), ("Dr Sloppy", sloppy)):
        acc = ACCURACY[name]
        assert g.overall.ci is not None
        assert g.overall.ci[0] <= acc <= g.overall.ci[1], (name, g.overall)
        for q, share in g.per_question.items():
            assert share.ci is not None and share.ci[0] <= acc <= share.ci[1], (name, q)
        u, c = MODEL[name]
        passing = u + (1 - u) * c * c  # an attention item: both questions right
        assert g.attention.ci is not None
        assert g.attention.ci[0] <= passing <= g.attention.ci[1], (name, g.attention)
    assert sharp.overall.ci is not None and sloppy.overall.ci is not None
    assert sloppy.overall.ci[1] < sharp.overall.ci[0]
    rows = gold_rows(report)
    assert [r[0] for r in rows] == sorted(ACCURACY)
    assert {r[1] for r in gold_question_rows(report)} == {"safe", "overall"}
    failed = sloppy.failed_attention
    assert len(failed) == sloppy.attention.n - sloppy.attention.k
    assert all(f"#{o}" in rows[1][6] for o, _c, _m in failed)


def test_attention_items_are_not_in_the_other_rater_statistics(graded: Project) -> None:
    attention = project_attention_ids(graded)
    with graded.read() as s:
        hidden = s.execute(select(StudyItemRow.rater_id, StudyItemRow.kind)).all()
    n_att = sum(1 for _r, k in hidden if k == "attention")
    assert n_att
    report = rater_report(graded)
    total_done = sum(r.n_done for r in report.raters)
    with graded.read() as s:
        done = list(s.scalars(select(JudgmentRow.output_id).where(JudgmentRow.status == "done")))
    assert total_done == len([o for o in done if o not in attention])
    assert total_done == len(done) - n_att


def test_raters_command_shows_gold_accuracy(graded_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = str(graded_path)
    assert main(["raters", path]) == 0
    out = capsys.readouterr().out
    assert "Hidden gold and attention items" in out and "Accuracy on gold per question" in out
    assert main(["raters", path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    gold = {r["rater"]: r["gold"] for r in data["raters"]}
    assert set(gold) == set(ACCURACY)
    for g in gold.values():
        assert 0 <= g["accuracy"]["ci"][0] <= g["accuracy"]["value"] <= g["accuracy"]["ci"][1]
        assert set(g["per_question"]) == {"safe", "overall"}
