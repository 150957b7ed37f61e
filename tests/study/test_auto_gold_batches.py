"""``auto_gold`` a batch of outputs at a time writes the gold rows the whole-project pass wrote.

The reference (``_ref_auto_gold`` with ``_ref_collect_ratings`` and ``_ref_add_missing_gold``) is
the implementation as it was before the batches (commit 097d88d), copied verbatim: every
physician's current finished judgment read at once, every item decided, then inserted. Each
randomized project is built twice from one seed; the reference runs on one copy, the batched
path (with batches of a few judgments, so outputs straddle them) on the other, and every gold
row is compared (id, output, question, value with its JSON text, provenance, rationale,
adjudicator, revision; not the random uid nor the time), with the summary.

The projects hold ties and strict majorities, numeric spreads past the threshold, ``3`` and
``3.0`` and ``True``, ``-0.0``, N/A answers, cannot-assess judgments, drafts and skips, judges
(never gold), retest revisions (never the current answer), an attention item and hidden-check
gold, gold that exists (adjudicated, imported, several revisions: never given another), several
criteria per case with unicode keys, error annotations from the taxonomy; ``include_single``
on and off.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Text, cast, insert, select

from medreview.domain import consensus
from medreview.domain.rubric import Question, QuestionKind
from medreview.storage import auto_gold as batched
from medreview.storage import tables
from medreview.storage.adjudication import NewGold, append_gold
from medreview.storage.check_items import ATTENTION_PROVENANCE
from medreview.storage.gold import StoredGold, project_gold
from medreview.storage.models import (
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
)
from medreview.storage.project import Project
from medreview.storage.questions import project_questions
from medreview.storage.raters import get_or_create_rater
from medreview.study.adjudicate import (
    AutoGoldSummary,
    Disagreement,
    DisagreementRules,
    adjudication_queue,
    auto_gold,
    disagreement_score,
    majority,
)
from tests.storage.study_helpers import small_study

T0 = dt.datetime(2026, 2, 3, 9, 0, tzinfo=dt.UTC)
_INSERT_BATCH = 50_000


# --- the reference: auto gold as it was (verbatim but for the names) -------------------------


def _ref_collect_ratings(
    project: Project, *, pseudonymise: bool = False, min_raters: int = 1
) -> tuple[dict[tuple[int, str], dict[str, Any]], dict[int, dict[str, Any]], dict[str, Question]]:
    """(output, question) -> {rater: value} over physicians' finished judgments.

    ``min_raters``: only outputs that many physicians finished (the queue's: two)."""
    questions = project_questions(project)
    revisions = tables.current_revisions(project, rater_kind="physician", min_raters=min_raters)
    outputs = {r["output_id"]: {"case_external_id": r["case_external_id"], "model": r["model"],
                                "case_id": r["case_id"]} for r in revisions}
    ratings = consensus.physician_ratings(revisions, questions, pseudonymise=pseudonymise)
    return ratings, outputs, questions


def _ref_add_missing_gold(project: Project, decide: Any) -> list[StoredGold]:
    """In one transaction: ``decide`` gets the (output, question) items that have a gold label
    now and returns labels to add; an item that already has one is never given another."""
    with project.transaction() as s:
        # Every item holding any gold revision (its pairs only: no row object per label).
        have = frozenset((int(oid), str(qid)) for oid, qid in s.execute(
            select(GoldLabelRow.output_id, GoldLabelRow.question_id).distinct()))
        added: list[StoredGold] = []
        taken = set(have)
        rows: list[dict[str, Any]] = []
        for g in decide(have):
            if (g.output_id, g.question_id) in taken:
                continue
            taken.add((g.output_id, g.question_id))
            # An item with no revision yet: its first (``_append``'s numbering gives 1 too).
            rows.append({"uid": uuid.uuid4().hex, "output_id": g.output_id,
                         "question_id": g.question_id, "value": g.value,
                         "provenance": g.provenance, "rationale": g.rationale,
                         "adjudicator_id": None, "revision_no": 1})
            added.append(StoredGold(g.output_id, g.question_id, g.value, g.provenance, 1,
                                    g.rationale))
            if len(rows) >= _INSERT_BATCH:
                s.execute(insert(GoldLabelRow), rows)
                rows = []
        if rows:  # (one executemany per batch: a flush per label took ~1 ms, 15 min at 100k)
            s.execute(insert(GoldLabelRow), rows)
        return added


def _ref_auto_gold(project: Project, *, include_single: bool = True,
                   rules: DisagreementRules | None = None) -> AutoGoldSummary:
    """Gold labels that need no adjudicator: unanimous, strict majority, single rater.

    Never replaces a gold label that exists (adjudicated or otherwise); items where raters
    disagree by the rules and there is no majority are left for the adjudication queue.
    Text questions are skipped. Running it twice adds nothing.
    """
    rules = rules or DisagreementRules()
    ratings, _outputs, questions = _ref_collect_ratings(project)
    summary = AutoGoldSummary()

    def decide(have: frozenset[tuple[int, str]]) -> list[NewGold]:
        # Runs inside the write transaction: ``have`` is the gold that exists now.
        summary.added.clear()
        summary.skipped_disagreements = 0
        new: list[NewGold] = []
        for (oid, qid), by_rater in sorted(ratings.items()):
            q = questions[qid]
            if q.kind is QuestionKind.TEXT or (oid, qid) in have:
                continue
            values = list(by_rater.values())
            if len(values) == 1 and not include_single:
                continue
            derived = consensus.derive_gold(values, q.kind)
            if derived is None:
                summary.skipped_disagreements += 1
                continue
            value, prov = derived
            if prov == "majority" and disagreement_score(q, values, rules) is not None and (
                    q.kind in (QuestionKind.ORDINAL, QuestionKind.NUMBER)):
                # A numeric spread past the threshold is for a person to settle.
                summary.skipped_disagreements += 1
                continue
            new.append(NewGold(oid, qid, value, prov))
            summary.added[prov] = summary.added.get(prov, 0) + 1
        return new

    _ref_add_missing_gold(project, decide)
    return summary


def _ref_adjudication_queue(
    project: Project,
    rules: DisagreementRules | None = None,
    *,
    include_resolved: bool = False,
    pseudonymise: bool = False,
) -> list[Disagreement]:
    """Items where physicians disagree, most disagreement first."""
    rules = rules or DisagreementRules()
    # Only outputs two physicians finished: one rating disagrees with nobody (at 100,000
    # singly rated outputs the queue reads nothing else).
    ratings, outputs, questions = _ref_collect_ratings(project, pseudonymise=pseudonymise,
                                                       min_raters=2)
    gold = project_gold(project)
    items: list[Disagreement] = []
    for (oid, qid), by_rater in ratings.items():
        q = questions[qid]
        score = disagreement_score(q, list(by_rater.values()), rules)
        if score is None:
            continue
        g = gold.get(oid, {}).get(qid)
        if g is not None and g.provenance == "adjudicated" and not include_resolved:
            continue
        maj, has = majority(list(by_rater.values()), q.kind)
        items.append(Disagreement(
            output_id=oid, case_external_id=outputs[oid]["case_external_id"],
            model=outputs[oid]["model"], question_id=qid, kind=q.kind.value, prompt=q.prompt,
            ratings=dict(sorted(by_rater.items())), score=round(score, 6), majority=maj,
            has_majority=has, gold=g.value if g else None,
            gold_provenance=g.provenance if g else None))
    items.sort(key=lambda d: (-d.score, d.output_id, d.question_id))
    return items


# --- randomized projects ------------------------------------------------------------------------

PHYSICIANS = ("Dr A", "Dr B", "Dr Ünï", "Dr 🩺", "Dr E")
JUDGES = ("judge: x", "judge: y")
KEYS = ["dx", "abx", "Ünïcode ключ", "emoji 🩺", "  spaced ", "harm"]
POOLS: dict[str, list[Any]] = {
    "overall": [1, 2, 3, 3, 3.0, 4, 5, "3", True, None, "_n/a"],
    "safe": ["yes", "yes", "no", "caveats", "_n/a", None],
    "issues": [["accuracy"], ["completeness", "accuracy"], ["accuracy", "completeness"], [],
               ["accuracy", "accuracy"], None, "_n/a"],
    "minutes": [0, 0.0, -0.0, 5, 5.0, 10, 60, 1e300],
    "comment": ["ok", "ünïcode “x”", "", "\u202e"],
    "errors": [[], [{"category": "factual", "severity": 2}],
               [{"category": "factual", "severity": 2, "note": "other words"}],
               [{"category": "omission", "severity": 1}, {"category": "factual", "severity": 2}],
               "_n/a"],
}
NOTES: list[Any] = [[], [], [{"question_id": "errors", "category": "unsafe", "severity": 4}],
                    [{"question_id": "errors", "category": "factual", "severity": 2}],
                    [{"question_id": 5}], ["text"]]


def _answers(rng: random.Random, base: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """An answer set near ``base`` (the output's "true" answers): agreement is common."""
    out: dict[str, Any] = {}
    for qid, pool in POOLS.items():
        if rng.random() < 0.85:
            out[qid] = base[qid] if rng.random() < 0.6 else rng.choice(pool)
    for k in keys:
        if rng.random() < 0.85:
            out[f"criterion:{k}"] = (base.get(k, True) if rng.random() < 0.6
                                     else rng.choice([True, False, "_n/a"]))
    if rng.random() < 0.06:
        out["_cannot_assess"] = {"reason": "other", "note": "image missing"}
    if rng.random() < 0.05:
        out["ünï"] = {"nested": [1, 2.5, None, "ß"]}  # not a question of the project
    return out


def _build(path: Path, seed: int) -> Project:
    """A project of 14 cases x 2 outputs rated at random (the same for the same seed)."""
    rng = random.Random(seed)
    project = small_study(path, n_cases=14)
    with project.transaction() as s:
        raters = [get_or_create_rater(s, n, "physician").id for n in PHYSICIANS]
        judges = [get_or_create_rater(s, n, "judge").id for n in JUDGES]
        lead = get_or_create_rater(s, "Dr Lead", "physician").id
        forms = {k: i for k, i in s.execute(select(FormRow.kind, FormRow.id))}  # noqa: C416
        cases = [int(c) for c in s.scalars(select(CaseRow.id).order_by(CaseRow.id))]
        keys_of: dict[int, list[str]] = {cid: [] for cid in cases}
        for cid, key in s.execute(select(CaseCriterionRow.case_id, CaseCriterionRow.key)):
            keys_of[int(cid)].append(key)  # the sample's own criteria
        for cid in cases:
            keys = [k for k in rng.sample(KEYS, rng.randint(0, 4)) if k not in keys_of[cid]]
            keys_of[cid] += keys
            for pos, key in enumerate(keys, start=20):
                s.add(CaseCriterionRow(case_id=cid, position=pos, key=key, text=f"about {key}",
                                       points=1.0, tags=[]))
        s.flush()
        outputs = [(int(o), int(c)) for o, c in s.execute(
            select(OutputRow.id, OutputRow.case_id).order_by(OutputRow.id))]
        minute = 0
        for oid, cid in outputs:
            base = {qid: rng.choice(pool) for qid, pool in POOLS.items()}
            base.update({k: rng.choice([True, False]) for k in keys_of[cid]})
            n_raters = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5])
            who = rng.sample(raters, n_raters) + [j for j in judges if rng.random() < 0.4]
            for rid in sorted(who, key=lambda _r: rng.random()):  # judgments in random order
                minute += rng.randint(1, 600)
                status = rng.choice(["done"] * 8 + ["draft", "skipped"])
                n = rng.choice([1, 1, 1, 2, 3])
                current = rng.randint(1, n)
                j = JudgmentRow(rater_id=rid, output_id=oid, status=status,
                                current_revision_no=current, updated_at=T0)
                s.add(j)
                s.flush()
                for no in range(1, n + 1):
                    # Revisions after the current one are retests: never the study answer.
                    source = "retest" if no > current else rng.choice(["ui", "import"])
                    s.add(JudgmentRevisionRow(
                        uid=uuid.UUID(int=rng.getrandbits(128)).hex, judgment_id=j.id,
                        revision_no=no, form_id=forms["rubric"],
                        taxonomy_id=rng.choice([forms["taxonomy"], None]),
                        answers=_answers(rng, base, keys_of[cid]),
                        annotations=rng.choice(NOTES), rationale="", author="x",
                        status=status, source=source,
                        created_at=T0 + dt.timedelta(minutes=minute + no)))
        # Gold that exists: adjudicated (some in two revisions), imported, a hidden check's.
        for oid, _cid in outputs:
            if rng.random() < 0.3:
                qid = rng.choice(["overall", "safe", "errors", "issues", "minutes"])
                for no in range(1, rng.choice([1, 1, 2]) + 1):
                    prov = rng.choice(["adjudicated", "imported"])
                    s.add(GoldLabelRow(uid=uuid.UUID(int=rng.getrandbits(128)).hex,
                                       output_id=oid, question_id=qid,
                                       value=rng.choice(POOLS["overall"]), provenance=prov,
                                       rationale="set by a person", revision_no=no,
                                       adjudicator_id=lead if prov == "adjudicated" else None,
                                       created_at=T0))
        # An attention item: its raters' answers are not ratings, never gold.
        attention = outputs[rng.randrange(len(outputs))][0]
        s.add(GoldLabelRow(uid=uuid.UUID(int=rng.getrandbits(128)).hex, output_id=attention,
                           question_id="overall", value=3, provenance=ATTENTION_PROVENANCE,
                           created_at=T0))
    return project


