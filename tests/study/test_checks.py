"""Hidden gold and attention items: mixing at a rate, never revealed (queue, assignment rows,
package), and attention items left out of every study reader."""

from __future__ import annotations

import json
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.domain.judgment import JudgmentDraft
from medreview.errors import InputError
from medreview.services import checks, grading
from medreview.storage import tables
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import output_infos, rater_by_name
from medreview.storage.check_items import (
    ATTENTION,
    CHECK,
    CheckState,
    QueueSlot,
    RaterQueue,
    project_attention_ids,
)
from medreview.storage.gold import project_gold
from medreview.storage.judge_runs import plan_inputs
from medreview.storage.models import AssignmentRow, OutputRow, ProjectRow, StudyItemRow
from medreview.storage.project import Project
from medreview.study.adjudicate import adjudication_queue, auto_gold
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.checks import CheckDesign, mix_checks, plan_checks
from medreview.study.package import build_package, read_manifest, unpack_package

GOLD_N = 30  # outputs with gold (the first ones by id)


def _oids(project: Project) -> list[int]:
    with project.read() as s:
        return list(s.scalars(select(OutputRow.id).order_by(OutputRow.id)))


def _rid(project: Project, name: str) -> int:
    with project.read() as s:
        return rater_by_name(s, name).id


@pytest.fixture
def gold_study(study: Project) -> Project:
    """30 outputs with gold, the last two attention items (safe = "no"), two physicians."""
    oids = _oids(study)
    for o in oids[:GOLD_N]:
        append_gold(study, o, "safe", "yes", provenance="imported")
    checks.set_attention(study, oids[-2:], [("safe", "no"), ("overall", 1)])
    assign(study, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=5))
    return study


def _assignments(project: Project, rater_id: int) -> list[AssignmentRow]:
    with project.read() as s:
        rows = list(s.scalars(select(AssignmentRow).where(AssignmentRow.rater_id == rater_id)
                              .order_by(AssignmentRow.position)))
        s.expunge_all()
        return rows


def _hidden(project: Project) -> dict[tuple[int, int], str]:
    with project.read() as s:
        return {(r, o): k for r, o, k in s.execute(
            select(StudyItemRow.rater_id, StudyItemRow.output_id, StudyItemRow.kind))}


# --- the planner (pure) ----------------------------------------------------------------------


def _state(m: int, gold: int, attention: int = 0) -> CheckState:
    """One rater with ``m`` untouched items (ids 1..m), ``gold`` further outputs with gold."""
    slots = tuple(QueueSlot(i, i, "Response A", 7, True) for i in range(1, m + 1))
    pool = frozenset(range(1000, 1000 + gold))
    att = frozenset(range(5000, 5000 + attention))
    case_of = {o: o for o in [*range(1, m + 1), *pool, *att]}
    return CheckState((RaterQueue("Dr X", 1, slots, {}),), case_of, pool, att, {1: frozenset()})


def test_the_rate_is_the_share_of_the_untouched_queue_and_positions_are_uniform() -> None:
    design = CheckDesign(rate=0.1, attention_rate=0.05, seed=0)
    (mixed,) = plan_checks(_state(170, 100, 40), design)
    kinds = list(mixed.added.values())
    # 170 ordinary items: 0.1 x 170 / 0.85 = 20 checks, 0.05 x 170 / 0.85 = 10 attention
    assert kinds.count(CHECK) == 20 and kinds.count(ATTENTION) == 10
    assert len(mixed.order) == 200
    assert [o for o, _l, _s in mixed.order if o < 1000] == list(range(1, 171))  # order kept
    # Every new item carries the rater's seed; over many seeds a new item's place in the
    # queue is uniform (mean 0.5, each quarter ~25 %): its position tells nothing.
    assert {s for o, _l, s in mixed.order if o >= 1000} == {7}
    places: list[float] = []
    for seed in range(300):
        (m,) = plan_checks(_state(60, 50), CheckDesign(rate=0.1, seed=seed))
        places += [i / (len(m.order) - 1) for i, (o, _l, _s) in enumerate(m.order) if o >= 1000]
    assert abs(statistics.mean(places) - 0.5) < 0.03
    quarters = [sum(1 for p in places if q / 4 <= p < (q + 1) / 4 or (q == 3 and p == 1))
                for q in range(4)]
    assert all(abs(n / len(places) - 0.25) < 0.03 for n in quarters), quarters


