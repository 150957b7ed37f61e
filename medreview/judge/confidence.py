"""One answer per question from one or more samples, with a confidence and where it came from.

Sources, best first (recorded per question as ``confidence_source``):

* ``logprobs`` — the probability the model gave the tokens of the chosen scalar value
  (``exp`` of their summed logprobs), when the endpoint returned token logprobs;
* ``agreement`` — with n > 1 samples, the share of parsed samples giving the majority answer;
* ``stated`` — the confidence the judge wrote in its reply;
* ``none`` — nothing usable.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from medreview.judge.parse import ParsedAnswer, ReplyParseError, extract_json, interpret
from medreview.judge.templates import HEALTHBENCH, JudgeTask

_SCALAR = re.compile(r'true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Sample:
    text: str
    tokens: tuple[tuple[str, float], ...] | None = None  # (token text, logprob)


def _canon(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(e, dict) for e in value):
        # Error lists agree when they name the same (category, severity) pairs.
        value = sorted(json.dumps([e.get("category"), e.get("severity")], default=str)
                       for e in value)
    return json.dumps(value, sort_keys=True, default=str)


def _value_span(task: JudgeTask, text: str, qid: str) -> tuple[int, int] | None:
    """Where the scalar value answering ``qid`` is written in ``text``."""
    if task.template.key == HEALTHBENCH.key:
        m = re.search(r'"criteria_met"\s*:\s*', text)
    else:
        key = re.search(re.escape(json.dumps(qid)) + r"\s*:", text)
        if key is None:
            return None
        m = re.compile(r'"value"\s*:\s*').search(text, key.end())
    if m is None:
        return None
    v = _SCALAR.match(text, m.end())
    return (v.start(), v.end()) if v else None


def logprob_confidence(task: JudgeTask, sample: Sample, qid: str) -> float | None:
    if not sample.tokens:
        return None
    if "".join(t for t, _ in sample.tokens) != sample.text:
        return None  # tokens do not spell the text: offsets would be wrong
    span = _value_span(task, sample.text, qid)
    if span is None:
        return None
    total, pos, hit = 0.0, 0, False
    for tok, lp in sample.tokens:
        end = pos + len(tok)
        if end > span[0] and pos < span[1]:
            total += lp
            hit = True
        pos = end
    return math.exp(total) if hit else None


def decide(task: JudgeTask, samples: list[Sample]) -> dict[str, Any]:
    """The stored result of a task: answers, explanations, confidences and their sources.

    Raises ``ReplyParseError`` (the first sample's reason) when no sample parses.
    """
    parsed: list[tuple[Sample, dict[str, ParsedAnswer]]] = []
    first_error: ReplyParseError | None = None
    for s in samples:
        try:
            parsed.append((s, interpret(task, extract_json(s.text))))
        except ReplyParseError as exc:
            first_error = first_error or exc
    if not parsed:
        raise first_error or ReplyParseError("no reply")
    result: dict[str, Any] = {"answers": {}, "explanations": {}, "confidence": {},
                              "confidence_source": {}, "samples": len(parsed),
                              "unparsed": len(samples) - len(parsed)}
    for q in task.questions:
        counts = Counter(_canon(p[q.id].value) for _s, p in parsed)
        top, n_top = counts.most_common(1)[0]
        sample, answers = next((s, p) for s, p in parsed if _canon(p[q.id].value) == top)
        chosen = answers[q.id]
        conf: float | None = None
        source = "none"
        if not isinstance(chosen.value, list):
            conf = logprob_confidence(task, sample, q.id)
            source = "logprobs" if conf is not None else source
        if conf is None and len(parsed) > 1:
            conf, source = n_top / len(parsed), "agreement"
        if conf is None and chosen.stated_confidence is not None:
            conf, source = chosen.stated_confidence, "stated"
        result["answers"][q.id] = chosen.value
        result["explanations"][q.id] = chosen.explanation
        result["confidence"][q.id] = None if conf is None else round(conf, 6)
        result["confidence_source"][q.id] = source
    return result
