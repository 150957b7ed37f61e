"""MEDEC / MEDIQA-CORR CSVs (MS and UW collections) → a case, the note and its ground truth.

One row is one clinical text. The numbered ``Sentences`` cell becomes the graded output (one
sentence per paragraph, each led by its MEDEC id, so a physician sees the ids the benchmark
uses); the output's metadata keeps where each sentence sits in that text. The benchmark's
``Error Flag``, ``Error Type``, ``Error Sentence ID`` and ``Corrected Sentence`` become the
answers of the reference rater ``MEDEC ground truth`` on the built-in ``medec`` rubric, with
the erroneous sentence marked as a span. Values are checked against that rubric; a bad one
refuses the whole file, naming line and column.

The MS files (``ms-train-N``, ``ms-val-N``, ``ms-test-N``) and the UW files (``uw-...``, given
under a data-use agreement) share the columns; the 2024 shared-task releases have no
``Error Type`` column, and the MS test file pads with blank rows (skipped). ``NA`` (or an empty
cell) marks a missing value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord, RatingRecord
from medreview.errors import ImportFailed
from medreview.importers._common import Seen, fail, iter_csv
from medreview.progress import CancelToken, Progress, no_progress
from medreview.rubrics.templates import load_template

RUBRIC_KEY = "medec"
RATER = "MEDEC ground truth"
REQUIRED = (
    "Text ID",
    "Sentences",
    "Error Flag",
    "Error Sentence ID",
    "Corrected Sentence",
)
TYPE_COLUMN = "Error Type"
# Enough to tell MEDEC from any other CSV; the rest is checked when parsing.
_SIGNATURE = {"Text ID", "Sentences", "Error Flag"}
NA = frozenset({"", "na", "n/a"})
# A line of the Sentences cell that opens a sentence: "<id> <text>".
_SENTENCE = re.compile(r"(\d{1,6})(?:[ \t]+(.*))?")
_COLLECTION = re.compile(r"(ms|uw)[-_]", re.IGNORECASE)
# Ids name rows in one-line messages and are case ids (at most 200 characters in the project).
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

_PROMPT = (
    "Clinical text {text_id} (MEDEC-{collection}). Read the note below: it holds at most one "
    "medical error (a wrong diagnosis, management step, treatment, drug or causal organism). "
    "Say whether it has one and, if so, its type, the number of the sentence that holds it and "
    "a corrected version of that sentence."
)


def is_medec_header(columns: Sequence[str]) -> bool:
    return {c.strip() for c in columns} >= _SIGNATURE


@dataclass(frozen=True)
class Sentence:
    id: int
    start: int  # characters [start, end) of the sentence's words in the graded text
    end: int


def _is_na(value: str) -> bool:
    return value.strip().lower() in NA


def shown(value: str, limit: int = 40) -> str:
    """A cell quoted for a one-line message, cut short if long."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def split_sentences(cell: str) -> tuple[str, list[Sentence]] | None:
    """The graded text and its sentences, or None if the cell does not start with an id.

    A line opens sentence n when it starts with ``n`` followed by a space and n is the next id
    (or the first line's id); any other line continues the sentence before it (UW notes break
    inside sentences, and a line such as "5 mg daily" must not pass for sentence 5).
    """
    lines = [ln.strip() for ln in re.split(r"\r\n|\r|\n", cell)]
    lines = [ln for ln in lines if ln]
    pieces: list[tuple[int, list[str]]] = []
    for ln in lines:
        m = _SENTENCE.fullmatch(ln)
        expected = pieces[-1][0] + 1 if pieces else None
        if m and (expected is None or int(m.group(1)) == expected):
            pieces.append((int(m.group(1)), [m.group(2) or ""]))
        elif pieces:
            pieces[-1][1].append(ln)
        else:
            return None
    parts: list[str] = []
    sentences: list[Sentence] = []
    pos = 0
    for sid, words in pieces:
        prefix = f"{sid} "
        body = "\n".join(w for w in words if w)
        start = pos + len(prefix)
        sentences.append(Sentence(sid, start, start + len(body)))
        parts.append(prefix + body)
        pos += len(prefix) + len(body) + 2  # paragraphs are separated by a blank line
    return "\n\n".join(parts), sentences


def _collection(text_id: str, path: Path) -> str:
    m = _COLLECTION.match(text_id)
    if m:
        return m.group(1).upper()
    name = path.name.upper()
    for tag in ("UW", "MS"):
        if re.search(rf"(^|[^A-Z]){tag}([^A-Z]|$)", name):
            return tag
    return "?"


class _Rubric:
    """The values the medec rubric accepts, read from the template (one source of truth)."""

    def __init__(self) -> None:
        form = load_template(RUBRIC_KEY)
        self.flags = [str(o.value) for o in form.question("error_flag").options]
        self.types = [str(o.value) for o in form.question("error_type").options]
        # "Causal Organism", "causal organism" and "causalOrganism" are the same type.
        self._types = {re.sub(r"[\s_-]", "", t).lower(): t for t in self.types}

    def error_type(self, value: str) -> str | None:
        return self._types.get(re.sub(r"[\s_-]", "", value).lower())