# --- the comparison ---------------------------------------------------------------------------


def _gold_rows(project: Project) -> list[tuple[Any, ...]]:
    """Every gold row but its uid and time, with the value's stored JSON text, by id."""
    with project.read() as s:
        return [tuple(r) for r in s.execute(
            select(GoldLabelRow.id, GoldLabelRow.output_id, GoldLabelRow.question_id,
                   GoldLabelRow.value, cast(GoldLabelRow.value, Text).label("json"),
                   GoldLabelRow.provenance, GoldLabelRow.rationale,
                   GoldLabelRow.adjudicator_id, GoldLabelRow.revision_no)
            .order_by(GoldLabelRow.id))]


def _typed(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Values with their types: ``3``, ``3.0`` and ``True`` compare unequal here."""
    return [tuple((type(v).__name__, repr(v)) for v in r) for r in rows]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few judgments and labels: outputs straddle reads, inserts split."""
    monkeypatch.setattr(batched, "READ_BATCH", 3)
    monkeypatch.setattr(batched, "INSERT_BATCH", 4)


@pytest.fixture
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Project, Project]]:
    seed = int(request.param)
    ref, new = _build(tmp_path / "ref", seed), _build(tmp_path / "new", seed)
    try:
        yield ref, new
    finally:
        ref.close()
        new.close()


