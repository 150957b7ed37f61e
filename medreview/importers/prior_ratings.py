"""Prior ratings (physicians' or judges') from CSV or JSONL → ``RatingRecord``.

One row per (case, model, rater). Answers come as columns ``q:<question_id>`` and/or a JSON
``answers`` object (the two are merged; a question given both ways must agree). Other
columns: ``rationale``, ``confidence`` (a number), ``rater_kind`` (``physician``/``judge``;
``human``/``doctor`` and ``llm``/``model`` are accepted), ``output_id``, ``created_at`` and
``errors`` (a JSON list of error entries). CSV cells are read as JSON scalars when they are
one (``4`` → 4, ``true`` → True), else kept as text; an empty cell means "not answered".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from medreview.domain.records import Located, RatingRecord
from medreview.importers._common import (
    Seen,
    as_id,
    as_number,
    as_str,
    fail,
    iter_csv,
    iter_jsonl,
    maybe_json,
    pick,
    type_name,
)
from medreview.progress import CancelToken, Progress, no_progress

QUESTION_PREFIX = "q:"
CASE_FIELDS = ("case_id", "id", "prompt_id")
MODEL_FIELDS = ("model", "model_name")
RATER_FIELDS = ("rater", "rater_id", "physician", "judge")
OUTPUT_ID_FIELDS = ("output_id", "completion_id", "response_id")
_KINDS: dict[str, Literal["physician", "judge"]] = {
    "physician": "physician",
    "human": "physician",
    "doctor": "physician",
    "clinician": "physician",
    "judge": "judge",
    "llm": "judge",
    "model": "judge",
    "llm-judge": "judge",
}


def is_ratings_header(columns: list[str] | set[str]) -> bool:
    """Whether columns look like a ratings file: a rater column and answers."""
    cols = set(columns)
    has_rater = bool(cols & set(RATER_FIELDS)) or "rater_kind" in cols
    has_answers = "answers" in cols or any(c.startswith(QUESTION_PREFIX) for c in cols)
    return has_rater and has_answers


def _cell(value: Any) -> Any:
    """A CSV cell as a JSON scalar when it parses as one, else the text."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, int | float | bool | list) else value


def _row(
    row: dict[str, Any], line: int, path: Path, default_kind: str, from_csv: bool
) -> RatingRecord:
    name, value = pick(row, CASE_FIELDS)
    if name is None:
        raise fail(f"missing required field: one of {', '.join(CASE_FIELDS)}", path, line)
    case_id = as_id(value, name, path, line)
    name, value = pick(row, MODEL_FIELDS)
    if name is None:
        raise fail("missing required field 'model'", path, line, case_id)
    model = as_str(value, name, path, line, case_id).strip()
    name, value = pick(row, RATER_FIELDS)
    if name is None:
        raise fail(f"missing required field: one of {', '.join(RATER_FIELDS)}", path, line, case_id)
    rater = as_id(value, name, path, line)
    kind_text = row.get("rater_kind") or default_kind
    kind = _KINDS.get(str(kind_text).strip().lower())
    if kind is None:
        raise fail(
            f"'rater_kind' must be physician or judge, got {kind_text!r}", path, line, case_id
        )

    answers: dict[str, Any] = {}
    raw = row.get("answers")
    if raw not in (None, ""):
        parsed = maybe_json(raw) if from_csv else raw
        if not isinstance(parsed, dict):
            raise fail(
                f"'answers' must be a JSON object, got {type_name(parsed)}", path, line, case_id
            )
        answers.update({str(k): v for k, v in parsed.items()})
    for col, cell in row.items():
        if not col.startswith(QUESTION_PREFIX):
            continue
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        qid = col.removeprefix(QUESTION_PREFIX)
        value = _cell(cell) if from_csv else cell
        if qid in answers and answers[qid] != value:
            raise fail(
                f"question {qid!r} has {answers[qid]!r} in 'answers' but {value!r} in {col!r}",
                path,
                line,
                case_id,
            )
        answers[qid] = value
    if not answers:
        raise fail(
            "row has no answers (no q:<question> value and no 'answers' object)",
            path,
            line,
            case_id,
        )

    confidence: float | None = None
    if row.get("confidence") not in (None, ""):
        confidence = as_number(row["confidence"], "confidence", path, line, case_id)
    errors_raw = row.get("errors")
    errors: tuple[dict[str, Any], ...] = ()
    if errors_raw not in (None, ""):
        parsed = maybe_json(errors_raw) if from_csv else errors_raw
        if not isinstance(parsed, list) or not all(isinstance(e, dict) for e in parsed):
            raise fail("'errors' must be a JSON list of objects", path, line, case_id)
        errors = tuple(parsed)
    _, oid = pick(row, OUTPUT_ID_FIELDS)
    rationale = row.get("rationale") or ""
    created = row.get("created_at") or None
    return RatingRecord(
        case_external_id=case_id,
        model=model,
        rater=rater,
        rater_kind=kind,
        answers=answers,
        rationale=as_str(rationale, "rationale", path, line, case_id),
        confidence=confidence,
        output_external_id=str(oid) if oid is not None else None,
        errors=errors,
        created_at=str(created) if created else None,
    )


def _dedup(records: Iterator[tuple[int, RatingRecord]], path: Path) -> Iterator[Located]:
    seen = Seen(path, "rating")
    for line, r in records:
        key = f"{r.case_external_id} / {r.model} / {r.rater}" + (
            f" / {r.output_external_id}" if r.output_external_id else ""
        )
        content = (r.answers, r.rationale, r.confidence, r.errors, r.rater_kind)
        if seen.is_new(key, content, line, "different answers"):
            yield Located(r, str(path), line)


def parse_ratings_csv(
    path: str | Path,
    *,
    rater_kind: str = "physician",
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Ratings from a CSV; ``rater_kind`` is the default when the file has no such column."""
    path = Path(path)
    _header, rows = iter_csv(path, progress, token)
    with closing(rows):
        records = ((line, _row(row, line, path, rater_kind, True)) for line, row in rows)
        yield from _dedup(records, path)


def parse_ratings_jsonl(
    path: str | Path,
    *,
    rater_kind: str = "physician",
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Ratings from JSON Lines (``answers`` an object, or ``q:<id>`` keys)."""
    path = Path(path)
    with closing(iter_jsonl(path, progress, token)) as lines:
        records = ((line, _row(obj, line, path, rater_kind, False)) for line, obj in lines)
        yield from _dedup(records, path)
