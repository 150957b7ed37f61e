"""The rating rules shared by adjudication, the dashboard and the gold export. Stdlib only.

* **Same answer** (``answer_key``/``same_answer``), per question kind:

  - multi choice: the *set* of ticked options. A multi-choice answer is a set by meaning; the
    order in which a rater ticked the boxes (and a box listed twice) says nothing about the case.
  - error: the *set* of ``(category, severity)`` pairs. Spans and notes differ freely between
    raters marking the same error, so two entries of one category and severity cannot be told
    apart as errors; the adjudication screen shows exactly this set.
  - numbers (ordinal, number): by value, so ``3`` and ``3.0`` agree (``True`` is not ``1``).
  - everything else: the JSON value.

* **Majority** is strict: an answer given by *more than half* the raters (``majority``).
  **Plurality** is the single most frequent answer, ties giving none (``plurality``); it is not
  called majority anywhere. With two answer values (criteria) or up to three raters they agree.
* **Unanimous**: every rater gave the same answer (``unanimous``); one rating is unanimous.
* **Gold derivation** (``derive_gold``): one rating gives a ``single_rater`` label, a unanimous
  set a ``unanimous`` one, a strict majority a ``majority`` one; otherwise a person decides.
* **Blind labels** (``blind_label``): "Response A", "Response B", … shown instead of a model.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Final

from medreview.domain.not_assessed import assessed_answers, cannot_assess_of
from medreview.domain.rubric import Question, QuestionKind

LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def canonical(value: Any) -> str:
    """A stable text form of one value (for sorting and as part of ``answer_key``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


_json = canonical


def _errors_of(qid: str, answers: dict[str, Any], annotations: list[Any]) -> list[dict[str, Any]]:
    entries: list[Any] = list(answers.get(qid) or []) if isinstance(answers.get(qid), list) else []
    entries += [a for a in annotations if isinstance(a, dict) and a.get("question_id") == qid]
    # Only category and severity define an error for agreement (spans and notes differ freely);
    # values keep their native type so that a chosen set is a valid gold answer.
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        if isinstance(e, dict) and e.get("category") is not None:
            entry = {"category": e["category"], "severity": e.get("severity")}
            found[(canonical(e["category"]), canonical(e.get("severity")))] = entry
    return [found[k] for k in sorted(found)]


def rating_value(q: Question, answers: dict[str, Any], annotations: list[Any]) -> Any:
    """What a rater answered to ``q``, as every comparison reads it: an error question's answer
    is the set of (category, severity) marked in the answers *and* the error annotations; a
    multi-choice answer is sorted. The adjudication screen shows exactly these values."""
    if q.kind is QuestionKind.ERROR:
        return _errors_of(q.id, answers, annotations)
    value = answers.get(q.id)
    if q.kind is QuestionKind.MULTI_CHOICE and isinstance(value, list):
        return sorted(value, key=canonical)
    return value


def _scalar_key(value: Any) -> Hashable:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return ("number", number) if math.isfinite(number) else ("json", _json(value))
    return ("json", _json(value))


def _error_pairs(value: Any) -> frozenset[tuple[str, str]]:
    entries = value if isinstance(value, list) else []
    return frozenset(
        (_json(e.get("category")), _json(e.get("severity")))
        for e in entries
        if isinstance(e, dict) and e.get("category") is not None
    )


def answer_key(kind: QuestionKind | None, value: Any) -> Hashable:
    """A hashable key under which two answers to a question of ``kind`` are the same answer."""
    if kind is QuestionKind.ERROR and (isinstance(value, list) or value is None):
        return ("errors", _error_pairs(value))
    if kind is QuestionKind.MULTI_CHOICE and isinstance(value, list):
        return ("choices", frozenset(_json(x) for x in value))
    return _scalar_key(value)


def same_answer(kind: QuestionKind | None, a: Any, b: Any) -> bool:
    return answer_key(kind, a) == answer_key(kind, b)


def _top(values: Sequence[Any], kind: QuestionKind | None) -> list[tuple[Hashable, int]]:
    return Counter(answer_key(kind, v) for v in values).most_common()


def _first_with(values: Sequence[Any], kind: QuestionKind | None, key: Hashable) -> Any:
    return next(v for v in values if answer_key(kind, v) == key)


def majority(values: Sequence[Any], kind: QuestionKind | None = None) -> tuple[Any, bool]:
    """The answer of more than half the raters (the first rater's form of it) and whether
    there is one."""
    if not values:
        return None, False
    key, n = _top(values, kind)[0]
    if n * 2 > len(values):
        return _first_with(values, kind, key), True
    return None, False


def plurality(values: Sequence[Any], kind: QuestionKind | None = None) -> tuple[Any, bool]:
    """The single most frequent answer (ties: none) and whether there is one. Not a majority:
    with 2-1-1 answers from four raters the plurality is the 2, and there is no majority."""
    counts = _top(values, kind)
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None, False
    return _first_with(values, kind, counts[0][0]), True


def unanimous(values: Sequence[Any], kind: QuestionKind | None = None) -> bool:
    """Every rater gave the same answer (at least one rating)."""
    return len({answer_key(kind, v) for v in values}) == 1


def distinct_answers(values: Sequence[Any], kind: QuestionKind | None = None) -> int:
    return len({answer_key(kind, v) for v in values})


def derive_gold(values: Sequence[Any], kind: QuestionKind | None = None
                ) -> tuple[Any, str] | None:
    """The gold label the ratings settle without an adjudicator, with its provenance
    (``single_rater``, ``unanimous`` or ``majority``), or ``None`` if a person must decide."""
    if not values:
        return None
    if len(values) == 1:
        return values[0], "single_rater"
    if unanimous(values, kind):
        return values[0], "unanimous"
    value, has = majority(values, kind)
    return (value, "majority") if has else None


def blind_label(index: int) -> str:
    """The label shown instead of a model: "Response A" … "Response Z", then "Response A1"."""
    return f"Response {LETTERS[index % 26]}{'' if index < 26 else index // 26}"


def physician_ratings(
    revisions: Iterable[Mapping[str, Any]],
    questions: Mapping[str, Question],
    *,
    pseudonymise: bool = False,
    keep_unknown: bool = False,
) -> dict[tuple[int, str], dict[str, Any]]:
    """(output, question) -> {rater: answer} over physicians' current finished judgments.

    ``revisions`` are ``storage.tables.current_revisions`` rows. Answers are read with
    ``rating_value`` (error annotations included). A finished judgment with no error marked on
    an error question found none: that is an answer (``[]``) too, and it disagrees with a rater
    who marked one. ``keep_unknown`` keeps answers to ids that are not project questions as
    they are (exports pass them on; adjudication cannot settle them).
    """
    ratings: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
    error_questions = [q for q in questions.values() if q.kind is QuestionKind.ERROR]
    for r in revisions:
        if r["rater_kind"] != "physician":
            continue
        rater = r["rater_pseudonym"] if pseudonymise else r["rater"]
        # Not assessed is not a rating (domain.not_assessed): a cannot-assess item gives none,
        # a "not applicable" answer is missing for that question.
        raw = dict(r["answers"])
        answers = assessed_answers(raw)
        if cannot_assess_of(raw) is not None:
            continue
        not_applicable = set(raw) - set(answers)
        annotations = list(r["annotations"])
        qids = {k for k in answers if not k.startswith("_")}
        qids |= {str(a["question_id"]) for a in annotations
                 if isinstance(a, dict) and isinstance(a.get("question_id"), str)}
        for qid in sorted(qids - not_applicable):
            q = questions.get(qid)
            if q is None:
                if keep_unknown and answers.get(qid) is not None:
                    ratings[(r["output_id"], qid)][rater] = answers[qid]
                continue
            if q.kind is not QuestionKind.ERROR and answers.get(qid) is None:
                continue
            ratings[(r["output_id"], qid)][rater] = rating_value(q, answers, annotations)
        for q in error_questions:
            if q.id not in not_applicable:
                ratings[(r["output_id"], q.id)].setdefault(rater, [])
    return dict(ratings)
