"""How answers, gold labels and raters read on the study screens (plain text, no Qt)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medreview.domain.rubric import Question, QuestionKind
from medreview.errors import MedreviewError
from medreview.qt.option_text import caption_of_value, options_of

PROVENANCE_TEXT = {
    "adjudicated": "adjudicated",
    "unanimous": "unanimous",
    "majority": "majority",
    "single_rater": "single rater",
    "imported": "imported",
}


def _option_label(q: Question, value: Any) -> str:
    # The caption grading shows for this option (key and label), never the stored value.
    caption = caption_of_value(options_of(q), value)
    return caption if caption is not None else str(value)


def _error_entry(q: Question, e: Any) -> str:
    if not isinstance(e, dict):
        return str(e)
    cat = next((c.label for c in q.categories if c.id == e.get("category")),
               str(e.get("category")))
    if e.get("severity") is None:
        return cat
    sev = next((s.label for s in q.severities if s.value == e.get("severity")),
               str(e.get("severity")))
    return f"{cat} ({sev})"


def format_value(q: Question | None, value: Any) -> str:
    """A rating as a physician would say it: "Met", "4 · Good", "Omission (Major)"."""
    if value is None:
        return "—"
    if q is None:
        return str(value)
    kind = q.kind
    if kind is QuestionKind.CRITERION:
        return "Met" if value is True else "Not met" if value is False else str(value)
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        return _option_label(q, value)
    if kind is QuestionKind.MULTI_CHOICE:
        return ", ".join(_option_label(q, v) for v in value) if value else "None chosen"
    if kind is QuestionKind.ERROR:
        return "\n".join(_error_entry(q, e) for e in value) if value else "No errors found"
    if kind is QuestionKind.NUMBER and isinstance(value, int | float):
        return f"{value:g} {q.unit}".strip()
    return str(value)


def rater_labels(names: Iterable[str], pseudonyms: dict[str, str], hide: bool
                 ) -> dict[str, str]:
    """Column titles per rater: the names, or "Rater 1..n" numbered in pseudonym order (the
    order the pseudonymised exports use), never in name order."""
    names = list(dict.fromkeys(names))
    if not hide:
        return {n: n for n in names}
    ordered = sorted(names, key=lambda n: (pseudonyms.get(n, "~"), n))
    return {n: f"Rater {i}" for i, n in enumerate(ordered, start=1)}


def error_text(exc: BaseException) -> str:
    """The message to show for a failed operation (our errors name file/item and reason)."""
    if isinstance(exc, MedreviewError):
        return exc.message
    # A page damaged after the open-time check: one line, not the driver's SQL echo.
    from medreview.services.access import describe_storage_error

    storage = describe_storage_error(exc)
    if storage is not None:
        return storage
    return f"{type(exc).__name__}: {exc}"
