"""MedVAL-Bench rows (CSV or JSONL) → a case, the AI output and the physician's ground truth.

Columns (Hugging Face ``stanfordmimi/MedVAL-Bench``, the PhysioNet ``medval_bench.csv`` and
MedVAL's results CSVs alike): ``#``, ``id``, ``task``, ``input``, ``reference_output``,
``output``, ``physician_error_assessment``, ``physician_risk_grade``; other columns (the
``lm_*`` columns of a results file) are ignored. The case is the task input (with the expert
output as its reference answer when there is one), the output is the AI candidate, and the
physician's risk grade and errors become the answers of the reference rater
``MedVAL-Bench ground truth`` on the built-in ``medval`` rubric.

The physician's errors are free text ("Error 1: ...\\nError 2: ..."). An entry becomes an
error of a category when it names that category (e.g. "fabricated claim"), marked on the
output where it quotes the output's words. If any entry names no category, the ``errors``
answer is left unanswered rather than guessed; the text is always kept as the rationale.
MedVAL grades risk for the whole output only, so each error's severity (a medreview addition)
is derived from it: minor at levels 1-2 (MedVAL: unlikely to influence decisions), major at
3-4. Rows without a physician grade (the train split: -1 / "na") import without a rating.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord, RatingRecord
from medreview.domain.rubric import ErrorCategory
from medreview.importers._common import (
    Seen,
    fail,
    iter_csv,
    read_records,
    type_name,
    without_na,
)
from medreview.importers.medec import shown
from medreview.progress import CancelToken, Progress, no_progress
from medreview.rubrics.templates import load_template

RUBRIC_KEY = "medval"
RATER = "MedVAL-Bench ground truth"
MODEL = "MedVAL-Bench"
GRADE = "physician_risk_grade"
ASSESSMENT = "physician_error_assessment"
_NA = frozenset({"", "na", "n/a", "nan", "null", "-1"})
_NO_ERROR = frozenset({"none", "no error", "no errors", "-"})
# "4", "4.0" (pandas writes floats), "Level 4", "Level 4 (High Risk)".
_LEVEL = re.compile(
    r"(?:level\s*)?([0-9]{1,3})(?:\.0+)?(?:\s*[-:(]\s*[a-z][^0-9]*)?", re.IGNORECASE
)
_ENTRY = re.compile(r"error\s*\d+\s*[:.)-]", re.IGNORECASE)
_QUOTED = re.compile(r"\"([^\"]{3,})\"|“([^”]{3,})”|'([^']{3,})'|‘([^’]{3,})’")
_MAX_NOTE = 2000
# Task and row ids make the case id: one line each, short enough for a 200-character case id.
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,80}")

# What the physician was shown, in our words, per MedVAL-Bench task.
TASKS = {
    "medication2answer": "Answer the patient's question about a medication.",
    "query2question": "Condense the patient's health query into one question of at most 15 words.",
    "report2impression": "Write the impression (kept short) for the findings of this radiology "
    "report.",
    "report2simplified": "Rewrite this radiology report in plain words for the patient.",
    "impression2simplified": "Rewrite this radiology impression in plain words for the patient.",
    "bhc2spanish": "Translate this brief hospital course into Spanish.",
    "dialogue2note": "Write the assessment and plan for this doctor-patient conversation.",
}


def is_medval_header(columns: Sequence[str] | set[str]) -> bool:
    cols = {c.strip() for c in columns}
    return {"task", "input", "output"} <= cols and bool(cols & {GRADE, ASSESSMENT})


def _category_pattern(cat: ErrorCategory) -> re.Pattern[str]:
    # "Missing context", "missing_context", "missing  contex" (a typo in the released data).
    words = cat.label.lower().split()
    parts = [re.escape(w) for w in words[:-1]]
    parts.append(re.escape(words[-1][:-1]) + f"(?:{re.escape(words[-1][-1])})?")
    return re.compile(r"\b" + r"[\s_-]+".join(parts), re.IGNORECASE)


class _Rubric:
    def __init__(self) -> None:
        form = load_template(RUBRIC_KEY)
        self.levels = [int(o.value) for o in form.question("risk_level").options]
        errors = form.question("errors")
        # "Other" is left out: the word is too common in free text to mean the category.
        self.categories = [
            (c.id, _category_pattern(c)) for c in errors.categories if c.id != "other"
        ]
        self.severities = [str(s.value) for s in errors.severities]


def _text(row: dict[str, Any], field: str, path: Path, line: int, item: str | None) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"column {field!r}: expected text, got {type_name(value)}", path, line, item)
    # Spreadsheet cells end their lines with CRLF; the project stores plain newlines.
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _grade(raw: str, rubric: _Rubric, path: Path, line: int, item: str) -> int | None:
    text = raw.strip()
    if text.lower() in _NA:
        return None
    m = _LEVEL.fullmatch(text)
    if m is None or int(m.group(1)) not in rubric.levels:
        allowed = ", ".join(map(str, rubric.levels))
        raise fail(
            f"column {GRADE!r}: {shown(raw)} is not a risk level ({allowed}, "
            "\"Level 4 (High Risk)\", or -1/NA for no grade)",
            path,
            line,
            item,
        )
    return int(m.group(1))


def _entries(assessment: str) -> list[str]:
    """The errors of "Error 1: ...\\nError 2: ..." (or one per line without numbering)."""
    marks = list(_ENTRY.finditer(assessment))
    if marks:
        ends = [m.start() for m in marks[1:]] + [len(assessment)]
        return [assessment[m.end():e].strip() for m, e in zip(marks, ends, strict=True)]
    return [ln.strip() for ln in assessment.splitlines() if ln.strip()]


def _span(entry: str, output: str) -> dict[str, Any] | None:
    for m in _QUOTED.finditer(entry):
        quote = next(g for g in m.groups() if g is not None).strip()
        at = output.find(quote) if quote else -1
        if at >= 0:
            return {"start": at, "end": at + len(quote), "text": quote}
    return None


def _errors(
    assessment: str, grade: int, output: str, rubric: _Rubric
) -> list[dict[str, Any]] | None:
    """Error entries for the ``errors`` answer; None when the text cannot be read as such."""
    text = assessment.strip()
    if text.lower() in _NA:
        return None
    if text.lower().rstrip(".") in _NO_ERROR:
        return []
    severity = rubric.severities[0] if grade <= 2 else rubric.severities[-1]
    out: list[dict[str, Any]] = []
    for entry in _entries(text):
        found = [cid for cid, pattern in rubric.categories if pattern.search(entry)]
        if not found:
            return None
        span = _span(entry, output)
        for cid in found:
            error: dict[str, Any] = {
                "category": cid,
                "severity": severity,
                "note": entry[:_MAX_NOTE],
            }
            if span is not None:
                error["span"] = span
            out.append(error)
    return out


def _row(
    row: dict[str, Any], line: int, path: Path, rubric: _Rubric
) -> tuple[CaseRecord, OutputRecord, RatingRecord | None]:
    task = _text(row, "task", path, line, None).strip()
    if not task:
        raise fail("column 'task' is empty", path, line)
    local = _text(row, "id", path, line, None).strip() or _text(row, "#", path, line, None).strip()
    if not local:
        raise fail("no row id: columns 'id' and '#' are both empty", path, line)
    for column, value in (("task", task), ("id", local)):
        if not _ID.fullmatch(value):
            raise fail(
                f"column {column!r}: {shown(value)} is not an id (one line, at most 80 "
                "characters)",
                path,
                line,
            )
    case_id = local if local.startswith(f"{task}") else f"{task}-{local}"
    case_id = f"medval-{case_id}"

    def need(field: str) -> str:
        value = _text(row, field, path, line, case_id)
        if not value.strip():
            raise fail(f"column {field!r} is empty", path, line, case_id)
        return value

    source_text = need("input")
    output_text = need("output")
    reference = _text(row, "reference_output", path, line, case_id)
    case = CaseRecord(
        external_id=case_id,
        title=f"MedVAL-Bench {task} {local}",
        messages=(
            Message("system", TASKS.get(task, f"MedVAL-Bench task {task}.")),
            Message("user", source_text),
        ),
        tags=("medval-bench", task),
        metadata={"benchmark": "MedVAL-Bench", "task": task, "id": local,
                  "row": _text(row, "#", path, line, case_id)},
        reference_answer=reference if reference.strip().lower() not in _NA else None,
    )
    output = OutputRecord(
        case_external_id=case_id, model=MODEL, text=output_text, external_id=case_id
    )
    grade = _grade(_text(row, GRADE, path, line, case_id), rubric, path, line, case_id)
    if grade is None:
        return case, output, None
    assessment = _text(row, ASSESSMENT, path, line, case_id)
    answers: dict[str, Any] = {"risk_level": grade}
    errors = _errors(assessment, grade, output_text, rubric)
    if errors is not None:
        answers["errors"] = errors
    rating = RatingRecord(
        case_external_id=case_id,
        model=MODEL,
        rater=RATER,
        rater_kind="physician",
        answers=answers,
        rationale=assessment.strip() if assessment.strip().lower() not in _NA else "",
        output_external_id=case_id,
    )
    return case, output, rating


def _records(rows: Iterator[tuple[int, dict[str, Any]]], path: Path) -> Iterator[Located]:
    rubric = _Rubric()
    seen = Seen(path, "MedVAL-Bench row")
    source = str(path)
    for line, row in rows:
        case, output, rating = _row(row, line, path, rubric)
        content = (case.messages, case.reference_answer, output.text,
                   rating.answers if rating else None, rating.rationale if rating else None)
        if seen.is_new(case.external_id, content, line, "a different row"):
            yield Located(case, source, line)
            yield Located(output, source, line)
            if rating is not None:
                yield Located(rating, source, line)


def _check_columns(columns: Sequence[str] | set[str], path: Path, line: int) -> None:
    if not is_medval_header(columns):
        raise fail(
            "not a MedVAL-Bench row: needs 'task', 'input', 'output' and "
            f"'{GRADE}' or '{ASSESSMENT}'",
            path,
            line,
        )


def parse_medval(
    path: str | Path,
    *,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Cases, outputs and ground-truth ratings of MedVAL-Bench rows.

    A ``.csv``/``.tsv`` file is read as a table; anything else as JSON Lines, or (``.json``)
    a JSON array or dict of rows. ``na`` adds missing-value markers to the built-in ones.
    """
    path = Path(path)
    if path.suffix.lower() in {".csv", ".tsv", ".tab"}:
        header, rows = iter_csv(path, progress, token, encoding=encoding, na=na)
        with closing(rows):
            _check_columns(header, path, 1)
            yield from _records(rows, path)
        return
    with closing(read_records(path, encoding=encoding, progress=progress, token=token)) as recs:
        yield from _records(_checked_records(recs, path, na), path)


def _checked_records(
    records: Iterator[tuple[int, str | None, dict[str, Any]]], path: Path, na: Collection[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, _key, obj in records:
        _check_columns(set(obj), path, line)
        yield line, without_na(obj, na)
