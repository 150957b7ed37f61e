"""Judge replies → answers in physician conventions, or a clear reason why not.

``extract_json`` is tolerant of what chat models wrap around JSON (code fences, prose, a
``<think>`` block); ``interpret`` checks the object against the task's questions and converts
it to stored values (criterion → bool, scale → option value, errors → list of entries).
Anything that still does not fit raises ``ReplyParseError``: the item is then recorded as
failed with the raw text, never stored as a grade.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from medreview.domain.not_assessed import NA_WORDS, NOT_APPLICABLE, na_allowed
from medreview.domain.rubric import Option, Question, QuestionKind
from medreview.domain.validation import check_answer
from medreview.judge.templates import HEALTHBENCH, JudgeTask


class ReplyParseError(ValueError):
    """A reply that is not a usable answer; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ParsedAnswer:
    value: Any
    explanation: str = ""
    stated_confidence: float | None = None


_FENCE = re.compile(r"```[ \t]*(?:json|JSON|jsonc)?[ \t]*\n?(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: whole, inside a code fence, or the first balanced one."""
    s = _THINK.sub("", text or "").strip()
    if not s:
        raise ReplyParseError("empty reply")
    candidates = [m.group(1).strip() for m in _FENCE.finditer(s)] + [s]
    for c in candidates:
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", s):
        try:
            obj, _end = decoder.raw_decode(s, m.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    if "{" in s:
        raise ReplyParseError("reply holds no complete JSON object (truncated or malformed)")
    raise ReplyParseError("reply is not JSON")


def _confidence(raw: Any) -> float | None:
    if isinstance(raw, str):
        try:
            raw = float(raw.strip().rstrip("%"))
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    if 1.0 < value <= 100.0:  # a percentage
        value /= 100.0
    return value if 0.0 <= value <= 1.0 else None


def _bool(raw: Any, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no"):
        return raw.strip().lower() in ("true", "yes")
    raise ReplyParseError(f"{where}: expected true or false, got {raw!r}")


def _option(raw: Any, options: tuple[Option, ...], where: str) -> str | int | float:
    for o in options:
        if type(raw) is type(o.value) and raw == o.value:
            return o.value
    text = str(raw).strip().lower() if not isinstance(raw, bool) else ""
    for o in options:  # "3" for 3, or the option's label
        if text and (text == str(o.value).lower() or text == o.label.strip().lower()):
            return o.value
    allowed = ", ".join(json.dumps(o.value) for o in options)
    raise ReplyParseError(f"{where}: {raw!r} is not one of {allowed}")


def _error_entries(q: Question, raw: Any, answer_text: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ReplyParseError(f"{q.id}: expected a list of errors, got {type(raw).__name__}")
    by_label = {c.label.lower(): c.id for c in q.categories}
    ids = {c.id for c in q.categories}
    out: list[dict[str, Any]] = []
    for n, e in enumerate(raw, start=1):
        if not isinstance(e, dict):
            raise ReplyParseError(f"{q.id}: error {n} is not an object")
        cat = str(e.get("category", "")).strip()
        cat = cat if cat in ids else by_label.get(cat.lower(), cat)
        entry: dict[str, Any] = {"category": cat}
        if q.severities:
            entry["severity"] = _option(e.get("severity"), q.severities, f"{q.id}: error {n}")
        quote = e.get("quote")
        if isinstance(quote, str) and quote.strip():
            start = answer_text.find(quote.strip())
            if start >= 0:
                end = start + len(quote.strip())
                entry["span"] = {"start": start, "end": end, "text": answer_text[start:end]}
        note = e.get("explanation")
        if isinstance(note, str) and note.strip():
            entry["note"] = note.strip()
        out.append(entry)
    return out


def _not_applicable(q: Question, raw: Any) -> bool:
    """Is ``raw`` the judge saying "not applicable" (and not the name of one of ``q``'s
    options, which wins)?"""
    if not isinstance(raw, str):
        return False
    text = raw.strip().lower()
    if text not in NA_WORDS:
        return False
    return not any(text in (str(o.value).lower(), o.label.strip().lower()) for o in q.options)


def coerce_value(q: Question, raw: Any, answer_text: str = "") -> Any:
    """``raw`` as the stored value for ``q``; raises ``ReplyParseError`` if it cannot be.

    "N/A" (or "not applicable") is stored as a physician's N/A is (``NOT_APPLICABLE``: left
    out of every statistic and counted apart) where the question allows it, and refused where
    it does not."""
    if _not_applicable(q, raw):
        if not na_allowed(q):
            raise ReplyParseError(f"{q.id}: the judge answered {raw.strip()[:20]!r} (not "
                                  "applicable), which this question does not allow")
        return NOT_APPLICABLE
    if q.kind is QuestionKind.CRITERION:
        value: Any = _bool(raw, q.id)
    elif q.kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        value = _option(raw, q.options, q.id)
    elif q.kind is QuestionKind.PAIRWISE:
        opts = q.options or (Option("A", "A"), Option("B", "B"), Option("tie", "tie"))
        value = _option(raw, opts, q.id)
    elif q.kind is QuestionKind.MULTI_CHOICE:
        if not isinstance(raw, list):
            raise ReplyParseError(f"{q.id}: expected a list, got {raw!r}")
        value = [_option(r, q.options, q.id) for r in raw]
    elif q.kind is QuestionKind.NUMBER:
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise ReplyParseError(f"{q.id}: {raw!r} is not a number") from None
        value = raw
    elif q.kind is QuestionKind.ERROR:
        value = _error_entries(q, raw, answer_text)
    else:
        raise ReplyParseError(f"{q.id}: the judge does not answer {q.kind.value} questions")
    problem = check_answer(q, value)
    if problem:
        raise ReplyParseError(f"{q.id}: {problem}")
    return value


def interpret(task: JudgeTask, obj: dict[str, Any]) -> dict[str, ParsedAnswer]:
    """``{question id: ParsedAnswer}`` for every question of ``task``."""
    if task.template.key == HEALTHBENCH.key:
        q = task.questions[0]
        if "criteria_met" not in obj:
            raise ReplyParseError("reply has no 'criteria_met'")
        return {q.id: ParsedAnswer(coerce_value(q, obj["criteria_met"]),
                                   str(obj.get("explanation", "") or ""),
                                   _confidence(obj.get("confidence")))}
    answers = obj.get("answers", obj)
    if not isinstance(answers, dict):
        raise ReplyParseError("'answers' is not an object")
    out: dict[str, ParsedAnswer] = {}
    for q in task.questions:
        if q.id not in answers:
            raise ReplyParseError(f"reply has no answer for {q.id!r}")
        item = answers[q.id]
        if isinstance(item, dict) and "value" in item:
            out[q.id] = ParsedAnswer(coerce_value(q, item["value"], task.answer_text),
                                     str(item.get("explanation", "") or ""),
                                     _confidence(item.get("confidence")))
        else:  # a bare value instead of {value, explanation, confidence}
            out[q.id] = ParsedAnswer(coerce_value(q, item, task.answer_text))
    return out
