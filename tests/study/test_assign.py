"""Assignment designs: coverage, overlap, balance, strata, order, blinding, idempotence."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from medreview.errors import InputError
from medreview.storage.assignments import OutputInfo
from medreview.storage.models import AssignmentRow, RaterRow
from medreview.storage.project import Project
from medreview.study.assign import AssignmentDesign, assign, plan_assignments


def _outputs(n_cases: int, models: int = 3) -> list[OutputInfo]:
    return [OutputInfo(c * models + m + 1, c + 1, f"c{c}", f"m{m}", (f"tag{c % 2}",))
            for c in range(n_cases) for m in range(models)]


def test_every_output_gets_k_distinct_raters_and_load_is_balanced() -> None:
    outs = _outputs(20)
    plan = plan_assignments(outs, AssignmentDesign(("a", "b", "c", "d"), per_output=2, seed=3))
    per_output = defaultdict(set)
    for p in plan:
        per_output[p.output_id].add(p.rater)
    assert all(len(per_output[o.output_id]) == 2 for o in outs)
    load = Counter(p.rater for p in plan)
    assert max(load.values()) - min(load.values()) <= 1
    assert sum(load.values()) == 2 * len(outs)


def test_overlap_fraction_is_exact_and_stratified_by_model() -> None:
    outs = _outputs(20)  # 60 outputs, 20 per model
    plan = plan_assignments(outs, AssignmentDesign(("a", "b", "c"), per_output=3, overlap=0.3,
                                                   seed=1))
    n = Counter(p.output_id for p in plan)
    multi = [o for o in outs if n[o.output_id] == 3]
    assert len(multi) == round(0.3 * 60)
    assert all(n[o.output_id] in (1, 3) for o in outs)
    per_model = Counter(o.model for o in multi)
    assert set(per_model.values()) == {6}  # 30 % of each model's 20 outputs
    load = Counter(p.rater for p in plan)
    assert max(load.values()) - min(load.values()) <= 1


def test_order_is_seeded_per_rater_and_recorded() -> None:
    outs = _outputs(12)
    d = AssignmentDesign(("a", "b"), per_output=2, seed=11)
    first = plan_assignments(outs, d)
    again = plan_assignments(outs, d)
    other = plan_assignments(outs, AssignmentDesign(("a", "b"), per_output=2, seed=12))
    assert first == again
    order_a = [p.output_id for p in sorted(first, key=lambda p: p.position) if p.rater == "a"]
    order_b = [p.output_id for p in sorted(first, key=lambda p: p.position) if p.rater == "b"]
    assert sorted(order_a) == sorted(order_b) and order_a != order_b
    assert [p.output_id for p in other if p.rater == "a"] != order_a


def test_apart_never_puts_one_cases_answers_next_to_each_other_when_avoidable() -> None:
    plan = plan_assignments(_outputs(10), AssignmentDesign(("a",), per_output=1, seed=5))
    case_of = {o.output_id: o.case_id for o in _outputs(10)}
    seq = [case_of[p.output_id] for p in sorted(plan, key=lambda p: p.position)]
    assert all(x != y for x, y in itertools.pairwise(seq))


def test_together_keeps_a_case_with_the_same_raters_and_consecutive() -> None:
    outs = _outputs(8)
    plan = plan_assignments(outs, AssignmentDesign(("a", "b", "c"), per_output=2, overlap=0.5,
                                                   seed=2, case_grouping="together"))
    case_of = {o.output_id: o.case_id for o in outs}
    raters_of_case = defaultdict(set)
    for p in plan:
        raters_of_case[case_of[p.output_id]].add(p.rater)
    by_rater = defaultdict(list)
    for p in sorted(plan, key=lambda p: p.position):
        by_rater[p.rater].append(case_of[p.output_id])
    for seq in by_rater.values():
        runs = [c for i, c in enumerate(seq) if i == 0 or seq[i - 1] != c]
        assert len(runs) == len(set(seq))  # each case appears as one consecutive block
    assert all(Counter(p.output_id for p in plan)[o.output_id] == len(raters_of_case[o.case_id])
               for o in outs)


def test_blind_labels_are_per_case_letters_not_model_order() -> None:
    outs = _outputs(30)
    plan = plan_assignments(outs, AssignmentDesign(("a",), seed=9))
    label = {p.output_id: p.blind_label for p in plan}
    for c in range(1, 31):
        labels = sorted(label[o.output_id] for o in outs if o.case_id == c)
        assert labels == ["Response A", "Response B", "Response C"]
    first_model_labels = {label[o.output_id] for o in outs if o.model == "m0"}
    assert len(first_model_labels) > 1  # model m0 is not always "Response A"


@pytest.mark.parametrize("design, reason", [
    (AssignmentDesign(()), "at least one rater"),
    (AssignmentDesign(("a", "a")), "named twice"),
    (AssignmentDesign(("a",), per_output=2), "needs at least 2 raters"),
    (AssignmentDesign(("a", "b"), per_output=2, overlap=1.5), "between 0 and 1"),
    (AssignmentDesign(("a", "b"), per_output=1, overlap=0.3), "--per-output 2"),
])
def test_bad_designs_are_refused(design: AssignmentDesign, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        design.validate()


@settings(max_examples=40, deadline=None)
@given(n_cases=st.integers(1, 15), n_raters=st.integers(2, 5), k=st.integers(2, 3),
       overlap=st.floats(0, 1), seed=st.integers(0, 10**6),
       grouping=st.sampled_from(["apart", "together"]))
def test_property_coverage_and_balance(n_cases: int, n_raters: int, k: int, overlap: float,
                                       seed: int, grouping: str) -> None:
    k = min(k, n_raters)
    raters = tuple(f"r{i}" for i in range(n_raters))
    outs = _outputs(n_cases, 2)
    plan = plan_assignments(outs, AssignmentDesign(raters, per_output=k, overlap=overlap,
                                                   seed=seed, case_grouping=grouping))  # type: ignore[arg-type]
    n = Counter(p.output_id for p in plan)
    assert all(n[o.output_id] in (1, k) for o in outs)
    assert len({(p.rater, p.output_id) for p in plan}) == len(plan)
    load = Counter(p.rater for p in plan)
    unit = 2 if grouping == "together" else 1  # outputs per assignment unit
    assert max(load.values()) - min(load.get(r, 0) for r in raters) <= unit
    for r in raters:  # positions are 0..n-1 per rater
        assert sorted(p.position for p in plan if p.rater == r) == list(range(load.get(r, 0)))


def test_assign_on_a_project_creates_raters_records_seed_and_is_idempotent(study: Project) -> None:
    design = AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.3, seed=42)
    summary = assign(study, design)
    assert summary.created_raters == ("Dr A", "Dr B", "Dr C")
    assert summary.added == 30 + 9  # 30 outputs once, 9 of them (30 %) a second time
    assert summary.multi_rated_outputs == 9
    assert sorted(summary.per_rater.values()) == [13, 13, 13]
    again = assign(study, design)
    assert again.added == 0 and again.created_raters == ()
    with study.read() as s:
        seeds = set(s.scalars(select(AssignmentRow.seed)))
        kinds = set(s.scalars(select(RaterRow.kind).where(RaterRow.name.like("Dr _"))))
    assert seeds == {42} and kinds == {"physician"}
    from medreview.services.grading import load_queue

    with study.read() as s:
        rid = s.scalars(select(RaterRow.id).where(RaterRow.name == "Dr A")).one()
    queue = load_queue(study, rid)
    assert len(queue) == 13 and [q.position for q in queue] == list(range(13))
    assert all(q.blind_label.startswith("Response ") for q in queue)
