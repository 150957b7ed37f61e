"""Training records from gold labels: SFT content, preference pairs (scores and pairwise)."""

from __future__ import annotations

import json
from pathlib import Path

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.exporters.schemas import check_openai_chat, check_trl_preference
from medreview.exporters.training import criteria_rows, preference_records, sft_records
from medreview.services import grading
from medreview.services.projects import add_rater
from medreview.services.sample_project import build_sample_project
from medreview.storage.project import Project
from medreview.study.adjudicate import set_gold


def _gold_criteria(project: Project, output_id: int, met: dict[str, bool]) -> None:
    for key, value in met.items():
        set_gold(project, output_id, f"criterion:{key}", value, rationale=f"{key} checked",
                 adjudicator="Dr Lead")


def test_sft_record_carries_rubric_case_answer_and_gold_verdict(study: Project) -> None:
    zed = add_rater(study, "Dr Zed")
    rid = zed.id
    grading.save_revision(study, rid, 1, JudgmentDraft(answers={"overall": 4},
                                                       rationale="Dr Zed thinks it is good."),
                          status="done")
    set_gold(study, 1, "overall", 4, provenance="majority")
    records = sft_records(study)
    assert [k for k, _ in records] == ["case-00001"]
    rec = records[0][1]
    assert check_openai_chat(rec) == []
    system, user, assistant = (m["content"] for m in rec["messages"])
    assert "Overall clinical quality" in system and "criterion:<key>" in system
    assert "Names pneumonia as the likely diagnosis" in user and "Assessment (case 1)" in user
    verdict = json.loads(assistant)
    assert verdict == {"answers": {"overall": 4},
                       "rationale": f"{zed.pseudonym} thinks it is good."}
    assert sft_records(study, provenances=("adjudicated",)) == []
    assert "Dr Zed" in sft_records(study, real_names=True)[0][1]["messages"][2]["content"]


def test_preferences_from_gold_scores_respect_margin(study: Project) -> None:
    # case 1 has outputs 1, 2, 3: scores 12/12, 5/12, 5/12 (HealthBench rule)
    _gold_criteria(study, 1, {"dx": True, "abx": True, "safety": True, "harm": False})
    _gold_criteria(study, 2, {"dx": True, "abx": False, "safety": False, "harm": False})
    _gold_criteria(study, 3, {"dx": True, "abx": False, "safety": False, "harm": False})
    _gold_criteria(study, 4, {"dx": True})  # incomplete: no score, no pair
    records, sidecar = preference_records(study, include_margin=True)
    pairs = {(r["chosen_output_id"], r["rejected_output_id"]) for r in sidecar}
    assert pairs == {(1, 2), (1, 3)}  # 2 and 3 tie: no pair
    for _case, rec in records:
        assert check_trl_preference(rec) == []
        assert rec["margin"] == round(7 / 12, 6)
        assert rec["prompt"][-1]["role"] == "user"
    assert preference_records(study, min_margin=0.6)[0] == []
    crit = criteria_rows(study)
    assert {r["explanation"] for _k, r in crit} >= {"dx checked"}
    assert all(r["provenance"] == "adjudicated" for _k, r in crit)


def test_preferences_from_pairwise_gold(tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "pw", n_cases=2, outputs_per_case=2,
                                        with_dicom=False, pairwise=True)
    try:
        set_gold(project, 1, "preference", "B", rationale="B is safer", adjudicator="Dr Lead")
        set_gold(project, 3, "preference", "A", rationale="A is complete", adjudicator="Dr Lead")
        set_gold(project, 4, "preference", "tie", adjudicator="Dr Lead")
        _records, sidecar = preference_records(project)
        got = sorted((r["chosen_output_id"], r["rejected_output_id"], r["source"])
                     for r in sidecar)
        assert got == [(2, 1, "pairwise:preference"), (3, 4, "pairwise:preference")]
    finally:
        project.close()


def test_pairwise_gold_uses_the_answer_the_raters_were_shown(tmp_path: Path) -> None:
    # Three answers per case: "B" is ambiguous unless the judgments record which one it was.
    project, me = build_sample_project(tmp_path / "pw3", n_cases=1, outputs_per_case=3,
                                       with_dicom=False, pairwise=True)
    try:
        set_gold(project, 1, "preference", "B", adjudicator="Dr Lead")
        assert preference_records(project)[1] == []  # nothing recorded: no guessed pair
        draft = JudgmentDraft(answers={"preference": "B", "overall": 3},
                              annotations=(Annotation(question_id="preference",
                                                      compared_output_id=3),))
        grading.save_revision(project, me.id, 1, draft, status="done")
        _records, sidecar = preference_records(project)
        assert [(r["chosen_output_id"], r["rejected_output_id"]) for r in sidecar] == [(3, 1)]
    finally:
        project.close()