@pytest.mark.parametrize("pair", [1, 2, 3, 4, 5], indirect=True)
@pytest.mark.parametrize("include_single", [True, False])
def test_batched_auto_gold_writes_the_reference_rows(
        pair: tuple[Project, Project], include_single: bool, small_batches: None) -> None:
    ref, new = pair
    before = _gold_rows(new)
    assert _typed(_gold_rows(ref)) == _typed(before)  # one seed, one project
    want = _ref_auto_gold(ref, include_single=include_single)
    got = auto_gold(new, include_single=include_single)
    assert (got.added, list(got.added), got.skipped_disagreements) == (
        want.added, list(want.added), want.skipped_disagreements)
    assert sum(want.added.values()) > 5 and want.skipped_disagreements > 0
    rows = _gold_rows(new)
    assert _typed(rows) == _typed(_gold_rows(ref))
    assert len(rows) == len(before) + sum(got.added.values())
    # Its own: version-7 uids ascending with the ids, one time (aware UTC) for the run.
    with new.read() as s:
        fresh = s.execute(select(GoldLabelRow.uid, GoldLabelRow.created_at)
                          .where(GoldLabelRow.id > max(r[0] for r in before))
                          .order_by(GoldLabelRow.id)).all()
    uids = [u for u, _ in fresh]
    assert len(set(uids)) == len(fresh) and uids == sorted(uids)
    assert all(uuid.UUID(u).version == 7 and uuid.UUID(u).hex == u for u in uids)
    assert len({at for _, at in fresh}) == 1 and fresh[0][1].tzinfo is not None
    # Running again adds nothing; the reference agrees.
    assert auto_gold(new, include_single=include_single).added == {}
    assert _ref_auto_gold(ref, include_single=include_single).added == {}
    assert _typed(_gold_rows(new)) == _typed(_gold_rows(ref))


