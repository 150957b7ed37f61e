"""Rubric and taxonomy definitions as frozen values.

A *form* (rubric or taxonomy) is an ordered list of questions. Parsing and validation of the
file format live in ``medreview.rubrics``; this module is the in-memory shape every layer uses.

Answer values, by question kind (what a judgment stores under the question id):

============== ==============================================================
kind           answer value
============== ==============================================================
criterion      ``True`` (met) / ``False`` (not met)
ordinal        the chosen option's ``value`` (a number)
single_choice  the chosen option's ``value``
multi_choice   list of chosen option values
error          list of error entries ``{"category", "severity", "span"?, "region"?, "note"?}``
number         a number
text           a string
pairwise       ``"A"``, ``"B"`` or ``"tie"``
============== ==============================================================

Per-case criteria (HealthBench) are criterion questions whose id is ``criterion:<key>``; they
are not in the form itself but attached to each case (``per_case_criteria=True``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

CASE_CRITERION_PREFIX = "criterion:"


class QuestionKind(StrEnum):
    CRITERION = "criterion"
    ORDINAL = "ordinal"
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    ERROR = "error"
    NUMBER = "number"
    TEXT = "text"
    PAIRWISE = "pairwise"


class FormKind(StrEnum):
    RUBRIC = "rubric"
    TAXONOMY = "taxonomy"


@dataclass(frozen=True)
class Option:
    """A scale point or choice: ``value`` is stored, ``label`` is shown."""

    value: str | int | float
    label: str
    description: str = ""


@dataclass(frozen=True)
class ErrorCategory:
    id: str
    label: str
    description: str = ""
    group: str = ""


# A question with this tag holds an automatic scorer's answers (an inspect-ai scorer): judges
# and imports answer it, physicians are never asked it.
SCORER_TAG: Final = "inspect-scorer"


@dataclass(frozen=True)
class Question:
    """One question of a form. Fields that do not apply to a kind keep their defaults."""

    id: str
    kind: QuestionKind
    prompt: str
    help: str = ""
    required: bool = False
    points: float | None = None  # criterion: signed points (negative = penalty)
    options: tuple[Option, ...] = ()  # ordinal, single_choice, multi_choice, pairwise
    categories: tuple[ErrorCategory, ...] = ()  # error
    severities: tuple[Option, ...] = ()  # error
    minimum: float | None = None  # number
    maximum: float | None = None  # number
    unit: str = ""  # number
    tags: tuple[str, ...] = ()
    # "not applicable" allowed? None = the default of ``domain.not_assessed.na_allowed``.
    allow_na: bool | None = None

    @property
    def is_case_criterion(self) -> bool:
        return self.id.startswith(CASE_CRITERION_PREFIX)

    @property
    def is_scorer_only(self) -> bool:
        return SCORER_TAG in self.tags

    def option_values(self) -> list[str | int | float]:
        return [o.value for o in self.options]


@dataclass(frozen=True)
class Form:
    """A rubric or taxonomy at one version."""

    key: str
    version: int
    name: str
    kind: FormKind
    questions: tuple[Question, ...]
    description: str = ""
    per_case_criteria: bool = False
    scoring: str | None = None  # "healthbench" = points met / positive points
    references: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def to_dict(self) -> dict[str, Any]:
        """The canonical file form (what ``medreview.rubrics.load`` reads back)."""
        return form_to_dict(self)

    @property
    def sha256(self) -> str:
        """Hash of the canonical definition: the identity of a version's content."""
        payload = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def case_criterion_question(
    key: str, text: str, points: float, tags: tuple[str, ...] = ()
) -> Question:
    """The criterion question shown for a per-case criterion."""
    return Question(
        id=f"{CASE_CRITERION_PREFIX}{key}",
        kind=QuestionKind.CRITERION,
        prompt=text,
        points=points,
        required=True,
        tags=tags,
    )


def _option_to_dict(o: Option) -> dict[str, Any]:
    d: dict[str, Any] = {"value": o.value, "label": o.label}
    if o.description:
        d["description"] = o.description
    return d


def question_to_dict(q: Question) -> dict[str, Any]:
    d: dict[str, Any] = {"id": q.id, "type": q.kind.value, "prompt": q.prompt}
    if q.help:
        d["help"] = q.help
    if q.required:
        d["required"] = True
    if q.points is not None:
        d["points"] = q.points
    if q.options:
        d["options"] = [_option_to_dict(o) for o in q.options]
    if q.categories:
        d["categories"] = [
            {
                k: v
                for k, v in (
                    ("id", c.id),
                    ("label", c.label),
                    ("description", c.description),
                    ("group", c.group),
                )
                if v
            }
            for c in q.categories
        ]
    if q.severities:
        d["severities"] = [_option_to_dict(o) for o in q.severities]
    if q.minimum is not None:
        d["minimum"] = q.minimum
    if q.maximum is not None:
        d["maximum"] = q.maximum
    if q.unit:
        d["unit"] = q.unit
    if q.tags:
        d["tags"] = list(q.tags)
    if q.allow_na is not None:
        d["allow_na"] = q.allow_na
    return d


def form_to_dict(form: Form) -> dict[str, Any]:
    d: dict[str, Any] = {
        "format": "medreview-form/1",
        "key": form.key,
        "version": form.version,
        "name": form.name,
        "kind": form.kind.value,
    }
    if form.description:
        d["description"] = form.description
    if form.per_case_criteria:
        d["per_case_criteria"] = True
    if form.scoring:
        d["scoring"] = form.scoring
    if form.references:
        d["references"] = list(form.references)
    if form.extra:
        d["extra"] = form.extra
    d["questions"] = [question_to_dict(q) for q in form.questions]
    return d
