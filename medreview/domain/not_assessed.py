""""Cannot assess" (per item, with a reason) and "not applicable" (per question). Stdlib only.

Both live in a revision's answers JSON, so no column or migration is needed and every path
that copies answers (packages, merges, undo, the audit trail) carries them unchanged:

* **Not applicable** is the answer value ``NOT_APPLICABLE`` (``"_n/a"``) under the question's
  id. It answers a required question. Whether a question admits it is ``na_allowed``: the
  rubric's ``allow_na`` when set, else yes for criteria (met / not met; HealthBench criteria
  often do not apply to a case) and no for every other kind.
* **Cannot assess** is the reserved key ``CANNOT_ASSESS_KEY`` (``"_cannot_assess"``) holding
  ``{"reason": <one of REASONS>, "note": <text>}``; ``other`` needs a note. Question ids
  never start with ``_`` (``rubrics.schema.ID_PATTERN``), so the key cannot meet a question.
  The item counts as done without its required answers; answers typed before are kept (the
  rater may change their mind) but nothing reads them as ratings.

Both are *not ratings*: the statistics read path (``storage.ratings_read``) and the physician
answers of adjudication and gold (``domain.consensus.physician_ratings``) map them to missing
through ``assessed_answers``, so no agreement, judge or calibration denominator counts them;
``NotAssessedTally`` counts them on the way for the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from medreview.domain.rubric import Question, QuestionKind

NOT_APPLICABLE: Final = "_n/a"
CANNOT_ASSESS_KEY: Final = "_cannot_assess"

# reason id -> label shown to raters and in reports, in the order the dialog lists them.
REASONS: Final[dict[str, str]] = {
    "missing_context": "Missing context",
    "ambiguous_question": "Ambiguous question",
    "outside_specialty": "Outside my specialty",
    "other": "Other",
}
NOTE_MAX: Final = 2000  # characters of the free-text note (a hostile package cannot bloat it)

# How a value reads in exports and in prior-rating imports ("N/A", "cannot assess").
NA_TEXT: Final = "N/A"
NA_WORDS: Final = frozenset({"n/a", "not applicable", "not_applicable", "na"})
CANNOT_WORDS: Final = frozenset({"cannot assess", "cannot_assess", "cannot-assess",
                                 "can't assess", "unable to assess"})


@dataclass(frozen=True)
class CannotAssess:
    reason: str
    note: str = ""

    def to_value(self) -> dict[str, str]:
        return {"reason": self.reason, "note": self.note}

    @property
    def label(self) -> str:
        """One line for the item view and exports: "Other: no images attached"."""
        text = REASONS.get(self.reason, self.reason)
        return f"{text}: {self.note}" if self.note else text


def is_not_applicable(value: Any) -> bool:
    return isinstance(value, str) and value == NOT_APPLICABLE


def na_allowed(question: Question) -> bool:
    """May ``question`` be answered "not applicable"? (See the module docstring.)"""
    if question.allow_na is not None:
        return question.allow_na
    return question.kind is QuestionKind.CRITERION


def check_cannot_assess(value: Any) -> str | None:
    """Why ``value`` is not a valid cannot-assess entry, or ``None`` if it is."""
    if not isinstance(value, Mapping):
        return "cannot assess must be a mapping with a reason"
    unknown = sorted(str(k) for k in value if k not in ("reason", "note"))
    if unknown:
        return f"cannot assess has unknown field(s) {', '.join(map(repr, unknown))}"
    reason, note = value.get("reason"), value.get("note", "")
    if not isinstance(reason, str) or reason not in REASONS:
        return f"cannot assess reason {reason!r} is not one of {', '.join(REASONS)}"
    if not isinstance(note, str):
        return "cannot assess note must be text"
    if len(note) > NOTE_MAX:
        return f"cannot assess note is longer than {NOTE_MAX} characters"
    if reason == "other" and not note.strip():
        return "cannot assess for reason 'other' needs a note saying why"
    return None


def cannot_assess_value(reason: str, note: str = "") -> dict[str, str]:
    """The stored entry; ``ValueError`` with a one-line reason when it is not valid."""
    value = {"reason": reason, "note": note.strip()}
    problem = check_cannot_assess(value)
    if problem:
        raise ValueError(problem)
    return value


def cannot_assess_of(answers: Mapping[str, Any] | Any) -> CannotAssess | None:
    """The item's cannot-assess entry, or ``None`` when the rater assessed it. An entry that
    is not valid (a hostile file) still marks the item: its reason reads as given, in text."""
    if not isinstance(answers, Mapping) or CANNOT_ASSESS_KEY not in answers:
        return None
    value = answers[CANNOT_ASSESS_KEY]
    if isinstance(value, Mapping):
        note = value.get("note", "")
        return CannotAssess(str(value.get("reason", ""))[:100],
                            note[:NOTE_MAX] if isinstance(note, str) else "")
    return CannotAssess(str(value)[:100])


def assessed_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers that are ratings: none for a cannot-assess item, else every answer but the
    not-applicable ones. Returns ``answers`` itself when nothing is dropped (the common case
    on the statistics' read path, which reads millions)."""
    if CANNOT_ASSESS_KEY in answers:
        return {}
    if NOT_APPLICABLE not in answers.values():
        return answers
    return {k: v for k, v in answers.items() if not is_not_applicable(v)}