def test_the_planner_never_hides_an_item_the_rater_has_and_is_seeded() -> None:
    state = _state(20, 5)
    have = RaterQueue("Dr X", 1, (*state.queues[0].slots,
                                  QueueSlot(1000, 99, "Response A", 7, False)), {})
    state = CheckState((have,), state.case_of, state.gold_outputs, state.attention_outputs,
                       {1: frozenset({1001})})
    design = CheckDesign(rate=0.3, seed=3)
    (m,) = plan_checks(state, design)
    assert not {1000, 1001} & set(m.added)  # assigned and judged outputs are not checks
    assert plan_checks(state, design) == [m]
    assert plan_checks(state, CheckDesign(rate=0.3, seed=4)) != [m]
    assert plan_checks(_state(0, 5), design) == []  # nothing untouched: nothing to hide among


@pytest.mark.parametrize(("rate", "attention"), [(-0.1, 0.0), (1.0, 0.0), (0.3, 0.3),
                                                 (float("nan"), 0.0)])
def test_bad_rates_are_refused(rate: float, attention: float) -> None:
    with pytest.raises(InputError):
        CheckDesign(rate=rate, attention_rate=attention).validate()


# --- mixing into a project -------------------------------------------------------------------


def test_mixing_adds_hidden_items_once_and_the_rows_carry_no_mark(gold_study: Project) -> None:
    a = _rid(gold_study, "Dr A")
    first = grading.load_queue(gold_study, a)[0].output_id
    grading.save_revision(gold_study, a, first, JudgmentDraft(answers={"overall": 3}),
                          status="done")
    before = {r.output_id: r for r in _assignments(gold_study, a)}
    summary = mix_checks(gold_study, CheckDesign(rate=0.1, attention_rate=0.05, seed=2))
    hidden = _hidden(gold_study)
    mine = {o: k for (r, o), k in hidden.items() if r == a}
    assert sorted(mine.values()).count(CHECK) == summary.added["Dr A"][CHECK] >= 1
    assert summary.added["Dr A"].get(ATTENTION) == 1  # 0.05 x 14 / 0.85 rounds to 1
    rows = _assignments(gold_study, a)
    assert {r.output_id for r in rows} == set(before) | set(mine)
    gold = project_gold(gold_study)
    attention = project_attention_ids(gold_study)
    for o, k in mine.items():
        assert o not in before  # never one the rater had
        assert (o in gold) if k == CHECK else (o in attention)
    # The item the rater opened keeps its row; the untouched ones were written again with the
    # new ones: one created_at, one seed, ids in queue order, no two positions alike.
    done_row = next(r for r in rows if r.output_id == first)
    assert (done_row.id, done_row.position) == (before[first].id, before[first].position)
    untouched = [r for r in rows if r.output_id != first]
    assert len({r.created_at for r in untouched}) == 1
    assert {r.seed for r in untouched} == {5}
    assert [r.id for r in untouched] == sorted(r.id for r in untouched)
    assert len({r.position for r in rows}) == len(rows)
    at = [i for i, r in enumerate(untouched) if r.output_id in mine]
    assert at != list(range(len(untouched) - len(mine), len(untouched)))  # not appended
    # Labels stay unique per case within the rater's queue (a check looks like any answer).
    infos = {o.output_id: o.case_id for o in output_infos(gold_study)}
    infos.update({o: -o for o in attention})
    seen = [(infos[r.output_id], r.blind_label) for r in rows]
    assert len(set(seen)) == len(seen)
    # The same design again adds nothing; the queue shows them like any other item.
    again = mix_checks(gold_study, CheckDesign(rate=0.1, attention_rate=0.05, seed=2))
    assert again.added == {} and _hidden(gold_study) == hidden
    queue = grading.load_queue(gold_study, a)
    assert {q.output_id for q in queue} == {r.output_id for r in rows}
    assert {type(q) for q in queue} == {type(queue[0])}


def test_settings_record_the_design_but_no_item(gold_study: Project) -> None:
    mix_checks(gold_study, CheckDesign(rate=0.1, attention_rate=0.05, seed=2))
    with gold_study.read() as s:
        settings = s.scalars(select(ProjectRow.settings)).one()
    record = settings["checks"]
    assert record["rate"] == 0.1 and record["attention_rate"] == 0.05 and record["seed"] == 2
    assert set(record) <= {"rate", "attention_rate", "seed", "reason", "added", "runs"}
    for run in record["runs"]:  # project settings are readable by raters: no ids, no names
        assert set(run) <= {"rate", "attention_rate", "seed", "reason", "added"}


