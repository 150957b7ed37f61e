"""Few-shot examples for a new judge prompt, drawn from physicians' corrections of a judge.

A correction is an item where a judge run answered X and the gold label says Y, with the
physician's rationale. Only cases of the *training* split may become examples
(``pick_examples`` refuses anything else), so a prompt built from them is never tuned on the
cases it is tested on. The examples are part of the prompt text, hence of its hash: a run
started with examples is a different template version from the run without.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from medreview.domain.split import check_train_only
from medreview.errors import InputError

MAX_EXAMPLES = 20
EXCERPT_CHARS = 600  # of the case and of the answer: examples illustrate, they do not replay
RATIONALE_CHARS = 400


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class FewShotExample:
    """One physician correction shown to the judge."""

    case_key: str
    output_id: int
    question_id: str
    question: str  # the question or criterion text
    case_excerpt: str
    answer_excerpt: str
    judge_value: Any
    gold_value: Any
    rationale: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> FewShotExample:
        """An example read back from a run's stored parameters (checked: hostile JSON)."""
        if not isinstance(raw, Mapping):
            raise InputError("a stored few-shot example is not an object", item="few_shot")
        try:
            return cls(str(raw["case_key"]), int(raw["output_id"]), str(raw["question_id"]),
                       _clip(raw["question"], 1000), _clip(raw["case_excerpt"], EXCERPT_CHARS),
                       _clip(raw["answer_excerpt"], EXCERPT_CHARS), raw.get("judge_value"),
                       raw.get("gold_value"), _clip(raw.get("rationale", ""), RATIONALE_CHARS))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"a stored few-shot example is malformed ({exc})",
                             item="few_shot") from None


def correction(case_key: str, output_id: int, question_id: str, question: str, case_text: str,
               answer_text: str, judge_value: Any, gold_value: Any,
               rationale: str) -> FewShotExample:
    return FewShotExample(case_key, output_id, question_id, _clip(question, 1000),
                          _clip(case_text, EXCERPT_CHARS), _clip(answer_text, EXCERPT_CHARS),
                          judge_value, gold_value, _clip(rationale, RATIONALE_CHARS))


def _rank(seed: int, ex: FewShotExample) -> str:
    return hashlib.sha256(f"{seed}:{ex.case_key}:{ex.output_id}:{ex.question_id}".encode()
                          ).hexdigest()


def pick_examples(candidates: Iterable[FewShotExample], split: Mapping[str, str], *,
                  k: int = 4, seed: int = 0, per_question: int = 2) -> tuple[FewShotExample, ...]:
    """Up to ``k`` corrections from training cases, at most ``per_question`` per question and
    one per case, those with a rationale first, in a seeded order (stable when candidates are
    added). Candidates from other parts are dropped here, and the result is checked again."""
    if not 0 <= k <= MAX_EXAMPLES:
        raise InputError(f"{k} few-shot examples asked for; choose 0 to {MAX_EXAMPLES}",
                         item="few_shot")
    train = [c for c in candidates if split.get(c.case_key) == "train"]
    train.sort(key=lambda c: (not c.rationale.strip(), _rank(seed, c)))
    chosen: list[FewShotExample] = []
    per_q: dict[str, int] = {}
    cases: set[str] = set()
    for c in train:
        if len(chosen) >= k:
            break
        if per_q.get(c.question_id, 0) >= per_question or c.case_key in cases:
            continue
        chosen.append(c)
        per_q[c.question_id] = per_q.get(c.question_id, 0) + 1
        cases.add(c.case_key)
    check_train_only((c.case_key for c in chosen), split, "the few-shot examples")
    return tuple(chosen)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "met (true)" if v else "not met (false)"
    return json.dumps(v, ensure_ascii=False, default=str)


def render_examples(examples: Sequence[FewShotExample]) -> str:
    """The prompt section that shows the examples (empty without examples)."""
    if not examples:
        return ""
    parts = ["# Examples: earlier judge answers that physicians corrected",
             "Learn from these; they are other cases, not the one to grade."]
    for n, ex in enumerate(examples, 1):
        parts.append(
            f"## Example {n}\nCase (excerpt): {ex.case_excerpt}\n"
            f"Response (excerpt): {ex.answer_excerpt}\nQuestion: {ex.question}\n"
            f"A judge answered: {_value(ex.judge_value)}\n"
            f"The physicians' answer: {_value(ex.gold_value)}\n"
            f"Why: {ex.rationale or '(no rationale given)'}")
    return "\n\n".join(parts) + "\n"


def examples_hash(examples: Sequence[FewShotExample]) -> str:
    blob = json.dumps([e.to_dict() for e in examples], sort_keys=True, ensure_ascii=False,
                      default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
