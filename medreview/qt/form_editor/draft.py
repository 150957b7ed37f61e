"""The editor's working copy of a form: the canonical mapping (what ``form_to_dict`` writes and
the loader reads), edited in place by the widgets and validated whole by the loader.

Holding the mapping rather than a ``Form`` lets the editor keep a half-made question (an empty
prompt, a penalty of 0 points) on screen with the loader's message beside it, exactly as a YAML
file with that mistake would be refused. No Qt here.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Final

from medreview.domain.rubric import Form, FormKind, QuestionKind
from medreview.rubrics.schema import COMMON_QUESTION_KEYS, KIND_KEYS, PAIRWISE_VALUES

# Labels for the kinds, in the order the "Add question" menu lists them.
KIND_LABELS: dict[QuestionKind, str] = {
    QuestionKind.CRITERION: "Criterion (met / not met, points)",
    QuestionKind.ORDINAL: "Scale (ordinal)",
    QuestionKind.SINGLE_CHOICE: "Single choice",
    QuestionKind.MULTI_CHOICE: "Multiple choice",
    QuestionKind.ERROR: "Errors (categories, severities)",
    QuestionKind.NUMBER: "Number",
    QuestionKind.TEXT: "Text",
    QuestionKind.PAIRWISE: "Pairwise (A / B / tie)",
}

_PATH = re.compile(r"^questions\[(\d+)\]")


def blank_form(kind: FormKind, key: str = "") -> dict[str, Any]:
    name = "New rubric" if kind is FormKind.RUBRIC else "New error taxonomy"
    return {"format": "medreview-form/1", "key": key or f"my_{kind.value}", "version": 1,
            "name": name, "kind": kind.value, "questions": []}


def from_form(form: Form) -> dict[str, Any]:
    return copy.deepcopy(form.to_dict())


def _free_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def new_question(kind: QuestionKind, taken: set[str]) -> dict[str, Any]:
    """A question of ``kind`` that loads as it is (ids kept unique), ready to be reworded."""
    q: dict[str, Any] = {"id": _free_id(kind.value, taken), "type": kind.value,
                         "prompt": KIND_LABELS[kind].split(" (")[0]}
    if kind is QuestionKind.CRITERION:
        q["points"] = 1
    elif kind is QuestionKind.ORDINAL:
        q["options"] = [{"value": i, "label": f"Level {i}"} for i in (1, 2, 3)]
    elif kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTI_CHOICE):
        q["options"] = [{"value": "a", "label": "Option A"}, {"value": "b", "label": "Option B"}]
    elif kind is QuestionKind.ERROR:
        q["categories"] = [{"id": "error", "label": "Error"}]
        q["severities"] = [{"value": "minor", "label": "Minor"},
                           {"value": "major", "label": "Major"}]
    return q


# Kinds that "not applicable" can never answer (an error list is answered by "no errors").
NO_NA_KINDS: Final = frozenset({QuestionKind.ERROR, QuestionKind.TEXT})


def na_default(kind: QuestionKind) -> bool:
    """Whether "not applicable" answers a question of ``kind`` without ``allow_na`` set
    (``domain.not_assessed.na_allowed``: criteria yes, other kinds no)."""
    return kind is QuestionKind.CRITERION


def change_kind(q: dict[str, Any], kind: QuestionKind, taken: set[str]) -> dict[str, Any]:
    """``q`` as a question of ``kind``: common fields kept, the new kind's fields added, and
    fields of the old kind dropped (the loader refuses fields that do not apply)."""
    fresh = new_question(kind, taken)
    out = {k: v for k, v in q.items() if k in COMMON_QUESTION_KEYS}
    if kind in NO_NA_KINDS:  # the loader refuses "not applicable" on these
        out.pop("allow_na", None)
    out["type"] = kind.value
    for key in KIND_KEYS[kind]:
        if key in q and _fits(kind, key, q[key]):
            out[key] = q[key]
        elif key in fresh:
            out[key] = fresh[key]
    return out


def _fits(kind: QuestionKind, key: str, value: Any) -> bool:
    """Whether the old kind's ``options`` still make sense for the new kind."""
    if key != "options" or not isinstance(value, list):
        return True
    values = [o.get("value") for o in value if isinstance(o, dict)]
    if kind is QuestionKind.ORDINAL:
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if kind is QuestionKind.PAIRWISE:
        return set(values) <= set(PAIRWISE_VALUES)
    return True


def question_index(path: str | None) -> int | None:
    """The question a loader field path points into (``questions[3].options[1]`` -> 3)."""
    m = _PATH.match(path or "")
    return int(m.group(1)) if m else None


def cell_value(text: str, kind: QuestionKind, before: Any = None) -> Any:
    """A stored option value from what was typed in a cell.

    Scales are numbers; a choice keeps the type it had (``1`` stays a number, ``"1"`` text),
    and a new one is text. What cannot be read as wanted is kept as typed, so the loader says
    what is wrong with it.
    """
    if before is not None and (before if isinstance(before, str) else show_number(before)) == text:
        return before  # untouched: keep 3.0 as 3.0, so an unchanged form hashes the same
    number = parse_number(text)
    if kind is QuestionKind.ORDINAL:
        return number if number is not None else text
    if isinstance(before, int | float) and not isinstance(before, bool) and number is not None:
        return number
    return text


def parse_number(text: str) -> int | float | None:
    t = text.strip()
    if not t:
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def show_number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def join_tags(tags: list[Any]) -> str:
    return ", ".join(str(t) for t in tags)
