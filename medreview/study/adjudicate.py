"""Adjudication: where physicians disagree, and the gold labels that settle it.

Disagreement rules, per question kind (physicians' finished judgments only):

============================ ==================================================== ==========
kind                         disagreement when                                    score 0..1
============================ ==================================================== ==========
criterion, single_choice,    any two raters differ                                1 - share
pairwise                                                                          of mode
ordinal                      max - min >= ``ordinal_threshold``                   spread /
                                                                                  scale range
number                       max - min >= ``number_threshold`` (any if None)      spread /
                                                                                  max |value|
multi_choice                 the chosen sets differ                               1 - mean
                                                                                  Jaccard
error                        the sets of (category, severity) differ              1 - mean
                                                                                  Jaccard
text                         never queued (free text)                             —
============================ ==================================================== ==========

"Same answer", majority (strict: more than half), unanimity and gold derivation are the core's
rules in ``medreview.domain.consensus``, shared with the dashboard and the gold export.

The queue is sorted by score (most disagreement first). Gold labels are append-only per
output x question (``revision_no`` grows; the newest wins) and carry their provenance:
``adjudicated`` (set by a person, with rationale), ``majority``, ``unanimous``, or
``single_rater`` (the only rating of a single-rated output; see ``auto_gold``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from medreview.domain import consensus
from medreview.domain.rubric import Question, QuestionKind
from medreview.domain.validation import check_answer
from medreview.errors import InputError
from medreview.storage import tables
from medreview.storage.adjudication import NewGold, append_gold
from medreview.storage.auto_gold import add_gold_by_output
from medreview.storage.gold import StoredGold, gold_of_outputs, project_gold
from medreview.storage.project import Project
from medreview.storage.questions import project_questions

PROVENANCES = ("adjudicated", "unanimous", "majority", "single_rater", "imported")


@dataclass(frozen=True)
class DisagreementRules:
    ordinal_threshold: float = 2.0
    number_threshold: float | None = None
    kinds: tuple[str, ...] = ("criterion", "single_choice", "pairwise", "ordinal", "number",
                              "multi_choice", "error")


@dataclass(frozen=True)
class Disagreement:
    output_id: int
    case_external_id: str
    model: str
    question_id: str
    kind: str
    prompt: str
    ratings: dict[str, Any]  # rater (name or pseudonym) -> value
    score: float
    majority: Any = None
    has_majority: bool = False
    gold: Any = None
    gold_provenance: str | None = None


@dataclass
class AutoGoldSummary:
    added: dict[str, int] = field(default_factory=dict)  # provenance -> count
    skipped_disagreements: int = 0


# The core's rules, under the names this module has always exported.
canonical = consensus.canonical
rating_value = consensus.rating_value


def collect_ratings(
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


def majority(values: list[Any], kind: QuestionKind | None = None) -> tuple[Any, bool]:
    """The strict-majority value (more than half the raters) and whether there is one."""
    return consensus.majority(values, kind)


def _jaccard_spread(values: list[Any]) -> float:
    # (a stored answer that is not a list, in a project edited outside the app, is one choice,
    # not a crash of the queue)
    sets = [{canonical(x) for x in (v if isinstance(v, list | tuple) else
                                    [] if v is None else [v])} for v in values]
    sims = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(sets, 2)]
    return 1.0 - sum(sims) / len(sims) if sims else 0.0


def disagreement_score(q: Question, values: list[Any], rules: DisagreementRules) -> float | None:
    """How much the raters disagree (0..1), or ``None`` if the rule says they agree."""
    if len(values) < 2 or q.kind.value not in rules.kinds:
        return None
    kind = q.kind
    if kind in (QuestionKind.CRITERION, QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        counts = Counter(consensus.answer_key(kind, v) for v in values)
        if len(counts) < 2:
            return None
        return 1.0 - counts.most_common(1)[0][1] / len(values)
    if kind in (QuestionKind.ORDINAL, QuestionKind.NUMBER):
        nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(nums) < 2:
            return None
        spread = max(nums) - min(nums)
        if kind is QuestionKind.ORDINAL:
            if spread < rules.ordinal_threshold or spread == 0:
                return None
            scale = [float(v) for v in q.option_values() if isinstance(v, int | float)]
            span = (max(scale) - min(scale)) if len(scale) >= 2 else spread
            return min(1.0, spread / span) if span else 1.0
        if spread == 0 or (rules.number_threshold is not None and spread < rules.number_threshold):
            return None
        return min(1.0, spread / max(abs(n) for n in nums))
    if kind in (QuestionKind.MULTI_CHOICE, QuestionKind.ERROR):
        # chosen sets: the order in which options were ticked does not matter
        if consensus.distinct_answers(values, kind) < 2:
            return None
        return _jaccard_spread(values)
    return None


def adjudication_queue(
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
    ratings, outputs, questions = collect_ratings(project, pseudonymise=pseudonymise,
                                                  min_raters=2)
    scored = []
    for (oid, qid), by_rater in ratings.items():
        score = disagreement_score(questions[qid], list(by_rater.values()), rules)
        if score is not None:
            scored.append((oid, qid, by_rater, score))
    # The gold of the listed outputs only (a project may hold millions of labels).
    gold = gold_of_outputs(project, (oid for oid, *_rest in scored))
    items: list[Disagreement] = []
    for oid, qid, by_rater, score in scored:
        q = questions[qid]
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


def set_gold(
    project: Project,
    output_id: int,
    question_id: str,
    value: Any,
    *,
    rationale: str = "",
    adjudicator: str | None = None,
    provenance: str = "adjudicated",
) -> StoredGold:
    """Append a gold label (a new revision; earlier ones stay in the audit trail)."""
    if provenance not in PROVENANCES:
        raise InputError(f"provenance must be one of {', '.join(PROVENANCES)}", item=provenance)
    questions = project_questions(project)
    q = questions.get(question_id)
    if q is None:
        raise InputError("no such question in this project", item=question_id)
    reason = check_answer(q, value)
    if reason:
        raise InputError(f"not a valid gold answer: {reason}", item=question_id)
    if provenance == "adjudicated" and not adjudicator:
        raise InputError("an adjudicated gold label needs the adjudicator's name")
    return append_gold(project, output_id, question_id, value, provenance=provenance,
                       rationale=rationale, adjudicator=adjudicator)


def accept_majority(
    project: Project, output_id: int, question_id: str, *, adjudicator: str,
    rationale: str = "",
) -> StoredGold:
    """Make the physicians' strict-majority answer the gold label (recorded as adjudicated)."""
    ratings, _outputs, questions = collect_ratings(project)
    values = list(ratings.get((output_id, question_id), {}).values())
    q = questions.get(question_id)
    value, has = majority(values, q.kind if q else None)
    if not has:
        raise InputError("there is no majority answer to accept",
                         item=f"output {output_id} / {question_id}")
    return set_gold(project, output_id, question_id, value,
                    rationale=rationale or "accepted the physicians' majority",
                    adjudicator=adjudicator, provenance="adjudicated")


