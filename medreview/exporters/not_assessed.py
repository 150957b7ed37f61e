"""How exports write "not applicable" and "cannot assess" (``domain.not_assessed``).

* The judgments table (one row per answer): a not-applicable answer's value is ``N/A``; a
  cannot-assess judgment is one row, question ``_cannot_assess``, whose value is the reason in
  words ("Outside my specialty", "Other: no vitals"): the answers typed before the rater gave
  up are not ratings and are not exported as such.
* The audit history (one row per revision): columns ``cannot_assess`` (the reason in words,
  blank when assessed) and ``not_applicable`` (the question ids answered N/A, ``;``-joined)
  beside the stored answers, which stay exactly as saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from medreview.domain.not_assessed import (
    CANNOT_ASSESS_KEY,
    NA_TEXT,
    cannot_assess_of,
    is_not_applicable,
)

if TYPE_CHECKING:
    import pandas as pd


def label_judgments(df: pd.DataFrame) -> pd.DataFrame:
    """The judgments table (``ratings_long(keep_not_assessed=True)``) as exports write it."""
    if df.empty:
        return df
    import pandas as pd

    is_ca = (df["question_id"] == CANNOT_ASSESS_KEY).to_numpy(dtype=bool)
    if is_ca.any():
        marked = pd.MultiIndex.from_arrays([df["output_id"][is_ca], df["rater"][is_ca]])
        pairs = pd.MultiIndex.from_arrays([df["output_id"], df["rater"]])
        df = df[~pairs.isin(marked) | is_ca].copy()
        rows = df["question_id"] == CANNOT_ASSESS_KEY
        df.loc[rows, "value"] = [_reason_text(v) for v in df.loc[rows, "value"]]
    na = df["value"].map(is_not_applicable).to_numpy(dtype=bool)
    if na.any():
        df = df.copy()
        df.loc[na, "value"] = NA_TEXT
    return df


def _reason_text(value: Any) -> str:
    found = cannot_assess_of({CANNOT_ASSESS_KEY: value})
    return found.label if found is not None else ""


AUDIT_COLUMNS = ("cannot_assess", "not_applicable")


def audit_columns(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The audit history rows with ``cannot_assess`` and ``not_applicable`` added."""
    return [{**h, **dict(zip(AUDIT_COLUMNS, audit_values(h.get("answers")), strict=True))}
            for h in history]


def audit_values(answers: Any) -> tuple[str, str]:
    """A revision's ``cannot_assess`` (the reason in words, blank when assessed) and
    ``not_applicable`` (the ids answered N/A, ``;``-joined) from its stored answers."""
    answers = answers if isinstance(answers, Mapping) else {}
    found = cannot_assess_of(answers)
    return (found.label if found is not None else "",
            ";".join(sorted(str(k) for k, v in answers.items() if is_not_applicable(v))))
