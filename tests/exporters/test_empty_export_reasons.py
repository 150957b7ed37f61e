"""An export that writes no record says why and what to do, on the command line and in lines
returned to the app's dialog."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.services.exporting import ExportRequest, is_note, run_export
from medreview.services.sample_project import build_sample_project
from medreview.services.study import set_gold


def _gold(project, oid: int, qid: str, value: object) -> None:  # type: ignore[no-untyped-def]
    set_gold(project, oid, qid, value, rationale=f"gold {oid}", adjudicator="Dr Lead")


def test_no_gold_labels_names_adjudication_for_each_kind(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project, _me = build_sample_project(tmp_path / "p", with_dicom=False)
    project.close()
    code = main(["export", str(tmp_path / "p"), str(tmp_path / "out"), "--kind", "training"])
    out = capsys.readouterr().out
    assert code == 0
    for kind in ("sft", "dpo", "criteria"):
        line = next(x for x in out.splitlines() if x.startswith(f"{kind}: 0 records — "))
        assert "no output has a gold label yet" in line and "Adjudicate" in line
    # The files are still listed (and empty): the notes come in addition.
    assert "sft.train.jsonl  (0 records)" in out


def test_preference_reasons_follow_the_pair_conditions(tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "p", n_cases=2, outputs_per_case=2,
                                        with_dicom=False)
    try:
        for oid in (1, 2, 3, 4):  # every output the same score: no gap to learn from
            _gold(project, oid, "overall", 3)
        lines = run_export(project, ExportRequest(tmp_path / "a", kinds=("sft", "dpo"),
                                                  score_question="overall"))
        notes = [x for x in lines if is_note(x)]
        assert len(notes) == 1 and notes[0].startswith("dpo: 0 records — ")
        assert "equal gold scores" in notes[0] and "score gap is needed" in notes[0]
        _gold(project, 1, "overall", 5)  # a gap of 2 on the first case
        lines = run_export(project, ExportRequest(tmp_path / "b", kinds=("dpo",),
                                                  score_question="overall", min_margin=3))
        note = next(x for x in lines if is_note(x))
        assert "--min-margin 3" in note and "largest gap 2" in note
        lines = run_export(project, ExportRequest(tmp_path / "c", kinds=("dpo",),
                                                  score_question="overall", min_margin=2))
        assert not any(is_note(x) for x in lines)  # a pair is written: nothing to explain
    finally:
        project.close()


def test_single_output_cases_cannot_make_pairs(tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "p", n_cases=2, outputs_per_case=1,
                                        with_dicom=False)
    try:
        _gold(project, 1, "overall", 4)
        lines = run_export(project, ExportRequest(tmp_path / "out", kinds=("dpo",)))
        note = next(x for x in lines if is_note(x))
        assert "every case has a single output" in note
    finally:
        project.close()


def test_pairwise_gold_without_a_known_partner_says_so(tmp_path: Path) -> None:
    project, _me = build_sample_project(tmp_path / "p", n_cases=1, outputs_per_case=3,
                                        with_dicom=False, pairwise=True)
    try:
        _gold(project, 1, "preference", "A")  # A over which of the other two? Unknown.
        lines = run_export(project, ExportRequest(tmp_path / "out", kinds=("dpo",)))
        note = next(x for x in lines if is_note(x))
        assert "pairwise gold answers make no pair" in note
    finally:
        project.close()
