"""Per-rater accuracy on hidden gold (check) items and pass rate on attention items.

A question is answered *as gold* when the rater's answer and the gold label are the same answer
under ``domain.consensus.same_answer`` (sets for multi choice and errors, numbers by value).
Free-text questions are not scored.

Confidence intervals (95 % unless asked otherwise):

* **per question**: Wilson score interval; one answer per item, items independent. The
  per-case criteria of HealthBench-style cases (a different set per case) are pooled as one
  question ``criteria``, several answers per item: the overall interval below;
* **overall** (every scored question of every item pooled): the questions of one item are not
  independent (an item the rater misread is often wrong throughout), so the interval is a
  Wilson interval on the *effective* number of answers: the cluster-robust (items as
  clusters) variance of the pooled share gives ``n_eff = p (1 - p) / var``, at most the
  number of answers (Kish's design effect). When every answer is
  right (or wrong) the variance is zero and ``n_eff`` is the number of items, as if each item
  were one answer: never narrower than the items support;
* **attention pass rate**: an item is passed when every scored question is answered as gold;
  Wilson over items.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from medreview.domain.consensus import rating_value, same_answer
from medreview.domain.rubric import CASE_CRITERION_PREFIX, Question, QuestionKind

DEFAULT_LEVEL = 0.95
CRITERIA = "criteria"  # the pooled per-case criteria


@dataclass(frozen=True)
class Share:
    """``k`` of ``n`` with its interval (``n_items``: the items the answers came from)."""

    k: int
    n: int
    ci: tuple[float, float] | None
    n_items: int = 0

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "n_items": self.n_items,
                "value": None if math.isnan(self.value) else self.value,
                "ci": list(self.ci) if self.ci else None}


def wilson(k: float, n: float, level: float = DEFAULT_LEVEL) -> tuple[float, float] | None:
    """Wilson score interval of ``k`` successes in ``n`` (``n`` may be an effective size)."""
    if n <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = min(max(k / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def clustered_share(items: Sequence[tuple[int, int]], level: float = DEFAULT_LEVEL) -> Share:
    """Pooled share of ``(right, asked)`` per item with the design-effect Wilson interval."""
    items = [(r, a) for r, a in items if a > 0]
    k = sum(r for r, _ in items)
    n = sum(a for _, a in items)
    m = len(items)
    if not n:
        return Share(0, 0, None, 0)
    p = k / n
    # Cluster-robust (CR1) variance of a ratio estimator, items as clusters.
    var = m / (m - 1) * sum((r - p * a) ** 2 for r, a in items) / (n * n) if m > 1 else 0.0
    n_eff = min(max(p * (1 - p) / var, 1.0), float(n)) if var > 0 else float(m)
    return Share(k, n, wilson(p * n_eff, n_eff, level), m)


def item_correct(answers: Mapping[str, Any], annotations: Sequence[Any],
                 gold: Mapping[str, Any], questions: Mapping[str, Question]
                 ) -> dict[str, bool]:
    """Question -> answered as gold, for the item's scored gold questions the rater answered
    (an error question is always answered: no error marked is the answer "none")."""
    out: dict[str, bool] = {}
    for qid, g in sorted(gold.items()):
        q = questions.get(qid)
        if q is None or q.kind is QuestionKind.TEXT:
            continue
        if q.kind is not QuestionKind.ERROR and answers.get(qid) is None:
            continue  # not answered (not applicable, or not asked): nothing to score
        out[qid] = same_answer(q.kind, rating_value(q, dict(answers), list(annotations)), g)
    return out


def question_group(qid: str) -> str:
    """Per-case criteria (HealthBench) differ per case: they are reported pooled as one."""
    return CRITERIA if qid.startswith(CASE_CRITERION_PREFIX) else qid


def _share(items: Sequence[tuple[int, int]], level: float) -> Share:
    if all(a == 1 for _r, a in items):  # one answer per item: independent, plain Wilson
        k, n = sum(r for r, _a in items), len(items)
        return Share(k, n, wilson(k, n, level), n)
    return clustered_share(items, level)


@dataclass(frozen=True)
class ScoredItem:
    rater: str
    kind: str  # check | attention
    output_id: int
    case_external_id: str
    correct: dict[str, bool]


@dataclass(frozen=True)
class RaterAccuracy:
    rater: str
    n_check_assigned: int
    n_attention_assigned: int
    overall: Share  # check items: every scored question pooled
    per_question: dict[str, Share]
    attention: Share  # attention items passed
    failed_attention: tuple[tuple[int, str, tuple[str, ...]], ...] = field(default=())
    # (output, case, questions missed) of each failed attention item

    def to_dict(self) -> dict[str, Any]:
        return {"rater": self.rater, "check_assigned": self.n_check_assigned,
                "attention_assigned": self.n_attention_assigned,
                "accuracy": self.overall.to_dict(),
                "per_question": {q: s.to_dict() for q, s in self.per_question.items()},
                "attention_pass": self.attention.to_dict(),
                "failed_attention": [{"output_id": o, "case": c, "missed": list(m)}
                                     for o, c, m in self.failed_attention]}


def rater_accuracy(rater: str, items: Iterable[ScoredItem], *, check_assigned: int = 0,
                   attention_assigned: int = 0, level: float = DEFAULT_LEVEL
                   ) -> RaterAccuracy:
    """One rater's accuracy on their finished check items and attention pass rate."""
    checks = [i for i in items if i.rater == rater and i.correct]
    attention = [i for i in checks if i.kind == "attention"]
    checks = [i for i in checks if i.kind == "check"]
    overall = clustered_share([(sum(i.correct.values()), len(i.correct)) for i in checks],
                              level)
    per_q: dict[str, list[tuple[int, int]]] = {}
    for i in checks:
        groups: dict[str, list[bool]] = {}
        for qid, ok in i.correct.items():
            groups.setdefault(question_group(qid), []).append(ok)
        for g, oks in groups.items():
            per_q.setdefault(g, []).append((sum(oks), len(oks)))
    per_question = {g: _share(v, level) for g, v in sorted(per_q.items())}
    passed = sum(all(i.correct.values()) for i in attention)
    failed = tuple((i.output_id, i.case_external_id,
                    tuple(q for q, ok in i.correct.items() if not ok))
                   for i in attention if not all(i.correct.values()))
    return RaterAccuracy(rater, check_assigned, attention_assigned, overall, per_question,
                         Share(passed, len(attention), wilson(passed, len(attention), level),
                               len(attention)), failed)
