"""Prior ratings (physicians' or judges') from CSV, JSONL or JSON → ``RatingRecord``.

One row per (case, model, rater). Answers come as columns ``q:<question_id>`` and/or a JSON
``answers`` object (the two are merged; a question given both ways must agree), or from any
column mapped to a question (``--map q:error_flag="Error Flag"``). Other columns:
``rationale``, ``confidence`` (a number), ``rater_kind`` (``physician``/``judge``;
``human``/``doctor`` and ``llm``/``model`` are accepted), ``output_id``, ``created_at`` and
``errors`` (a JSON list of error entries). Every role can be renamed with a
``RatingsMapping`` (the CLI's ``--map``).

With a ``RatingForm`` (the project's active rubric and its cases' criteria) every answer is
checked by ``medreview.domain.validation.check_answer``: the question must exist (a column for
a question the rubric does not have is refused at the header), a per-case criterion must
belong to the row's case, and the value must be one the question allows. CSV cells are read as
the question's type (``4`` for an ordinal scale of numbers, ``yes``/``true``/``1`` for a
criterion); without a form a cell is read as a JSON scalar when it is one, else as text. An
empty cell, or one equal to an ``--na`` marker, means "not answered".
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medreview.domain.not_assessed import (
    CANNOT_ASSESS_KEY,
    NOT_APPLICABLE,
    cannot_assess_from_text,
    check_cannot_assess,
    is_not_applicable,
    word_of,
)
from medreview.domain.records import Located, RatingRecord
from medreview.domain.rubric import (
    CASE_CRITERION_PREFIX,
    Form,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.validation import check_answer
from medreview.importers._common import (
    JsonTooDeep,
    Seen,
    as_id,
    as_number,
    as_str,
    fail,
    iter_csv,
    loads_limited,
    maybe_json,
    pick,
    read_records,
    type_name,
    without_na,
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
_TRUE = {"true", "yes", "y", "1", "met"}
_FALSE = {"false", "no", "n", "0", "not met"}


@dataclass(frozen=True)
class RatingsMapping:
    """Which columns of a ratings file mean what (each role lists accepted names).

    ``questions`` maps a rubric question id to the column holding its answers
    (``--map q:error_flag="Error Flag"``); columns named ``q:<id>`` are always read as well.
    ``default_model``/``default_rater`` stand in when the file has no such column.
    """

    case_id: tuple[str, ...] = CASE_FIELDS
    model: tuple[str, ...] = MODEL_FIELDS
    rater: tuple[str, ...] = RATER_FIELDS
    rater_kind: tuple[str, ...] = ("rater_kind",)
    output_id: tuple[str, ...] = OUTPUT_ID_FIELDS
    answers: tuple[str, ...] = ("answers",)
    rationale: tuple[str, ...] = ("rationale",)
    confidence: tuple[str, ...] = ("confidence",)
    errors: tuple[str, ...] = ("errors",)
    created_at: tuple[str, ...] = ("created_at",)
    # The rater could not assess the item: a reason id or label, or free text (reason other).
    cannot_assess: tuple[str, ...] = ("cannot_assess", "cannot_assess_reason")
    questions: tuple[tuple[str, str], ...] = ()
    default_model: str | None = None
    default_rater: str | None = None

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Sequence[str] | str]) -> RatingsMapping:
        """A mapping from ``{role: column(s)}`` and ``{"q:<question>": column}`` overrides.

        Roles are named as the fields above (``id`` stands for ``case_id``, ``model_name`` for
        ``model``); an empty value turns a role off. Raises ``ValueError`` on an unknown role.
        """
        base = cls()
        kwargs: dict[str, Any] = {}
        questions: list[tuple[str, str]] = []
        aliases = {"id": "case_id", "model_name": "model", "rater_id": "rater"}
        roles = sorted(
            f for f in base.__dataclass_fields__ if f not in ("questions", "default_rater")
        )
        for key, names in overrides.items():
            key = key.strip()
            if key.startswith(QUESTION_PREFIX):
                qid = key.removeprefix(QUESTION_PREFIX).strip()
                column = names if isinstance(names, str) else ",".join(names)
                if not qid or not column.strip():
                    raise ValueError(f"{key!r} needs a question id and a column: q:ID=COLUMN")
                questions.append((qid, column.strip()))
                continue
            role = aliases.get(key, key)
            if role in ("default_model", "default_rater"):
                kwargs[role] = (names if isinstance(names, str) else ",".join(names)).strip()
                continue
            if role not in roles:
                raise ValueError(
                    f"unknown field role {key!r} for a ratings file; roles are: "
                    f"{', '.join(roles)}, or q:QUESTION for a question's column"
                )
            if isinstance(names, str):
                names = names.split(",")
            kwargs[role] = tuple(n.strip() for n in names if n.strip())
        return dataclasses.replace(base, questions=tuple(questions), **kwargs)

    def known(self) -> frozenset[str]:
        """Columns with a role (anything else that is not ``q:`` is ignored)."""
        names: set[str] = {c for _, c in self.questions}
        for role in (self.case_id, self.model, self.rater, self.rater_kind, self.output_id,
                     self.answers, self.rationale, self.confidence, self.errors,
                     self.created_at):
            names.update(role)
        return frozenset(names)


@dataclass(frozen=True)
class RatingForm:
    """What the ratings of a project must fit: its active rubric and the cases' criteria.

    ``case_criteria`` maps a case's external id to the keys of its per-case criteria;
    ``taxonomy`` (the active error taxonomy, if any) checks the ``errors`` entries.
    """

    form: Form
    case_criteria: Mapping[str, frozenset[str]] = field(default_factory=dict)
    taxonomy: Form | None = None

    def question(self, qid: str) -> Question | None:
        for q in self.form.questions:
            if q.id == qid:
                return q
        return None

    def is_known(self, qid: str) -> bool:
        """Whether ``qid`` can be answered in some row (a form question or any criterion)."""
        return self.question(qid) is not None or qid.startswith(CASE_CRITERION_PREFIX)

    def describe(self) -> str:
        ids = [q.id for q in self.form.questions]
        shown = ", ".join(ids[:20]) + (", ..." if len(ids) > 20 else "")
        return f"rubric {self.form.key!r} has: {shown or 'no questions'}"


def is_ratings_header(columns: list[str] | set[str]) -> bool:
    """Whether columns look like a ratings file: a rater column and answers."""
    cols = set(columns)
    has_rater = bool(cols & set(RATER_FIELDS)) or "rater_kind" in cols
    has_answers = "answers" in cols or any(c.startswith(QUESTION_PREFIX) for c in cols)
    return has_rater and has_answers


def _cell(value: Any) -> Any:
    """A CSV cell as a JSON scalar when it parses as one, else the text (no form known)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = loads_limited(value.strip())
    except (json.JSONDecodeError, JsonTooDeep):
        return value
    return parsed if isinstance(parsed, int | float | bool | list) else value