def _row(
    row: dict[str, str], line: int, path: Path, rubric: _Rubric, has_type: bool
) -> tuple[CaseRecord, OutputRecord, RatingRecord]:
    text_id = row.get("Text ID", "").strip()
    if _is_na(text_id):
        raise fail("column 'Text ID' is empty", path, line)
    if not _ID.fullmatch(text_id):
        raise fail(
            f"column 'Text ID': {shown(text_id)} is not an id (one line, at most 200 characters)",
            path,
            line,
        )

    def bad(column: str, reason: str) -> ImportFailed:
        return fail(f"column {column!r}: {reason}", path, line, text_id)

    split = split_sentences(row.get("Sentences", ""))
    if split is None or not split[1]:
        raise bad("Sentences", "expected one sentence per line, each starting with its id "
                  "(\"0 The patient ...\")")
    text, sentences = split
    by_id = {s.id: s for s in sentences}

    flag_text = row.get("Error Flag", "").strip()
    if flag_text not in rubric.flags:
        raise bad("Error Flag", f"must be {' or '.join(rubric.flags)}, got {shown(flag_text)}")
    flag = int(flag_text)
    type_text = row.get(TYPE_COLUMN, "").strip()
    sid_text = row.get("Error Sentence ID", "").strip()
    corrected = row.get("Corrected Sentence", "").strip()
    answers: dict[str, Any] = {"error_flag": flag}
    marks: tuple[dict[str, Any], ...] = ()
    if flag == 0:
        if has_type and not _is_na(type_text):
            raise bad(TYPE_COLUMN, f"is {shown(type_text)} but 'Error Flag' is 0 (expected NA)")
        if not (_is_na(sid_text) or sid_text == "-1"):
            raise bad(
                "Error Sentence ID", f"is {shown(sid_text)} but 'Error Flag' is 0 (expected -1)"
            )
        if not _is_na(corrected):
            raise bad("Corrected Sentence", "is given but 'Error Flag' is 0 (expected NA)")
    else:
        if has_type:
            error_type = rubric.error_type(type_text)
            if error_type is None:
                raise bad(
                    TYPE_COLUMN,
                    f"{shown(type_text)} is not a MEDEC error type; expected one of "
                    f"{', '.join(rubric.types)}",
                )
            answers["error_type"] = error_type
        ids = f"{sentences[0].id}-{sentences[-1].id}"
        if not re.fullmatch(r"\d{1,6}", sid_text) or int(sid_text) not in by_id:
            raise bad(
                "Error Sentence ID",
                f"{shown(sid_text)} is not a sentence of this note (its sentences are {ids})",
            )
        sentence = by_id[int(sid_text)]
        answers["error_sentence_id"] = sentence.id
        if not _is_na(corrected):
            answers["corrected_sentence"] = corrected
        marks = (
            {
                "question_id": "error_sentence_id",
                "span": {
                    "start": sentence.start,
                    "end": sentence.end,
                    "text": text[sentence.start:sentence.end],
                },
                "note": "The sentence MEDEC marks as erroneous.",
            },
        )

    collection = _collection(text_id, path)
    model = f"MEDEC-{collection}" if collection != "?" else "MEDEC"
    tags = ["medec"] + ([f"medec-{collection.lower()}"] if collection != "?" else [])
    case = CaseRecord(
        external_id=text_id,
        title=f"MEDEC {text_id}",
        messages=(
            Message("user", _PROMPT.format(text_id=text_id, collection=collection)),
        ),
        tags=tuple(tags),
        metadata={"benchmark": "MEDEC", "collection": collection, "text_id": text_id},
    )
    output = OutputRecord(
        case_external_id=text_id,
        model=model,
        text=text,
        external_id=text_id,
        metadata={
            "sentences": [{"id": s.id, "start": s.start, "end": s.end} for s in sentences]
        },
    )
    rating = RatingRecord(
        case_external_id=text_id,
        model=model,
        rater=RATER,
        rater_kind="physician",
        answers=answers,
        output_external_id=text_id,
        errors=marks,
    )
    return case, output, rating


def parse_medec(
    path: str | Path,
    *,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Cases, notes and ground-truth ratings of a MEDEC CSV, in file order.

    ``na`` adds missing-value markers to MEDEC's own ``NA``; ``encoding`` reads a file that
    is neither UTF-8 nor marked by a byte-order mark.
    """
    path = Path(path)
    header, rows = iter_csv(path, progress, token, encoding=encoding, na=na)
    with closing(rows):
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise fail(
                f"not a MEDEC file: missing column(s) {', '.join(map(repr, missing))}", path, 1
            )
        rubric = _Rubric()
        has_type = TYPE_COLUMN in header
        seen = Seen(path, "MEDEC text")
        source = str(path)
        for line, row in rows:
            case, output, rating = _row(row, line, path, rubric, has_type)
            content = (output.text, rating.answers)
            if seen.is_new(case.external_id, content, line, "a different note or ground truth"):
                yield Located(case, source, line)
                yield Located(output, source, line)
                yield Located(rating, source, line)
