"""A hidden gold item the physician could not assess (or marked N/A) is no answer to score:
it leaves the accuracy denominators, as it leaves every other statistic."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY
from medreview.services import checks, grading
from medreview.services.sample_project import build_sample_project
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import rater_by_name
from medreview.storage.check_items import hidden_items
from medreview.storage.models import OutputRow, StudyItemRow
from medreview.study.assign import AssignmentDesign, assign


def test_cannot_assess_on_a_hidden_gold_item_is_left_out_of_accuracy(tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "p", n_cases=20, outputs_per_case=2,
                                        with_dicom=False, rater="Dr Lead")
    with project.read() as s:
        oids = list(s.scalars(select(OutputRow.id).order_by(OutputRow.id)))
    for o in oids[:30]:
        append_gold(project, o, "safe", "yes", provenance="imported")
    assign(project, AssignmentDesign(("Dr One", "Dr Two"), per_output=1, seed=2))
    checks.mix(project, checks.CheckDesign(rate=0.3, seed=2))
    with project.read() as s:
        rid = rater_by_name(s, "Dr One").id
        hidden = set(s.scalars(select(StudyItemRow.output_id).where(
            StudyItemRow.rater_id == rid, StudyItemRow.kind == "check")))
    assert len(hidden) >= 2
    marked = sorted(hidden)[0]
    for q in grading.load_queue(project, rid):
        answers: dict[str, object] = {"safe": "yes"}
        if q.output_id == marked:  # an answer typed first, then the item marked
            answers[CANNOT_ASSESS_KEY] = {"reason": "missing_context", "note": ""}
        grading.save_revision(project, rid, q.output_id, JudgmentDraft(answers=answers),
                              status="done")
    got = {a.output_id: a.answers for a in hidden_items(project).answers}
    assert got[marked] == {}  # not a wrong answer, not a right one: no answer
    assert all(v == {"safe": "yes"} for o, v in got.items() if o != marked)
    project.close()