def test_attention_items_stay_out_of_every_study_reader(gold_study: Project) -> None:
    mix_checks(gold_study, CheckDesign(rate=0.2, attention_rate=0.1, seed=1))
    attention = project_attention_ids(gold_study)
    hidden = _hidden(gold_study)
    assert len(attention) == 2 and ATTENTION in hidden.values() and CHECK in hidden.values()
    checks_done: set[int] = set()
    for name in ("Dr A", "Dr B"):
        rid = _rid(gold_study, name)
        for q in grading.load_queue(gold_study, rid):
            grading.save_revision(gold_study, rid, q.output_id, JudgmentDraft(
                answers={"overall": 2, "safe": "no"}), status="done")
            if hidden.get((rid, q.output_id)) == CHECK:
                checks_done.add(q.output_id)
    answered = {o for (_r, o), k in hidden.items() if k == ATTENTION}
    assert answered <= attention and answered
    ratings = tables.ratings_long(gold_study)
    assert not set(ratings["output_id"]) & attention
    assert checks_done <= set(ratings["output_id"])  # hidden gold items are study cases
    assert not {r["output_id"] for r in tables.current_revisions(gold_study)} & attention
    assert not set(tables.gold_table(gold_study)["output_id"]) & attention
    assert not set(tables.outputs_table(gold_study)["output_id"]) & attention
    assert not set(project_gold(gold_study)) & attention
    auto_gold(gold_study)  # their answers never become gold either
    assert not {d.output_id for d in adjudication_queue(gold_study)} & attention
    assert not {o for o, _c, _t in plan_inputs(gold_study).outputs} & attention
    assert not {o.output_id for o in output_infos(gold_study)} & attention
    # Assigning again never hands an attention item out as an ordinary one.
    assign(gold_study, AssignmentDesign(("Dr C",), per_output=1, seed=9))
    c = _rid(gold_study, "Dr C")
    assert not {r.output_id for r in _assignments(gold_study, c)} & attention


# --- packages --------------------------------------------------------------------------------


