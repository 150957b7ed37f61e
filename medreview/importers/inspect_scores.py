"""inspect-ai scorer results → rubric questions and judge answers.

Each scorer of a log becomes a question ``inspect.<scorer>`` (a scorer whose value is a dict,
one question per key: ``inspect.<scorer>.<key>``), typed from every value the log holds:

* letters ``C``/``I``/``P``/``N`` (inspect's CORRECT, INCORRECT, PARTIAL, NOANSWER) → a
  single choice with those four options;
* booleans → a single choice ``yes``/``no``;
* numbers → a number (no bounds: a scorer's range is not declared in the log);
* anything else, or a mix → text (the value as JSON when it is not a string).

A value that is NaN (inspect's "no score") is no answer. The scorer's answers belong to a
judge rater named after the scorer, plus its grader model when the log names one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from medreview.domain.rubric import SCORER_TAG, Option, Question, QuestionKind

QUESTION_PREFIX = "inspect."
LETTERS = (
    Option("C", "Correct"),
    Option("I", "Incorrect"),
    Option("P", "Partially correct"),
    Option("N", "No answer"),
)
YES_NO = (Option("yes", "Yes"), Option("no", "No"))
_LETTER_VALUES = {o.value for o in LETTERS}
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")

Kind = str  # "letter" | "bool" | "number" | "text"


def value_kind(value: Any) -> Kind | None:
    """The kind of one score value; ``None`` for a missing one (null, NaN)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else "number"
    if isinstance(value, str) and value in _LETTER_VALUES:
        return "letter"
    return "text"


def _slug(text: str) -> str:
    slug = _NOT_ID.sub("_", text).strip("_.-")
    return slug or "score"


def question_id(scorer: str, key: str | None = None) -> str:
    qid = f"{QUESTION_PREFIX}{_slug(scorer)}"
    return f"{qid}.{_slug(key)}" if key is not None else qid


def parts(scorer: str, value: Any) -> list[tuple[str, str | None, Any]]:
    """(question id, dict key, value) of one score: a dict value answers one question per key."""
    if isinstance(value, dict):
        return [(question_id(scorer, str(k)), str(k), v) for k, v in value.items()]
    return [(question_id(scorer), None, value)]


@dataclass
class ScorerInfo:
    """What one pass over a log learnt about a scorer: its grader and the kinds of its values."""

    name: str
    grader: str | None = None
    kinds: dict[str, set[Kind]] = field(default_factory=dict)  # question id -> kinds seen
    keys: dict[str, str | None] = field(default_factory=dict)  # question id -> dict key

    def see(self, value: Any) -> None:
        for qid, key, v in parts(self.name, value):
            self.keys.setdefault(qid, key)
            kinds = self.kinds.setdefault(qid, set())
            kind = value_kind(v)
            if kind is not None:
                kinds.add(kind)

    def kind(self, qid: str) -> Kind:
        kinds = self.kinds.get(qid) or {"text"}
        return next(iter(kinds)) if len(kinds) == 1 else "text"

    @property
    def rater(self) -> str:
        return f"{self.name} ({self.grader})" if self.grader else self.name

    def questions(self) -> list[Question]:
        out = []
        for qid in self.kinds:
            key = self.keys.get(qid)
            label = f"{self.name} {key}" if key else self.name
            grader = f", graded by {self.grader}" if self.grader else ""
            kind = self.kind(qid)
            common: dict[str, Any] = {
                "id": qid,
                "prompt": f"inspect-ai scorer: {label}",
                "help": f"Imported from an inspect-ai log (scorer {self.name!r}{grader}).",
                "tags": (SCORER_TAG,),
            }
            if kind == "letter":
                out.append(Question(kind=QuestionKind.SINGLE_CHOICE, options=LETTERS, **common))
            elif kind == "bool":
                out.append(Question(kind=QuestionKind.SINGLE_CHOICE, options=YES_NO, **common))
            elif kind == "number":
                out.append(Question(kind=QuestionKind.NUMBER, **common))
            else:
                out.append(Question(kind=QuestionKind.TEXT, **common))
        return out


def convert(value: Any, kind: Kind) -> Any:
    """A score value as the answer of a question of ``kind``; ``None`` means no answer."""
    if value_kind(value) is None:
        return None
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "number":
        return value
    if kind == "letter":
        return value
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def grader_of(scorer_spec: Any, model_roles: Any) -> str | None:
    """The grader model of a scorer: its ``model`` option, else (for inspect's model-graded
    scorers only, which use it by default) the eval's ``grader`` model role."""
    if not isinstance(scorer_spec, dict):
        return None
    options = scorer_spec.get("options")
    model = options.get("model") if isinstance(options, dict) else None
    # A model given by name is a string; a Model object is logged as {"model": name, ...}.
    names = [_model_name(m) for m in (model if isinstance(model, list) else [model])]
    if names and all(names):
        return ", ".join(n for n in names if n)
    name = str(scorer_spec.get("name", ""))
    if isinstance(model_roles, dict) and name.startswith("model_graded"):
        return _model_name(model_roles.get("grader"))
    return None


def _model_name(model: Any) -> str | None:
    if isinstance(model, dict):
        model = model.get("model")
    return model[:200] if isinstance(model, str) and model else None