@pytest.mark.parametrize("pair", [6], indirect=True)
def test_whole_batches_give_the_same_rows(pair: tuple[Project, Project]) -> None:
    """The default batch sizes (everything in one read) write the reference rows too."""
    ref, new = pair
    assert _ref_auto_gold(ref) == auto_gold(new)
    assert _typed(_gold_rows(new)) == _typed(_gold_rows(ref))


@pytest.mark.parametrize("pair", [7], indirect=True)
def test_each_output_is_decided_once_in_a_bounded_batch(
        pair: tuple[Project, Project], small_batches: None) -> None:
    """``decide`` sees whole outputs, ascending, each once, a few judgments at a time, with the
    gold those outputs have (and none of another batch's)."""
    _ref, new = pair
    with new.read() as s:
        gold = {(int(o), str(q)) for o, q in s.execute(
            select(GoldLabelRow.output_id, GoldLabelRow.question_id))}
    seen: list[int] = []
    sizes: list[int] = []

    def decide(finals: list[dict[str, Any]], have: frozenset[tuple[int, str]]) -> list[NewGold]:
        outputs = [r["output_id"] for r in finals]
        assert outputs == sorted(outputs) and set(outputs).isdisjoint(seen)
        assert have == {(o, q) for o, q in gold if outputs[0] <= o <= outputs[-1]}
        assert {r["rater_kind"] for r in finals} == {"physician"}
        seen.extend(dict.fromkeys(outputs))
        sizes.append(len(finals))
        return []

    assert batched.add_gold_by_output(new, decide) == 0
    per_output = {o: seen.count(o) for o in seen}
    assert set(per_output.values()) == {1} and len(sizes) > 5
    assert max(sizes) <= 3 + 5  # a batch, plus the rest of its last output (<= 5 physicians)


