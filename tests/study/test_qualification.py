"""The qualification round: the queue serves only the gold items until the rater passes,
scores per question against the gold (same-answer rule), a failing rater's one line, the
lead's waiver, feedback only for finished qualification items, and ``medreview qualify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.domain.judgment import JudgmentDraft
from medreview.errors import InputError
from medreview.services import grading
from medreview.services.qualification import (
    feedback,
    queue_line,
    round_status,
    set_up_round,
    waive,
    wilson,
)
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import find_rater, output_infos
from medreview.storage.project import Project
from tests.storage.study_helpers import assign_all, small_study

RATER = "Dr New"
GOLD = {"overall": 4, "safe": "yes", "issues": ["completeness", "accuracy"]}


def _project(tmp_path: Path) -> tuple[Project, list[int], list[int]]:
    """Six outputs, the first four with gold; the rater is assigned all six."""
    project = small_study(tmp_path / "p", n_cases=3)
    ids = [o.output_id for o in output_infos(project)]
    gold = ids[:4]
    for oid in gold:
        for qid, value in GOLD.items():
            append_gold(project, oid, qid, value, provenance="adjudicated",
                        rationale=f"why {qid}", adjudicator="Dr Lead")
    assign_all(project, RATER)
    return project, ids, gold


def _answer(project: Project, rid: int, oid: int, answers: dict[str, object]) -> None:
    grading.save_revision(project, rid, oid, JudgmentDraft(answers=dict(answers)),
                          status="done")


def test_the_queue_opens_only_when_the_round_is_passed(tmp_path: Path) -> None:
    project, ids, gold = _project(tmp_path)
    with project:
        summary, _ = set_up_round(project, (RATER,), from_gold=3, seed=1, pass_mark=0.8)
        assert summary.added == 3 and set(summary.items) <= set(gold)
        rid = find_rater(project, RATER).id
        qual = list(summary.items)
        queue = grading.load_queue(project, rid)
        assert [r.output_id for r in queue] == qual  # only the qualification items
        assert [r.position for r in queue] == [0, 1, 2]
        assert queue_line(project, rid) == ("Qualification: 0 of 3 items done; your real "
                                            "queue opens when you pass")
        # All as the gold but the first item's safety: 8 of 9 questions (order of the
        # multi-choice set does not matter).
        _answer(project, rid, qual[0], {**GOLD, "safe": "no", "comment": "x"})
        _answer(project, rid, qual[1], {**GOLD, "issues": ["accuracy", "completeness"]})
        assert [r.output_id for r in grading.load_queue(project, rid)] == qual
        _answer(project, rid, qual[2], GOLD)
        (st,) = round_status(project)
        assert (st.done, st.items, st.state) == (3, 3, "passed")
        assert st.score == pytest.approx(8 / 9) and st.ci == wilson(8, 9)
        per_q = {q.question_id: (q.matched, q.total) for q in st.per_question}
        assert per_q == {"overall": (3, 3), "safe": (2, 3), "issues": (3, 3)}
        queue = grading.load_queue(project, rid)
        assert [r.output_id for r in queue][:3] == qual
        assert sorted(r.output_id for r in queue) == sorted(ids)  # the real queue is open
        assert [r.status for r in queue[:3]] == ["done"] * 3
        assert queue_line(project, rid) is None


def test_a_failing_rater_stays_closed_until_waived(tmp_path: Path) -> None:
    project, ids, gold = _project(tmp_path)
    with project:
        set_up_round(project, (RATER,), output_ids=(gold[0], gold[1]), pass_mark=0.8)
        rid = find_rater(project, RATER).id
        _answer(project, rid, gold[0], {"overall": 2, "safe": "yes", "issues": []})
        _answer(project, rid, gold[1], GOLD)
        (st,) = round_status(project)
        assert st.state == "failed" and st.score == pytest.approx(4 / 6)
        assert queue_line(project, rid) == ("Qualification: 67 % of 80 % needed — ask the "
                                            "study lead")
        assert [r.output_id for r in grading.load_queue(project, rid)] == gold[:2]
        # Editing an item to the gold after the feedback showed it changes nothing: the
        # first finished answer is the one scored.
        _answer(project, rid, gold[0], GOLD)
        (st,) = round_status(project)
        assert st.state == "failed" and st.score == pytest.approx(4 / 6)
        # The lead adds an item: still closed (not complete); then waives.
        set_up_round(project, (RATER,), output_ids=(gold[2],))
        assert [r.output_id for r in grading.load_queue(project, rid)] == gold[:3]
        waive(project, RATER)
        assert round_status(project)[0].state == "waived"
        assert len(grading.load_queue(project, rid)) == len(ids)
        with pytest.raises(InputError, match="no such physician"):
            waive(project, "Dr Nobody")


def test_feedback_only_for_finished_qualification_items(tmp_path: Path) -> None:
    project, ids, gold = _project(tmp_path)
    with project:
        set_up_round(project, (RATER,), output_ids=(gold[0],), pass_mark=0.5)
        rid = find_rater(project, RATER).id
        assert feedback(project, rid, gold[0]) is None  # not finished: no gold
        grading.save_revision(project, rid, gold[0], JudgmentDraft(answers={"overall": 1}))
        assert feedback(project, rid, gold[0]) is None  # a draft is not finished
        _answer(project, rid, gold[0], {"overall": 1, "safe": "yes"})
        rows = feedback(project, rid, gold[0])
        assert rows is not None
        by_q = {r.question_id: r for r in rows}
        assert [r.question_id for r in rows] == ["overall", "safe", "issues"]  # form order
        assert (by_q["overall"].answer, by_q["overall"].gold, by_q["overall"].same) == (
            1, 4, False)
        assert by_q["safe"].same and by_q["safe"].gold_rationale == "why safe"
        assert by_q["overall"].question_text == "Overall clinical quality"
        assert feedback(project, rid, gold[1]) is None  # gold, but not a qualification item
        assert feedback(project, rid, ids[5]) is None


def test_a_round_refuses_bad_items(tmp_path: Path) -> None:
    project, ids, _gold = _project(tmp_path)
    with project:
        with pytest.raises(InputError, match="no gold label"):
            set_up_round(project, (RATER,), output_ids=(ids[5],))
        with pytest.raises(InputError, match="no such output"):
            set_up_round(project, (RATER,), output_ids=(99_999,))
        with pytest.raises(InputError, match="fewer than 5"):
            set_up_round(project, (RATER,), from_gold=5)
        with pytest.raises(InputError, match="pass mark"):
            set_up_round(project, (RATER,), from_gold=1, pass_mark=1.5)
        with pytest.raises(InputError, match="choose the qualification items"):
            set_up_round(project, (RATER,))
        assert round_status(project) == []


def test_qualify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project, _ids, gold = _project(tmp_path)
    path = tmp_path / "p"
    with project:
        pass
    assert main(["qualify", str(path), "--raters", f"{RATER},Dr Two",
                 "--outputs", f"{gold[0]},{gold[1]}", "--pass-mark", "0.75"]) == 0
    assert "4 qualification items added" in capsys.readouterr().out
    assert main(["qualify", str(path), "--status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["rater"], d["done"], d["items"], d["state"], d["pass_mark"]) for d in data] == [
        ("Dr New", 0, 2, "in progress", 0.75), ("Dr Two", 0, 2, "in progress", 0.75)]
    assert main(["qualify", str(path), "--waive", "Dr Two"]) == 0
    assert main(["qualify", str(path), "--status"]) == 0
    out = capsys.readouterr().out
    assert "waived" in out and "in progress" in out
    assert main(["qualify", str(path), "--outputs", "1,x", "--raters", "A"]) == 2
    assert "an output id is a whole number" in capsys.readouterr().err
    assert main(["qualify", str(path), "--status", "--waive", "A"]) == 2


def test_a_package_before_passing_holds_only_the_qualification_items(tmp_path: Path) -> None:
    from medreview.services.study import build_package, merge_packages
    from medreview.storage.gold import project_gold
    from medreview.storage.project import open_project as open_folder
    from medreview.study.package import seal_package, unpack_package

    project, ids, gold = _project(tmp_path)
    with project:
        set_up_round(project, (RATER,), output_ids=(gold[0], gold[1]), pass_mark=0.5)
        build_package(project, RATER, tmp_path / "q.mrpkg")
        folder = unpack_package(tmp_path / "q.mrpkg", tmp_path / "unpacked")
        pkg = open_folder(folder)
        with pkg:
            assert project_gold(pkg) == {}  # no gold travels
            prid = find_rater(pkg, RATER).id
            queue = grading.load_queue(pkg, prid)
            assert len(queue) == 2  # only the qualification items, blinded
            texts = {grading.load_item(pkg, prid, r.output_id).answer for r in queue}
            for r in queue:
                _answer(pkg, prid, r.output_id, GOLD)
        want = {grading.load_item(project, find_rater(project, RATER).id, o).answer
                for o in gold[:2]}
        assert texts == want
        merge_packages(project, [seal_package(folder, tmp_path / "back.mrpkg").path])
        (st,) = round_status(project)
        assert (st.done, st.state) == (2, "passed")
        rid = find_rater(project, RATER).id
        assert len(grading.load_queue(project, rid)) == len(ids)
        build_package(project, RATER, tmp_path / "all.mrpkg")  # passed: the real queue
        with open_folder(unpack_package(tmp_path / "all.mrpkg", tmp_path / "all")) as pkg:
            assert len(grading.load_queue(pkg, find_rater(pkg, RATER).id)) == len(ids)


def test_a_drawn_round_never_takes_an_attention_item(tmp_path: Path) -> None:
    """An attention item's expected answer is gold too; feedback would show it to the rater."""
    from medreview.services.checks import set_attention
    from medreview.storage.qualification import choose_gold

    project, ids, _gold = _project(tmp_path)
    with project:
        set_attention(project, [ids[4]], [("safe", "no")])
        for seed in range(20):
            assert ids[4] not in choose_gold(project, 4, seed)
        with pytest.raises(InputError, match="fewer than 5"):
            choose_gold(project, 5, 0)  # four gold items, the attention item not among them