def auto_gold(project: Project, *, include_single: bool = True,
              rules: DisagreementRules | None = None) -> AutoGoldSummary:
    """Gold labels that need no adjudicator: unanimous, strict majority, single rater.

    Never replaces a gold label that exists (adjudicated or otherwise); items where raters
    disagree by the rules and there is no majority are left for the adjudication queue.
    Text questions are skipped. Running it twice adds nothing.

    The judgments are read and the labels written a batch of outputs at a time
    (``storage.auto_gold``): at a million judgments, holding every rating at once took 12 GB.
    """
    rules = rules or DisagreementRules()
    questions = project_questions(project)
    summary = AutoGoldSummary()

    def decide(finals: list[dict[str, Any]], have: frozenset[tuple[int, str]]
               ) -> Iterator[NewGold]:
        # Runs inside the write transaction: ``have`` is the gold these outputs have now.
        ratings = consensus.physician_ratings(finals, questions)
        return _settled(ratings, questions, have, include_single, rules, summary)

    add_gold_by_output(project, decide)
    return summary


def _settled(ratings: dict[tuple[int, str], dict[str, Any]], questions: dict[str, Question],
             have: frozenset[tuple[int, str]], include_single: bool, rules: DisagreementRules,
             summary: AutoGoldSummary) -> Iterator[NewGold]:
    """The labels ``ratings`` settle, item by item in (output, question) order, counted in
    ``summary``; items in ``have`` are left alone."""
    text, numeric = QuestionKind.TEXT, (QuestionKind.ORDINAL, QuestionKind.NUMBER)
    added, derive = summary.added, consensus.derive_gold
    for item in sorted(ratings):  # the keys alone: a third of sorting the items
        oid, qid = item
        q = questions[qid]
        if q.kind is text or item in have:
            continue
        values = list(ratings[item].values())
        if len(values) == 1 and not include_single:
            continue
        derived = derive(values, q.kind)
        if derived is None:
            summary.skipped_disagreements += 1
            continue
        value, prov = derived
        if prov == "majority" and q.kind in numeric and (
                disagreement_score(q, values, rules) is not None):
            # A numeric spread past the threshold is for a person to settle.
            summary.skipped_disagreements += 1
            continue
        added[prov] = added.get(prov, 0) + 1
        yield NewGold(oid, qid, value, prov)


def gold_labels(project: Project) -> dict[int, dict[str, StoredGold]]:
    """The newest gold label per output x question."""
    return project_gold(project)