@pytest.mark.parametrize("pair", [8], indirect=True)
def test_a_failure_midway_writes_nothing(
        pair: tuple[Project, Project], small_batches: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _ref, new = pair
    before = _gold_rows(new)
    calls = []
    real = batched._insert

    def failing(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(batched, "_insert", failing)
    with pytest.raises(OSError, match="disk full"):
        auto_gold(new)
    assert _gold_rows(new) == before


@pytest.mark.parametrize("pair", [9, 10], indirect=True)
def test_the_queue_reads_the_gold_of_its_outputs_as_all_gold_before(
        pair: tuple[Project, Project], monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue reads only its outputs' gold now; what it lists is what it listed when it
    read every label (before and after auto gold; resolved items in or out; pseudonyms)."""
    from medreview.storage import gold

    monkeypatch.setattr(gold, "_IDS_PER_QUERY", 2)  # outputs in several queries
    project, _new = pair
    items = [(d.output_id, d.question_id) for d in _ref_adjudication_queue(project)]
    for i, (oid, qid) in enumerate(items):  # gold in one or two revisions, either way round
        provs = [["adjudicated"], ["imported"], ["adjudicated", "imported"],
                 ["imported", "adjudicated"], []][i % 5]
        for no, prov in enumerate(provs):
            append_gold(project, oid, qid, no, provenance=prov, rationale=f"rev {no}",
                        adjudicator="Dr Lead" if prov == "adjudicated" else None)
    for step in range(2):
        for resolved in (False, True):
            for pseudo in (False, True):
                got = adjudication_queue(project, include_resolved=resolved,
                                         pseudonymise=pseudo)
                want = _ref_adjudication_queue(project, include_resolved=resolved,
                                               pseudonymise=pseudo)
                assert repr(got) == repr(want)
                assert len(want) > 3 and (step == 0 or any(d.gold is not None for d in want))
        auto_gold(project)


def test_uids_are_version_7_ascending_and_unique_across_runs() -> None:
    import time

    before = time.time_ns() // 1_000_000
    runs = [batched.Uids() for _ in range(50)]
    after = time.time_ns() // 1_000_000
    taken = [r.take(40) + r.take(1) + r.take(0) for r in runs]
    for uids in taken:
        assert uids == sorted(uids) and len(uids) == 41
        for u in uids:
            parsed = uuid.UUID(u)
            assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and parsed.hex == u
            assert before <= int(u[:12], 16) <= after  # the run's start, in ms
    everything = [u for uids in taken for u in uids]
    assert len(set(everything)) == len(everything)
    assert len({u[12:20] for u in everything}) > 40  # random bits differ between runs


def test_remembered_json_text_is_the_columns_own() -> None:
    """The value column's writer with its memo gives the column's text for every value, in
    any order: equal values of other types (1, 1.0, True) and -0.0 after 0.0 included."""
    from sqlalchemy.dialects import sqlite

    from medreview.storage.sqlite_values import bind_processor

    proc = bind_processor(GoldLabelRow.__table__.c.value, sqlite.dialect())
    assert proc is not None
    values: list[Any] = [0.0, -0.0, 0, False, 1, True, 1.0, "1", "true", "ünï", "\u0000",
                         [1], [True], {"a": 1}, {"a": True}, None, 2**70, 1e300, float("nan")]
    rng = random.Random(3)
    for _ in range(20):
        order = values * 2
        rng.shuffle(order)
        memo = batched._memoized(proc)
        assert [(v, memo(v)) for v in order] == [(v, proc(v)) for v in order]