def _package_rows(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        tables_ = [t for (t,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: dict[str, Any] = {"tables": tables_}
        for t in tables_:
            cols = [c[1] for c in con.execute(f'PRAGMA table_info("{t}")')]
            out[t] = (cols, [dict(zip(cols, r, strict=True))
                             for r in con.execute(f'SELECT * FROM "{t}"')])
        return out
    finally:
        con.close()


def _package(project: Project, rater: str, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    info = build_package(project, rater, tmp / f"{rater}.mrpkg")
    folder = unpack_package(info.path, tmp / rater)
    return read_manifest(info.path), _package_rows(folder / "project.sqlite")


def test_a_package_with_hidden_items_looks_like_one_without(
        study: Project, tmp_path: Path) -> None:
    oids = _oids(study)
    for o in oids[:GOLD_N]:
        append_gold(study, o, "safe", "yes", provenance="imported")
    checks.set_attention(study, oids[-2:], [("safe", "no")])
    assign(study, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=5))
    plain_manifest, plain = _package(study, "Dr B", tmp_path / "plain")
    mix_checks(study, CheckDesign(rate=0.2, attention_rate=0.1, seed=3, raters=("Dr A",)))
    b = _rid(study, "Dr B")
    a = _rid(study, "Dr A")
    hidden = {o for (r, o) in _hidden(study) if r == a}
    assert hidden and not {o for (r, o) in _hidden(study) if r == b}
    manifest, mixed = _package(study, "Dr A", tmp_path / "mixed")
    # Same tables and columns; nothing about study items or gold travels.
    assert mixed["tables"] == plain["tables"]
    for t in mixed["tables"]:
        assert mixed[t][0] == plain[t][0], t
    for t in ("study_item", "gold_label", "issued_package", "judge_run", "judge_item"):
        if t in mixed:
            assert mixed[t][1] == [], t
    assert set(manifest) == set(plain_manifest)
    assert set(manifest["outputs"]) and all(set(v) == {"text_sha256"}
                                            for v in manifest["outputs"].values())
    # Row by row: a hidden item's output and assignment rows take no value in any column that
    # the rater's ordinary rows do not also take (ids, text and links aside).
    with study.read() as s:
        sha = {int(o): str(t) for o, t in s.execute(select(OutputRow.id,
                                                             OutputRow.text_sha256)).all()}
    hidden_sha = {sha[o] for o in hidden}
    outs = mixed["output"][1]
    hidden_ids = {o["id"] for o in outs if o["text_sha256"] in hidden_sha}
    assert len(hidden_ids) == len(hidden)
    skip = {"id", "text", "text_sha256", "external_id", "case_id", "output_id", "position"}

    def values(rows: list[dict[str, Any]], key: str, ids: set[int], inside: bool) -> dict:
        out: dict[str, set[str]] = {}
        for r in rows:
            if (r[key] in ids) == inside:
                for c, v in r.items():
                    if c not in skip:
                        out.setdefault(c, set()).add(json.dumps(v, default=str))
        return out

    for table, key in (("output", "id"), ("assignment", "output_id")):
        rows = mixed[table][1]
        mark = values(rows, key, hidden_ids, True)
        rest = values(rows, key, hidden_ids, False)
        for c, vs in mark.items():
            if c in ("blind_label", "created_at"):
                # Labels are per case ("Response A", ...): any may occur. A row's created_at
                # is the moment it was copied: assignments in queue order, outputs shuffled
                # (both checked below).
                continue
            assert vs <= rest[c], (table, c, vs - rest[c])
    # Hidden items are spread through the queue, not appended.
    order = [r["output_id"] for r in sorted(mixed["assignment"][1], key=lambda r: r["position"])]
    places = [i for i, o in enumerate(order) if o in hidden_ids]
    assert places[0] < len(order) - len(places)
    by_made = [r["output_id"] for r in sorted(mixed["assignment"][1],
                                               key=lambda r: (r["created_at"], r["id"]))]
    assert by_made == order
    by_time = [o["id"] for o in sorted(outs, key=lambda o: (o["created_at"], o["id"]))]
    assert by_time == sorted(by_time) or len(outs) < 2  # ids follow the copy order...
    ranks = sorted(by_time.index(i) for i in hidden_ids)
    assert ranks != list(range(len(outs) - len(ranks), len(outs)))  # ...not hidden last


# --- command line ----------------------------------------------------------------------------


def test_checks_and_assign_commands(study: Project, capsys: pytest.CaptureFixture[str]) -> None:
    oids = _oids(study)
    for o in oids[:GOLD_N]:
        append_gold(study, o, "safe", "yes", provenance="imported")
    path = str(study.path)
    study.close()
    ids = f"{oids[-1]},{oids[-2]}"
    assert main(["checks", path, "--attention", ids, "--expect", 'safe="no"']) == 0
    assert "2 attention item(s): 2 expected answer(s)" in capsys.readouterr().out
    assert main(["assign", path, "--raters", "Dr A,Dr B", "--check-rate", "0.1",
                 "--attention-rate", "0.05", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "hidden item(s) mixed in (rate 0.1, attention rate 0.05, seed 2)" in out
    assert "Dr A:" in out and "check" in out
    for bad, says in ((["--rate", "0.7"], "--rate"),
                      (["--attention", "x1", "--expect", "safe=1"], "not an output id"),
                      (["--attention", "99999999999999999999", "--expect", "safe=1"],
                       "not an output id"),
                      (["--attention", str(oids[0]), "--expect", "safe=1"],
                       "not a valid expected answer"),
                      (["--attention", str(oids[0]), "--expect", "nosuch=1"],
                       "no such question"),
                      (["--attention", "999999", "--expect", 'safe="no"'], "no such output"),
                      (["--attention", str(oids[0])], "go together"),
                      (["--rate", "0.1", "--raters", "Dr Nobody"], "no physician"),
                      (["--rate", "0.1", "--attention-rate", "0.45"], "at most 0.5"),
                      ([], "nothing to do")):
        assert main(["checks", path, *bad]) != 0, bad
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, (bad, err)
        assert len(err.strip().splitlines()) == 1, err


def test_an_item_of_the_raters_other_study_rounds_is_never_their_check(study: Project) -> None:
    oids = _oids(study)
    for o in oids[:GOLD_N]:
        append_gold(study, o, "safe", "yes", provenance="imported")
    assign(study, AssignmentDesign(("Dr A",), per_output=1, seed=5))
    a = _rid(study, "Dr A")
    # Dr A is assigned everything but the gold outputs 1..10 are then taken back: of those,
    # the first five are their qualification items (gold shown after each): never checks.
    with study.transaction() as s:
        s.execute(AssignmentRow.__table__.delete().where(
            AssignmentRow.rater_id == a, AssignmentRow.output_id.in_(oids[:10])))
        for o in oids[:5]:
            s.add(StudyItemRow(rater_id=a, output_id=o, kind="qualification"))
    summary = mix_checks(study, CheckDesign(rate=0.3, seed=1))
    mine = {o for (r, o), k in _hidden(study).items() if r == a and k == CHECK}
    assert summary.added["Dr A"][CHECK] == len(mine) == 5  # only outputs 6..10 were free
    assert mine == set(oids[5:10])
