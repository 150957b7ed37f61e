"""The reference answer per item that the judge is compared with, from plain tables.

``reference``: ``physician:<name>`` (that physician's answers); ``majority`` (the answer of
more than half the physicians, ``domain.consensus.majority``, items without one left out; the
physicians' mean for numeric questions); ``gold`` (newest gold labels). "Same answer" is
``domain.consensus.same_answer`` (numbers within 1e-9 for numeric questions).
"""

from __future__ import annotations

from typing import Any

from medreview.domain import consensus
from medreview.domain.rubric import CASE_CRITERION_PREFIX, QuestionKind
from medreview.stats.tables import POOLED_CRITERIA, RatingTables

Key = tuple[int, str]


def question_rows(ratings: Any, question_id: str) -> Any:
    """Rows of one question (all per-case criteria for ``criterion:*``)."""
    if question_id == POOLED_CRITERIA:
        return ratings[ratings["question_id"].str.startswith(CASE_CRITERION_PREFIX)]
    return ratings[ratings["question_id"] == question_id]


def answer_kind(tables: RatingTables, question_id: str) -> QuestionKind | None:
    """The kind that decides "same answer" (the pooled criteria are criteria)."""
    if question_id == POOLED_CRITERIA or question_id.startswith(CASE_CRITERION_PREFIX):
        return QuestionKind.CRITERION
    q = tables.questions.get(question_id)
    return q.kind if q is not None else None


def is_numeric(tables: RatingTables, question_id: str) -> bool:
    q = tables.questions.get(question_id)
    return q is not None and q.kind == QuestionKind.NUMBER


def question_label(tables: RatingTables, question_id: str) -> str:
    """A short human name for a question id (the id itself when the prompt is unknown)."""
    if question_id == POOLED_CRITERIA:
        return "All per-case criteria (pooled)"
    q = tables.questions.get(question_id)
    if q is None or not q.prompt:
        return question_id
    prompt = q.prompt if len(q.prompt) <= 60 else q.prompt[:57] + "…"
    return prompt if question_id == "score" else f"{question_id}: {prompt}"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def answers(rows: Any) -> list[tuple[Key, Any]]:
    """((output id, question id), answer) per row, missing answers left out."""
    return [((int(o), str(q)), v)
            for o, q, v in zip(rows["output_id"], rows["question_id"], rows["value"], strict=True)
            if not _missing(v)]


def differs(a: Any, b: Any, numeric: bool, kind: QuestionKind | None) -> bool:
    if numeric:
        return abs(float(a) - float(b)) > 1e-9
    return not consensus.same_answer(kind, a, b)


def reference_labels(tables: RatingTables, question_id: str, reference: str, *,
                     model: str | None = None) -> dict[Key, Any]:
    """The reference answer per (output id, question id) for a judge comparison (see the
    module docstring)."""
    ratings = question_rows(tables.ratings, question_id)
    if model is not None:
        ratings = ratings[ratings["model"] == model]
    phys = ratings[ratings["rater_kind"] == "physician"]
    if reference.startswith("physician:"):
        return dict(answers(phys[phys["rater"] == reference.split(":", 1)[1]]))
    if reference == "gold":
        gold = tables.gold
        if gold is None or gold.empty:
            return {}
        out = dict(answers(question_rows(gold, question_id)))
        if model is None:
            return out
        keep = {int(o) for o in ratings["output_id"]}
        return {k: v for k, v in out.items() if k[0] in keep}
    if reference != "majority":
        raise ValueError(f"unknown reference {reference!r}")
    grouped: dict[Key, list[Any]] = {}
    for key, v in answers(phys):
        grouped.setdefault(key, []).append(v)
    if is_numeric(tables, question_id):
        return {k: sum(float(x) for x in vs) / len(vs) for k, vs in grouped.items()}
    kind = answer_kind(tables, question_id)
    found = {k: consensus.majority(vs, kind) for k, vs in grouped.items()}
    return {k: v for k, (v, has) in found.items() if has}