def _number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() \
        else number


def _option_value(question: Question, text: str) -> Any:
    """The option a cell names: a text option as written, else a number option."""
    stripped = text.strip()
    for o in question.options:
        if isinstance(o.value, str) and o.value == stripped:
            return stripped
    number = _number(stripped)
    return number if number is not None else stripped


def typed_cell(question: Question, value: Any) -> Any:
    """A CSV cell read as the type ``question`` takes; unreadable text is kept for the check."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    kind = question.kind
    if kind is not QuestionKind.TEXT and word_of(text) == NOT_APPLICABLE \
            and not any(o.value == text for o in question.options):
        return NOT_APPLICABLE  # "N/A" (the check says where the rubric does not allow it)
    if kind is QuestionKind.CRITERION:
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        return _option_value(question, text)
    if kind is QuestionKind.NUMBER:
        number = _number(text)
        return number if number is not None else text
    if kind is QuestionKind.MULTI_CHOICE:
        parsed = maybe_json(text)
        if isinstance(parsed, list):
            return parsed
        return [_option_value(question, t) for t in text.split(";") if t.strip()]
    if kind is QuestionKind.ERROR:
        return maybe_json(text)
    return value  # text and pairwise answers are the text itself


def _allowed(question: Question) -> str:
    kind = question.kind
    if kind is QuestionKind.CRITERION:
        return "true or false"
    if kind is QuestionKind.NUMBER:
        lo = "" if question.minimum is None else f" from {question.minimum:g}"
        hi = "" if question.maximum is None else f" to {question.maximum:g}"
        return f"a number{lo}{hi}"
    if kind is QuestionKind.TEXT:
        return "text"
    if kind is QuestionKind.ERROR:
        return "a JSON list of errors " + ", ".join(c.id for c in question.categories)
    if question.options:
        return ", ".join(repr(o.value) for o in question.options)
    return kind.value


@dataclass
class _RowReader:
    """One row (dict) → ``RatingRecord``, with the mapping and the form to check against."""

    path: Path
    mapping: RatingsMapping
    default_kind: str
    from_csv: bool
    form: RatingForm | None
    na: frozenset[str] = frozenset()

    def check_columns(self, header: Sequence[str]) -> None:
        """Refuse, at the header, a question column the rubric does not have."""
        columns = set(header)
        for qid, column in self.mapping.questions:
            if column not in columns:
                raise fail(
                    f"column {column!r} (mapped to question {qid!r}) is not in the header",
                    self.path,
                    1,
                )
        if self.form is None:
            return
        for column in header:
            if column.startswith(QUESTION_PREFIX):
                self._check_known(column.removeprefix(QUESTION_PREFIX), column, 1, None)
        for qid, column in self.mapping.questions:
            self._check_known(qid, column, 1, None)

    def _check_known(self, qid: str, column: str, line: int, case_id: str | None) -> None:
        assert self.form is not None
        if not self.form.is_known(qid):
            where = f"{case_id}, column {column!r}" if case_id else f"column {column!r}"
            raise fail(
                f"no question {qid!r} in the project's rubric ({self.form.describe()})",
                self.path,
                line,
                where,
            )

    def _question(self, qid: str, column: str, line: int, case_id: str) -> Question:
        assert self.form is not None
        self._check_known(qid, column, line, case_id)
        q = self.form.question(qid)
        if q is not None:
            return q
        key = qid.removeprefix(CASE_CRITERION_PREFIX)
        keys = self.form.case_criteria.get(case_id, frozenset())
        if key not in keys:
            listed = ", ".join(sorted(keys)[:20]) or "none"
            raise fail(
                f"case {case_id!r} has no criterion {key!r} (its criteria: {listed})",
                self.path,
                line,
                f"{case_id}, column {column!r}",
            )
        return case_criterion_question(key, "", 0.0)

    def _checked(self, qid: str, column: str, value: Any, line: int, case_id: str) -> Any:
        if self.form is None:
            return _cell(value) if self.from_csv else value
        question = self._question(qid, column, line, case_id)
        if self.from_csv:
            value = typed_cell(question, value)
        self._check(question, value, column, line, case_id)
        return value

    def _check(self, question: Question, value: Any, column: str, line: int, case_id: str) -> None:
        """The grading screen's rule (``check_answer``), reported with the allowed values."""
        reason = check_answer(question, value)
        if reason:
            allowed = _allowed(question)
            hint = "" if allowed in reason else f" (allowed: {allowed})"
            if is_not_applicable(value):
                hint += "; give --na with that word to read it as not answered"
            raise fail(f"{reason}{hint}", self.path, line, f"{case_id}, column {column!r}")

    def _answer_cells(self, row: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
        """``(question id, column, raw value)`` for each answered question column."""
        for col, cell in row.items():
            if col.startswith(QUESTION_PREFIX):
                yield col.removeprefix(QUESTION_PREFIX), col, cell
        for qid, col in self.mapping.questions:
            if col in row:
                yield qid, col, row[col]

    def read(self, row: dict[str, Any], line: int) -> RatingRecord:
        m, path = self.mapping, self.path
        row = without_na(row, self.na)
        name, value = pick(row, m.case_id)
        if name is None:
            raise fail(f"missing required field: one of {', '.join(m.case_id)}", path, line)
        case_id = as_id(value, name, path, line)
        name, value = pick(row, m.model)
        if name is not None:
            model = as_str(value, name, path, line, case_id).strip()
        elif m.default_model:
            model = m.default_model
        else:
            raise fail(
                f"missing required field {' or '.join(map(repr, m.model)) or 'model'} "
                "(or give the model with --model)",
                path,
                line,
                case_id,
            )
        name, value = pick(row, m.rater)
        if name is not None:
            rater = as_id(value, name, path, line)
        elif m.default_rater:
            rater = m.default_rater
        else:
            raise fail(
                f"missing required field: one of {', '.join(m.rater) or 'rater'} "
                "(or name the rater with --rater)",
                path,
                line,
                case_id,
            )
        _, kind_value = pick(row, m.rater_kind)
        kind_text = kind_value or self.default_kind
        kind = _KINDS.get(str(kind_text).strip().lower())
        if kind is None:
            raise fail(
                f"'rater_kind' must be physician or judge, got {kind_text!r}", path, line, case_id
            )

        answers: dict[str, Any] = {}
        columns: dict[str, str] = {}
        # "cannot assess" (domain.not_assessed): its column, the stored key in an answers
        # object, or the words in a question's cell; the item then rates nothing.
        cannot: Any = None
        name, raw = pick(row, m.cannot_assess)
        if name is not None and str(raw).strip():
            cannot = cannot_assess_from_text(as_str(raw, name, path, line, case_id))
        name, raw = pick(row, m.answers)
        if name is not None:
            parsed = maybe_json(raw) if self.from_csv else raw
            if not isinstance(parsed, dict):
                raise fail(
                    f"{name!r} must be a JSON object, got {type_name(parsed)}", path, line, case_id
                )
            for k, v in parsed.items():
                if v is None:
                    continue
                col = f"{name}.{k}"
                if k == CANNOT_ASSESS_KEY:
                    problem = check_cannot_assess(v)
                    if problem:
                        raise fail(problem, path, line, f"{case_id}, column {col!r}")
                    cannot = dict(v)
                    continue
                if word_of(v) == CANNOT_ASSESS_KEY:
                    cannot = cannot or cannot_assess_from_text(f"{col}: {v}")
                    continue
                # Values inside the JSON object are typed already: no CSV coercion ("N/A"
                # is read as not applicable, as in a CSV cell).
                if self.form is not None:
                    question = self._question(str(k), col, line, case_id)
                    if isinstance(v, str) and question.kind is not QuestionKind.TEXT:
                        v = typed_cell(question, v) if word_of(v) == NOT_APPLICABLE else v
                    self._check(question, v, col, line, case_id)
                answers[str(k)] = v
                columns[str(k)] = name
        for qid, col, cell in self._answer_cells(row):
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            if word_of(cell) == CANNOT_ASSESS_KEY:
                cannot = cannot or cannot_assess_from_text(f"{col}: {cell}")
                continue
            value = self._checked(qid, col, cell, line, case_id)
            if qid in answers and answers[qid] != value:
                raise fail(
                    f"question {qid!r} has {answers[qid]!r} in {columns[qid]!r} "
                    f"but {value!r} in {col!r}",
                    path,
                    line,
                    case_id,
                )
            answers[qid] = value
            columns.setdefault(qid, col)
        if cannot is not None:
            answers[CANNOT_ASSESS_KEY] = cannot
        if not answers:
            raise fail(
                "row has no answers (no q:<question> value and no 'answers' object)",
                path,
                line,
                case_id,
            )

        confidence: float | None = None
        name, raw = pick(row, m.confidence)
        if name is not None:
            confidence = as_number(raw, name, path, line, case_id)
            if not math.isfinite(confidence):
                raise fail(f"{name!r} must be a finite number", path, line, case_id)
        errors: tuple[dict[str, Any], ...] = ()
        name, raw = pick(row, m.errors)
        if name is not None:
            parsed = maybe_json(raw) if self.from_csv else raw
            if not isinstance(parsed, list) or not all(isinstance(e, dict) for e in parsed):
                raise fail(f"{name!r} must be a JSON list of objects", path, line, case_id)
            self._check_errors(parsed, name, line, case_id)
            errors = tuple(parsed)
        _, oid = pick(row, m.output_id)
        name, rationale = pick(row, m.rationale)
        _, created = pick(row, m.created_at)
        return RatingRecord(
            case_external_id=case_id,
            model=model,
            rater=rater,
            rater_kind=kind,
            answers=answers,
            rationale=as_str(rationale, name, path, line, case_id) if name else "",
            confidence=confidence,
            output_external_id=str(oid) if oid is not None else None,
            errors=errors,
            created_at=str(created) if created else None,
        )

    def _check_errors(
        self, entries: list[dict[str, Any]], column: str, line: int, case_id: str
    ) -> None:
        """Error entries against the taxonomy's error question(s), when there is a taxonomy."""
        if self.form is None or self.form.taxonomy is None:
            return
        by_id = {
            q.id: q for q in self.form.taxonomy.questions if q.kind is QuestionKind.ERROR
        }
        if not by_id:
            return
        first = next(iter(by_id.values()))
        for n, entry in enumerate(entries, start=1):
            qid = entry.get("question_id")
            question = by_id.get(str(qid)) if qid is not None else first
            if question is None:
                raise fail(
                    f"error {n}: no error question {qid!r} in the taxonomy",
                    self.path,
                    line,
                    f"{case_id}, column {column!r}",
                )
            reason = check_answer(question, [entry])
            if reason:
                raise fail(
                    reason.replace("error 1", f"error {n}"),
                    self.path,
                    line,
                    f"{case_id}, column {column!r}",
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
    mapping: RatingsMapping | None = None,
    form: RatingForm | None = None,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Ratings from a CSV; ``rater_kind`` is the default when the file has no such column.

    With ``form`` every answer is checked against the project's rubric (see the module doc).
    """
    path = Path(path)
    reader = _RowReader(path, mapping or RatingsMapping(), rater_kind, True, form, frozenset(na))
    header, rows = iter_csv(path, progress, token, encoding=encoding, na=na)
    with closing(rows):
        reader.check_columns(header)
        records = ((line, reader.read(row, line)) for line, row in rows)
        yield from _dedup(records, path)


def parse_ratings_jsonl(
    path: str | Path,
    *,
    rater_kind: str = "physician",
    mapping: RatingsMapping | None = None,
    form: RatingForm | None = None,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Ratings from JSON Lines or a ``.json`` array/dict of records (``answers``, ``q:<id>``)."""
    path = Path(path)
    reader = _RowReader(path, mapping or RatingsMapping(), rater_kind, False, form, frozenset(na))
    with closing(read_records(path, encoding=encoding, progress=progress, token=token)) as recs:
        records = ((line, reader.read(obj, line)) for line, _key, obj in recs)
        yield from _dedup(records, path)