# The columns of ``NotAssessedTally.rows`` (the stats report's ``not_assessed`` table).
NOT_ASSESSED_COLUMNS: Final = ("what", "rater_kind", "question_id", "reason", "label", "count")

# The mark of a cannot-assess item in ``NotAssessedTally.marks``: every question of it.
ALL_QUESTIONS: Final = frozenset({"*"})


class NotAssessedTally:
    """Counts what ``assessed_answers`` drops, for the reports: not-applicable answers per
    (rater kind, question) and cannot-assess items per (rater kind, reason). With ``marks``
    it also keeps each physician's mark per item (the judge evaluation asks whether a judge
    abstains where a physician could not assess): ``marks[(output_id, rater)]`` is the set
    of question ids answered "not applicable", or ``ALL_QUESTIONS`` for cannot assess."""

    def __init__(self, *, marks: bool = False) -> None:
        self.not_applicable: Counter[tuple[str, str]] = Counter()
        self.cannot_assess: Counter[tuple[str, str]] = Counter()
        self.marks: dict[tuple[Any, Any], frozenset[str]] | None = {} if marks else None

    def take(self, answers: dict[str, Any], rater_kind: str,
             item: tuple[Any, Any] | None = None) -> dict[str, Any]:
        """``assessed_answers(answers)``, counting what it leaves out; ``item`` is the
        (output id, rater) the answers belong to."""
        kept = assessed_answers(answers)
        if kept is answers:
            return kept
        keep_mark = self.marks is not None and item is not None and rater_kind == "physician"
        found = cannot_assess_of(answers)
        if found is not None:
            self.cannot_assess[(rater_kind, found.reason)] += 1
            if keep_mark:
                self.marks[item] = ALL_QUESTIONS  # type: ignore[index]
            return kept
        na = frozenset(qid for qid, v in answers.items() if is_not_applicable(v))
        for qid in na:
            self.not_applicable[(rater_kind, qid)] += 1
        if keep_mark:
            self.marks[item] = na  # type: ignore[index]
        return kept

    def rows(self) -> list[dict[str, Any]]:
        """One row per count: ``what`` is ``not_applicable`` (with ``question_id``) or
        ``cannot_assess`` (with ``reason`` and its ``label``)."""
        out: list[dict[str, Any]] = [
            {"what": "not_applicable", "rater_kind": kind, "question_id": qid, "reason": "",
             "label": NA_TEXT, "count": n}
            for (kind, qid), n in sorted(self.not_applicable.items())]
        out += [
            {"what": "cannot_assess", "rater_kind": kind, "question_id": "", "reason": reason,
             "label": REASONS.get(reason, reason), "count": n}
            for (kind, reason), n in sorted(self.cannot_assess.items())]
        return out


def cannot_assess_from_text(text: str) -> dict[str, str]:
    """A cannot-assess entry from a cell of an imported file: a reason id or label as the
    reason ("outside_specialty", "Outside my specialty"), else reason ``other`` with the text
    as its note (so nothing the file said is lost)."""
    stripped = text.strip()
    low = stripped.lower()
    for reason, label in REASONS.items():
        if low in (reason, label.lower()) and reason != "other":
            return {"reason": reason, "note": ""}
    return {"reason": "other", "note": (stripped or "cannot assess")[:NOTE_MAX]}


def word_of(value: Any) -> str | None:
    """``NOT_APPLICABLE`` or ``CANNOT_ASSESS_KEY`` when an imported value is one of the words
    for it ("N/A", "not applicable"; "cannot assess"), else ``None``."""
    if not isinstance(value, str):
        return None
    low = value.strip().lower()
    if low in NA_WORDS or value == NOT_APPLICABLE:
        return NOT_APPLICABLE
    if low in CANNOT_WORDS:
        return CANNOT_ASSESS_KEY
    return None


ALL_ROWS: Final = "*"  # in ``marks_by_rater``: a cannot-assess mark stands for every question


def marks_by_rater(revisions: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """question id (or ``ALL_ROWS``) -> physician -> what they said instead of an answer:
    "N/A", or "cannot assess (reason)", from ``storage.tables.current_revisions`` rows — so
    the adjudicator sees who did not rate, and why, next to the ratings."""
    out: dict[str, dict[str, str]] = {}
    for r in revisions:
        if r.get("rater_kind") != "physician" or not isinstance(r.get("answers"), Mapping):
            continue
        answers, rater = r["answers"], str(r["rater"])
        mark = cannot_assess_of(answers)
        if mark is not None:
            out.setdefault(ALL_ROWS, {})[rater] = f"cannot assess ({mark.label})"
            continue
        for qid, value in answers.items():
            if is_not_applicable(value):
                out.setdefault(str(qid), {})[rater] = NA_TEXT
    return out
