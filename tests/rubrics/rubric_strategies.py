"""Hypothesis strategies for valid forms of every question kind (shared by the rubric tests)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from medreview.domain.rubric import ErrorCategory, Form, FormKind, Option, Question, QuestionKind

# Any text: everything but lone surrogates (not encodable in UTF-8), control characters included.
texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=30
)
nonempty = texts.filter(lambda s: s.strip() != "")
ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,12}\Z")
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
numbers = st.one_of(st.integers(-10**6, 10**6), finite)
tags = st.lists(nonempty, max_size=3).map(tuple)


@st.composite
def options(draw: st.DrawFn, kind: QuestionKind, min_size: int) -> tuple[Option, ...]:
    if kind is QuestionKind.ORDINAL:
        values: list[str | int | float] = sorted(
            set(draw(st.lists(numbers, min_size=min_size, max_size=6))),
        )
        if len(values) < min_size:
            values = [0, 1]
    elif kind is QuestionKind.PAIRWISE:
        values = draw(st.sampled_from([["A", "B"], ["A", "B", "tie"], ["tie", "B", "A"]]))
    else:
        raw = draw(st.lists(st.one_of(nonempty, numbers), min_size=min_size, max_size=6))
        values = []
        for v in raw:
            if not any(isinstance(v, str) == isinstance(w, str) and v == w for w in values):
                values.append(v)
        if len(values) < min_size:
            values = ["x", "y"]
    return tuple(Option(v, draw(nonempty), draw(texts)) for v in values)


@st.composite
def questions(draw: st.DrawFn, qid: str) -> Question:
    kind = draw(st.sampled_from(list(QuestionKind)))
    common: dict[str, Any] = {
        "id": qid,
        "kind": kind,
        "prompt": draw(nonempty),
        "help": draw(texts),
        "required": draw(st.booleans()),
        "tags": draw(tags),
    }
    if kind is QuestionKind.CRITERION:
        points = draw(numbers.filter(lambda p: p != 0))
        return Question(**common, points=points)
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        return Question(**common, options=draw(options(kind, 2)))
    if kind is QuestionKind.MULTI_CHOICE:
        return Question(**common, options=draw(options(kind, 1)))
    if kind is QuestionKind.PAIRWISE:
        opts = draw(st.one_of(st.just(()), options(kind, 2)))
        return Question(**common, options=opts)
    if kind is QuestionKind.ERROR:
        cat_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
        cats = tuple(ErrorCategory(c, draw(nonempty), draw(texts), draw(texts)) for c in cat_ids)
        sev = draw(st.one_of(st.just(()), options(QuestionKind.SINGLE_CHOICE, 1)))
        return Question(**common, categories=cats, severities=sev)
    if kind is QuestionKind.NUMBER:
        bounds = sorted(draw(st.lists(finite, min_size=2, max_size=2)))
        low = draw(st.sampled_from([None, bounds[0]]))
        high = draw(st.sampled_from([None, bounds[1]]))
        assert all(b is None or math.isfinite(b) for b in (low, high))
        return Question(**common, minimum=low, maximum=high, unit=draw(texts))
    return Question(**common)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), finite, texts)
extras = st.dictionaries(
    nonempty,
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(nonempty, inner, max_size=3), max_leaves=6),
    max_size=3,
)


@st.composite
def forms(draw: st.DrawFn) -> Form:
    qids = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    qs = tuple(draw(questions(q)) for q in qids)
    kind = draw(st.sampled_from(list(FormKind)))
    if kind is FormKind.TAXONOMY and not any(q.kind is QuestionKind.ERROR for q in qs):
        kind = FormKind.RUBRIC
    kinds = {q.kind for q in qs}
    per_case = draw(st.booleans())
    rules: list[str | None] = [None]
    if per_case or QuestionKind.CRITERION in kinds:
        rules.append("healthbench")
    if QuestionKind.ORDINAL in kinds:
        rules.append("mean")
    if per_case or kinds & {QuestionKind.ORDINAL, QuestionKind.NUMBER, QuestionKind.CRITERION}:
        rules.append("sum")
    return Form(
        key=draw(ids),
        version=draw(st.integers(1, 10_000)),
        name=draw(nonempty),
        kind=kind,
        questions=qs,
        description=draw(texts),
        per_case_criteria=per_case,
        scoring=draw(st.sampled_from(rules)),
        references=draw(tags),
        extra=draw(extras),
    )
