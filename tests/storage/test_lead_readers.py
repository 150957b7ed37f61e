"""The study lead's readers on columns give what the ORM readers gave, value for value.

References kept here: ``_ref_project_questions``, ``_ref_current_revisions`` and ``_ref_finals``
are the readers as they were (ORM entities, one question per criterion row), ``_ref_drift`` the
drift of one rater with its own pass over the answers, ``_ref_report`` the rater report's
computation with per-rater passes and the per-final question count. Randomized projects hold
hostile criteria (unicode keys and texts, one key in several cases with other texts, points and
tags, equal texts with other points), drafts and skips, older current revisions, judges,
pseudonyms, an attention item, retests, unicode and odd answers, flagged and unflagged
revisions, times and confidences or none. Compared: dicts with their insertion order, question
objects, every value with its type (aware datetimes, parsed JSON), the adjudication queue and
the rater report built on both.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question, case_criterion_question
from medreview.errors import StatsError
from medreview.services import rater_quality as service
from medreview.services.rater_quality import (
    RaterQuality,
    RaterReport,
    _questions,
    _scored,
    _units,
    compute_rater_report,
    load_rater_inputs,
)
from medreview.stats.rater_quality import (
    Answer,
    Coefficient,
    DriftWindow,
    _failed,
    _is_missing,
    _loo_majority,
    _too_many,
    _window_keys,
    busiest,
    categories_of,
    cohen_kappa,
    done_per_day,
    drift,
    drift_by_rater,
    retest,
    scale_of,
    time_summary,
    usable_times,
)
from medreview.storage import table_read, tables
from medreview.storage.check_items import ATTENTION_PROVENANCE, not_attention
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project
from medreview.storage.questions import SCORE_QUESTION, project_questions
from medreview.storage.rater_quality import FinalJudgment, RaterRecords, _answers, _finals
from medreview.storage.raters import get_or_create_rater
from medreview.storage.rating_columns import SCORE_QUESTION_ID
from medreview.study import adjudicate
from tests.storage.study_helpers import small_study

T0 = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC)


# --- the references: the readers as they were -------------------------------------------------


def _ref_project_questions(project: Project, *, include_score: bool = False
                           ) -> dict[str, Question]:
    out: dict[str, Question] = {}
    with project.read() as s:
        for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
            for q in form_from_row(row).questions:
                out[q.id] = q
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.id)):
            q = case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
            out[q.id] = q
    if include_score:
        out[SCORE_QUESTION_ID] = SCORE_QUESTION
    return out


def _ref_current_revisions(project: Project, *, include_drafts: bool = False,
                           rater_kind: str | None = None, output_id: int | None = None,
                           min_raters: int = 1) -> list[dict[str, Any]]:
    """The ORM reader as it was; ``min_raters`` ignored (every output: the reference of the
    queue, which reads only outputs with two ratings)."""
    with project.read() as s:
        q = (
            select(JudgmentRevisionRow, JudgmentRow, RaterRow, OutputRow, CaseRow.external_id,
                   FormRow.key, FormRow.version)
            .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                  & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .join(FormRow, FormRow.id == JudgmentRevisionRow.form_id)
            .order_by(JudgmentRow.output_id, RaterRow.id)
        )
        if not include_drafts:
            q = q.where(JudgmentRow.status == "done")
        if rater_kind is not None:
            q = q.where(RaterRow.kind == rater_kind)
        if output_id is not None:
            q = q.where(JudgmentRow.output_id == output_id)
        q = q.where(not_attention(s, JudgmentRow.output_id))
        return [{"output_id": output.id, "case_id": output.case_id, "case_external_id": ext,
                 "model": output.model, "rater": rater.name,
                 "rater_pseudonym": rater.pseudonym, "rater_kind": rater.kind,
                 "answers": rev.answers, "annotations": rev.annotations,
                 "rationale": rev.rationale, "confidence": rev.confidence,
                 "overall_score": rev.overall_score, "time_on_task_s": rev.time_on_task_s,
                 "flagged": rev.flagged, "status": j.status, "revision_no": rev.revision_no,
                 "form_key": key, "form_version": version, "created_at": rev.created_at}
                for rev, j, rater, output, ext, key, version in s.execute(q)]


def _ref_finals(s: Session) -> list[FinalJudgment]:
    q = (select(RaterRow.name, JudgmentRow.output_id, JudgmentRevisionRow)
         .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
               & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
         .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
         .where(JudgmentRow.status == "done", RaterRow.kind == "physician",
                not_attention(s, JudgmentRow.output_id))
         .order_by(RaterRow.name, JudgmentRow.output_id))
    return [FinalJudgment(str(name), int(oid), _answers(rev), float(rev.time_on_task_s or 0.0),
                          rev.created_at) for name, oid, rev in s.execute(q)]


def _ref_drift(answers: list[Answer], rater: str, scale: Any, categories: Any = None, *,
               window: Any = "week", size: int = 50, threshold: float = 0.6, ci: bool = True,
               min_units: int = 10) -> list[DriftWindow]:
    by_item: dict[tuple[int, str], list[Any]] = {}
    mine: list[Answer] = []
    for a in answers:
        if _is_missing(a.value):
            continue
        if a.rater == rater:
            mine.append(a)
        else:
            by_item.setdefault((a.item, a.sub), []).append(a.value)
    weights = "linear" if scale == "ordinal" else None
    out: list[DriftWindow] = []
    for label, group in _window_keys(mine, window, size):
        rows = []
        for a in group:
            ref = _loo_majority(by_item.get((a.item, a.sub), ()))
            if ref is not None:
                rows.append((a.value, ref))
        try:
            if not rows:
                raise StatsError("no item with a majority of the other raters",
                                         item=label)
            crowd = _too_many((v for r in rows for v in r), categories)
            if crowd:
                raise StatsError(crowd.removeprefix("undefined: "), item=label)
            k = Coefficient.of("kappa", cohen_kappa(rows, weights, categories=categories,
                                                    ci=ci))
        except StatsError as err:
            k = _failed("kappa", err, len(rows))
        flagged = len(rows) >= min_units and not math.isnan(k.value) and k.value < threshold
        out.append(DriftWindow(label, group[0].at, len({a.item for a in group}), len(rows), k,
                               flagged, len(rows) >= min_units))
    return out


def _ref_choose(inputs: service.RaterInputs) -> str | None:
    questions = _questions(inputs)
    counts: Counter[str] = Counter()
    numeric: Counter[str] = Counter()
    for f in inputs.records.finals:
        for qid, q in questions.items():
            n = len(_units(f.answers, qid))
            (numeric if scale_of(str(q.kind)) == "numeric" else counts)[qid] += n
    return busiest(+counts) or busiest(+numeric)


def _ref_report(inputs: service.RaterInputs, *, window: Any = "week", size: int = 50,
                ci: bool = False) -> RaterReport:
    """``compute_rater_report`` as it was (default question, threshold and delay)."""
    qid = _ref_choose(inputs)
    raters = sorted({f.rater for f in inputs.records.finals}
                    | {r for r, _k in inputs.hidden.assigned})
    scored = _scored(inputs)
    q = _questions(inputs).get(qid) if qid else None
    scale = scale_of(str(q.kind)) if q else None
    cats = categories_of(str(q.kind), q.option_values()) if q else None
    answers = [Answer(f.rater, f.output_id, v, f.at, sub)
               for f in inputs.records.finals if qid for sub, v in _units(f.answers, qid)]
    delay = dt.timedelta(days=service.DEFAULT_MIN_DELAY_DAYS)
    out = []
    for r in raters:
        mine = [f for f in inputs.records.finals if f.rater == r]
        pairs = [p for p in inputs.records.retests if p.rater == r]
        kept = [p for p in pairs if p.second_at - p.first_at >= delay]
        usable = [(v, dict(_units(p.second, qid)).get(sub)) for p in kept if qid
                  for sub, v in _units(p.first, qid)]
        coeffs = tuple(retest(usable, scale, cats, ci=ci)) if scale and usable else ()
        windows: tuple[DriftWindow, ...] = ()
        if scale and scale != "numeric":
            windows = tuple(_ref_drift(answers, r, scale, cats, window=window, size=size,
                                       ci=ci))
        out.append(RaterQuality(
            r, len(mine), time_summary(f.time_on_task_s for f in mine),
            tuple(done_per_day(f.at for f in mine)), len(kept), len(pairs) - len(kept),
            coeffs, windows, tuple(usable_times(f.time_on_task_s for f in mine)[0]),
            service._gold(r, inputs, scored)))
    notes = []
    if qid is None:
        notes.append("No finished physician answers to a rated question yet.")
    elif scale == "numeric":
        notes.append(f"{qid} is numeric: drift is computed for categorical questions only.")
    if not inputs.records.retests:
        notes.append("No retest ratings (revisions written with source 'retest') in this "
                     "project: test-retest is empty.")
    return RaterReport(qid, q.prompt if q else "", scale or "", "week" if window == "week"
                       else f"{size} items", service.DEFAULT_THRESHOLD,
                       service.DEFAULT_MIN_DELAY_DAYS, tuple(out), tuple(notes))


# --- randomized hostile projects -------------------------------------------------------------

KEYS = ["dx", "abx", "Ünïcode ключ", "dx", "emoji 🩺", "  spaced ", "dx"]
TEXTS = ["Names the diagnosis", "Names the diagnosis", "Antibiotics — “quoted”", "", "\u202e"]
TAGS: list[list[Any]] = [[], ["axis:accuracy"], ["level:cluster", "ünï"], ["a", "a"]]
VALUES: dict[str, list[Any]] = {
    "overall": [1, 2, 3, 3, 3.0, 4, 5, "3", True, None, "_n/a"],
    "safe": ["yes", "yes", "no", "caveats", "_n/a", None],
    "issues": [["accuracy"], ["completeness", "accuracy"], [], None],
    "comment": ["ok", "ünïcode “x”", "", None, "\u0000nul"],
    "errors": [[], [{"category": "factual", "severity": 2}], "_n/a"],
}
NOTES: list[Any] = [[], [{"question_id": "errors", "category": "unsafe", "severity": 4}],
                    [{"question_id": 5}], ["text"], {"not": "a list"}]


def _random_answers(rng: random.Random, keys: list[str]) -> dict[str, Any]:
    out = {qid: rng.choice(pool) for qid, pool in VALUES.items() if rng.random() < 0.85}
    for k in keys:
        if rng.random() < 0.8:
            out[f"criterion:{k}"] = rng.choice([True, False, True, "_n/a"])
    if rng.random() < 0.05:
        out["_cannot_assess"] = {"reason": "other"}
    if rng.random() < 0.05:
        out["ünï"] = {"nested": [1, 2.5, None, "ß"]}
    return out


def _build(path: Path, seed: int) -> Project:
    rng = random.Random(seed)
    project = small_study(path, n_cases=8)
    with project.transaction() as s:
        raters = [get_or_create_rater(s, n, "physician").id
                  for n in ("Dr A", "Dr B", "Dr Ünï", "Dr 🩺")]
        judges = [get_or_create_rater(s, n, "judge").id for n in ("judge: x", "judge: y")]
        forms = {k: i for k, i in s.execute(select(FormRow.kind, FormRow.id))}  # noqa: C416
        cases = [int(c) for c in s.scalars(select(CaseRow.id).order_by(CaseRow.id))]
        keys_of: dict[int, list[str]] = {}
        for cid, key in s.execute(select(CaseCriterionRow.case_id, CaseCriterionRow.key)):
            keys_of.setdefault(int(cid), []).append(key)
        for cid in rng.sample(cases, len(cases)):  # criteria rows in a shuffled case order
            keys = sorted(set(rng.sample(KEYS, rng.randint(0, 4))) - set(keys_of.get(cid, [])))
            keys_of[cid] = keys_of.get(cid, []) + keys
            for pos, key in enumerate(keys, start=20):
                s.add(CaseCriterionRow(case_id=cid, position=pos, key=key,
                                       text=rng.choice(TEXTS),
                                       points=rng.choice([1.0, 2.0, -1.0, 0.5, 1e300]),
                                       tags=rng.choice(TAGS)))
            s.flush()
        outputs = [(int(o), int(c)) for o, c in s.execute(
            select(OutputRow.id, OutputRow.case_id).order_by(OutputRow.id))]
        minute = 0
        for oid, cid in outputs:
            for rid in [*raters, *judges]:
                if rng.random() < 0.3:
                    continue
                minute += rng.randint(1, 3000)
                status = rng.choice(["done"] * 6 + ["draft", "skipped"])
                n = rng.choice([1, 1, 2, 3])
                current = rng.randint(1, n)
                j = JudgmentRow(rater_id=rid, output_id=oid, status=status,
                                current_revision_no=current, updated_at=T0)
                s.add(j)
                s.flush()
                for no in range(1, n + 1):
                    at = T0 + dt.timedelta(minutes=minute + no, microseconds=rng.randint(0, 9))
                    s.add(JudgmentRevisionRow(
                        uid=uuid.UUID(int=rng.getrandbits(128)).hex, judgment_id=j.id,
                        revision_no=no, form_id=forms["rubric"],
                        taxonomy_id=rng.choice([forms["taxonomy"], None]),
                        answers=_random_answers(rng, keys_of.get(cid, [])),
                        annotations=rng.choice(NOTES), rationale=rng.choice(["", "why ✓", None]),
                        confidence=rng.choice([None, 0.25, 1.0, 3]),
                        overall_score=rng.choice([None, 0.5, 1.0, -0.25]),
                        time_on_task_s=rng.choice([None, 0.0, 12.5, 90.0, 1e9]),
                        flagged=rng.random() < 0.3, author="x", status=status,
                        source="retest" if no > 1 and rng.random() < 0.5 else "import",
                        created_at=at))
        ids = [o for o, _c in outputs]
        s.add(GoldLabelRow(uid=uuid.uuid4().hex, output_id=ids[1], question_id="overall",
                           value=3, provenance=ATTENTION_PROVENANCE))
    return project


def _typed(rows: list[dict[str, Any]]) -> list[list[tuple[str, Any, str]]]:
    """Each value with its type's name (and a datetime's zone): equal values of other types
    (1 and 1.0 and True) compare unequal here."""
    return [[(k, repr(v), type(v).__name__ + (f"/{v.tzinfo}" if isinstance(v, dt.datetime)
                                              else "")) for k, v in r.items()] for r in rows]


@pytest.fixture(params=range(3))
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    project = _build(tmp_path / "p", request.param)
    yield project
    project.close()


def test_project_questions_as_the_row_by_row_reader(hostile: Project) -> None:
    for score in (False, True):
        ours, ref = project_questions(hostile, include_score=score), _ref_project_questions(
            hostile, include_score=score)
        assert list(ours.items()) == list(ref.items())
        assert [repr(q) for q in ours.values()] == [repr(q) for q in ref.values()]
    assert any(q.is_case_criterion for q in ref.values())


@pytest.mark.parametrize("batch", [50_000, 7])
def test_current_revisions_as_the_orm_reader(hostile: Project, batch: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_read, "BATCH", batch)  # rows converted a few at a time
    with hostile.read() as s:
        some = [int(o) for o in s.scalars(select(OutputRow.id).order_by(OutputRow.id))][:3]
    n = 0
    for drafts in (False, True):
        for kind in (None, "physician", "judge", "nobody"):
            for output in (None, *some, 10 ** 9):
                ours = tables.current_revisions(hostile, include_drafts=drafts,
                                                rater_kind=kind, output_id=output)
                ref = _ref_current_revisions(hostile, include_drafts=drafts, rater_kind=kind,
                                             output_id=output)
                assert ours == ref
                assert _typed(ours) == _typed(ref)
                n += len(ours)
                shared = Counter(r["output_id"] for r in ref)
                for least in (2, 3):
                    assert tables.current_revisions(
                        hostile, include_drafts=drafts, rater_kind=kind, output_id=output,
                        min_raters=least) == [r for r in ref if shared[r["output_id"]] >= least]
    assert n > 100
    every = tables.current_revisions(hostile, include_drafts=True)
    assert {r["status"] for r in every} >= {"done", "draft"}
    assert {r["rater_kind"] for r in every} == {"physician", "judge"}
    assert all(r["created_at"].tzinfo is dt.UTC for r in every)


def test_rater_records_and_report_as_before(hostile: Project,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_read, "BATCH", 5)
    with hostile.read() as s:
        ref_finals = _ref_finals(s)
        assert _finals(s) == ref_finals
    assert any(f.answers for f in ref_finals)
    inputs = load_rater_inputs(hostile)
    assert inputs.records.finals == tuple(ref_finals)
    ref_inputs = service.RaterInputs(RaterRecords(tuple(ref_finals), inputs.records.retests),
                                     _ref_project_questions(hostile), inputs.hidden)
    for window, size in (("week", 50), ("items", 3)):
        ours = compute_rater_report(inputs, window=window, size=size, ci=False)
        assert ours == _ref_report(ref_inputs, window=window, size=size)
        assert ours.to_dict() == _ref_report(ref_inputs, window=window, size=size).to_dict()


def test_adjudication_queue_as_before(hostile: Project, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    ours = [adjudicate.adjudication_queue(hostile, include_resolved=True, pseudonymise=p)
            for p in (False, True)]
    ours_ratings = adjudicate.collect_ratings(hostile)
    monkeypatch.setattr(adjudicate, "project_questions", _ref_project_questions)
    monkeypatch.setattr(adjudicate.tables, "current_revisions", _ref_current_revisions)
    ref = [adjudicate.adjudication_queue(hostile, include_resolved=True, pseudonymise=p)
           for p in (False, True)]
    assert ours == ref
    assert ours_ratings == adjudicate.collect_ratings(hostile)
    assert ref[0], "the raters disagree somewhere"


def _answers_pool(seed: int) -> list[Answer]:
    rng = random.Random(seed)
    raters = ["a", "b", "c", "ünï", "e"]
    out = []
    for item in range(300):
        for r in raters:
            if rng.random() < 0.4:
                continue
            for sub in ("", "criterion:x") if rng.random() < 0.3 else ("",):
                at = T0 + dt.timedelta(hours=rng.randint(0, 24 * 60))
                out.append(Answer(r, item, rng.choice([0, 1, 1, 2, None, True, 1.0, "1"]),
                                  at, sub))
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_drift_of_every_rater_as_one_by_one(seed: int) -> None:
    answers = _answers_pool(seed)
    raters = ["a", "b", "c", "ünï", "e", "nobody"]
    for scale, cats in (("nominal", None), ("ordinal", (0, 1, 2))):
        for window, size in (("week", 50), ("items", 7)):
            ours = drift_by_rater(answers, raters, scale, cats, window=window, size=size,
                                  ci=False)
            assert set(ours) == set(raters)
            for r in raters:
                ref = _ref_drift(answers, r, scale, cats, window=window, size=size, ci=False)
                assert ours[r] == ref
                assert drift(answers, r, scale, cats, window=window, size=size,
                             ci=False) == ref
    assert any(w.n_compared for w in drift_by_rater(answers, ["a"], "nominal", ci=False)["a"])


def test_the_demo_queue_and_rater_report_as_before(demo_copy: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from medreview.demo.quality import add_to_demo
    from medreview.storage.project import open_project

    add_to_demo(demo_copy)  # retests and a qualification round: the Raters tab's inputs
    project = open_project(demo_copy)
    try:
        assert project_questions(project) == _ref_project_questions(project)
        assert list(project_questions(project)) == list(_ref_project_questions(project))
        for drafts in (False, True):
            ours = tables.current_revisions(project, include_drafts=drafts)
            assert _typed(ours) == _typed(_ref_current_revisions(project, include_drafts=drafts))
        inputs = load_rater_inputs(project)
        with project.read() as s:
            ref_finals = tuple(_ref_finals(s))
        assert inputs.records.finals == ref_finals  # (retests: on SQLite; add_to_demo)
        ref_inputs = service.RaterInputs(RaterRecords(ref_finals, inputs.records.retests),
                                         _ref_project_questions(project), inputs.hidden)
        report = compute_rater_report(inputs, ci=False)
        assert report == _ref_report(ref_inputs) and report.raters
        queue = adjudicate.adjudication_queue(project, include_resolved=True)
        monkeypatch.setattr(adjudicate, "project_questions", _ref_project_questions)
        monkeypatch.setattr(adjudicate.tables, "current_revisions", _ref_current_revisions)
        assert queue == adjudicate.adjudication_queue(project, include_resolved=True)
        assert queue
    finally:
        project.close()
