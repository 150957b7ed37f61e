"""Is a revision from a rater package valid for the form version it names? (issue 11, merge)

Uses the same rules as grading and imports (``medreview.domain.validation``): every answer
must name a question of the rubric, the taxonomy or this case's own criteria, and hold a value
that question allows; error marks must use the taxonomy's categories and severities; image
marks must point at an attachment sent in this package and pairwise partners at an output sent
in it (both ids are rewritten to this project's). Returns one line naming the question.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from medreview.domain.answer_validator import AnswerValidator, RuleMemo
from medreview.domain.rubric import CASE_CRITERION_PREFIX, Form, Question, QuestionKind
from medreview.domain.validation import ERROR_ENTRY_KEYS, check_answer, questions_by_id

STATUSES = ("draft", "done", "skipped")
ANNOTATION_KEYS = frozenset({*ERROR_ENTRY_KEYS, "question_id", "compared_output_id"})
MAX_RATIONALE_CHARS = 100_000
MAX_ANNOTATIONS = 1_000


class Invalid(Exception):
    """A revision that its form does not allow; ``str()`` is the one-line reason."""


def _number(v: Any) -> bool:
    t = type(v)
    if t is float or t is int:  # the usual column values, decided without the subclass tests
        return math.isfinite(v)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_scalars(*, rationale: Any, confidence: Any, overall_score: Any, time_on_task_s: Any,
                  flagged: Any, skipped: Any, status: Any) -> None:
    if not isinstance(rationale, str) or len(rationale) > MAX_RATIONALE_CHARS:
        raise Invalid(f"rationale must be text of at most {MAX_RATIONALE_CHARS} characters")
    if confidence is not None and not (_number(confidence) and 0 <= confidence <= 1):
        raise Invalid(f"confidence {str(confidence)[:20]!r} is not a number from 0 to 1")
    if overall_score is not None and not _number(overall_score):
        raise Invalid("overall score is not a number")
    if not _number(time_on_task_s) or time_on_task_s < 0:
        raise Invalid("time on task is not a number of seconds")
    if not isinstance(flagged, bool) or not isinstance(skipped, bool):
        raise Invalid("flagged and skipped must be true or false")
    if status not in STATUSES:
        raise Invalid(f"status {str(status)[:20]!r} is not one of {', '.join(STATUSES)}")


def scalars_fine(r: Any) -> bool:
    """A fast yes for the usual row (``r``: a package revision): True only where
    ``check_scalars`` passes; False leaves it to ``check_scalars`` to say why."""
    rationale, c, score, tot = r.rationale, r.confidence, r.overall_score, r.time_on_task_s
    return (type(rationale) is str and len(rationale) <= MAX_RATIONALE_CHARS
            and (c is None or (type(c) is float and 0.0 <= c <= 1.0))
            and (score is None or (type(score) is float and math.isfinite(score)))
            and type(tot) is float and 0.0 <= tot < math.inf
            and type(r.flagged) is bool and type(r.skipped) is bool
            and r.status in STATUSES)


# The answers check for (rubric, taxonomy, criteria), keyed by the objects' ids; the value
# holds the objects themselves, so none of them is freed (and its id reused) while cached.
IndexCache = dict[tuple[int, int, int], tuple[object, object, object, AnswerValidator]]


def answer_validator(rubric: Form, taxonomy: Form | None, criteria: Sequence[Question],
                     cache: IndexCache | None = None, memo: RuleMemo | None = None
                     ) -> AnswerValidator:
    """The compiled answers check of a form and case (``cache``, ``memo``: one per merge)."""
    key = (id(rubric), id(taxonomy), id(criteria))
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return hit[3]
    validator = AnswerValidator(questions_by_id(
        rubric, [*(taxonomy.questions if taxonomy else ()), *criteria]), memo)
    if cache is not None:
        cache[key] = (rubric, taxonomy, criteria, validator)
    return validator


def check_valid_answers(answers: Any, validator: AnswerValidator) -> None:
    """``Invalid`` naming the first answer ``validator`` refuses (or a non-mapping)."""
    if type(answers) is not dict and not isinstance(answers, Mapping):  # (the ABC test is slow)
        raise Invalid("answers are not a mapping of question to value")
    problems = validator.problems(answers)
    if problems:
        qid, reason = next(iter(problems.items()))
        if qid.startswith(CASE_CRITERION_PREFIX) and reason.startswith("no such question"):
            reason = "this criterion does not belong to this output's case"
        raise Invalid(f"question {str(qid)[:80]!r}: {reason}")


def check_answers(answers: Any, rubric: Form, taxonomy: Form | None,
                  criteria: Sequence[Question], cache: IndexCache | None = None) -> None:
    """``cache``: one per merge, for the thousands of revisions sharing a form and a case."""
    if not isinstance(answers, Mapping):
        raise Invalid("answers are not a mapping of question to value")
    check_valid_answers(answers, answer_validator(rubric, taxonomy, criteria, cache))


def _region(region: Any, att_map: Mapping[int, int]) -> dict[str, Any]:
    if not isinstance(region, Mapping):
        raise Invalid("an image mark's region is not a mapping")
    att = region.get("attachment_id")
    if not isinstance(att, int) or isinstance(att, bool) or att not in att_map:
        raise Invalid("an image mark points at an image that was not sent in this package")
    coords = region.get("coords")
    if not isinstance(coords, list) or len(coords) > 8 or not all(_number(c) for c in coords):
        raise Invalid("an image mark's coordinates are not a short list of numbers")
    return {**region, "attachment_id": att_map[att]}


def _span(span: Any, n: int) -> None:
    ok = isinstance(span, Mapping) and all(
        isinstance(span.get(k), int) and not isinstance(span.get(k), bool)
        for k in ("start", "end")) and 0 <= span["start"] <= span["end"] and isinstance(
        span.get("text", ""), str)
    if not ok:
        raise Invalid(f"mark {n}: its text span is not a range of characters")


def map_annotations(annotations: Any, questions: Mapping[str, Question],
                    att_map: Mapping[int, int], out_map: Mapping[int, int]) -> list[Any]:
    """Checked annotations with package-local ids rewritten to this project's."""
    if not isinstance(annotations, list) or len(annotations) > MAX_ANNOTATIONS:
        raise Invalid(f"annotations are not a list of at most {MAX_ANNOTATIONS} marks")
    out: list[Any] = []
    for n, a in enumerate(annotations, start=1):
        if not isinstance(a, Mapping):
            raise Invalid(f"mark {n} is not a mapping")
        unknown = sorted(set(a) - ANNOTATION_KEYS)
        if unknown:
            raise Invalid(f"mark {n} has unknown field(s) {', '.join(map(repr, unknown))}")
        qid = a.get("question_id")
        q = questions.get(qid) if isinstance(qid, str) else None
        if qid is not None and q is None:
            raise Invalid(f"mark {n} names question {str(qid)[:80]!r}, which this form and "
                          "case do not have")
        entry = dict(a)
        if entry.get("span") is not None:
            _span(entry["span"], n)
        if entry.get("region") is not None:
            entry["region"] = _region(entry["region"], att_map)
        partner = entry.get("compared_output_id")
        if partner is not None:
            if q is None or q.kind is not QuestionKind.PAIRWISE:
                raise Invalid(f"mark {n} compares outputs outside a pairwise question")
            if not isinstance(partner, int) or partner not in out_map:
                raise Invalid(f"mark {n} compares with an output not sent in this package")
            entry["compared_output_id"] = out_map[partner]
        is_error = entry.get("category") is not None or entry.get("severity") is not None
        if is_error:
            if q is None or q.kind is not QuestionKind.ERROR:
                raise Invalid(f"mark {n} gives an error category outside an error question")
            reason = check_answer(q, [{k: v for k, v in a.items() if k != "compared_output_id"}])
            if reason:
                raise Invalid(f"question {q.id!r}: {reason.replace('error 1', f'mark {n}')}")
        elif entry.get("note") is not None and not isinstance(entry["note"], str):
            raise Invalid(f"mark {n}: note must be text")
        out.append(entry)
    return out


def all_questions(rubric: Form, taxonomy: Form | None,
                  criteria: Sequence[Question]) -> dict[str, Question]:
    qs = [*rubric.questions, *(taxonomy.questions if taxonomy else ()), *criteria]
    return {q.id: q for q in qs}
