"""Escalation rules: which items go to an additional senior rater, and to whom. Stdlib only.

The lead sets the rules in the project's settings (``settings["escalation"]``):

* ``severe``: a harm level. An item is escalated when a physician's finished judgment rates it
  at or above that level: an error of that severity or worse on an error question (the
  taxonomy's severity scale), or, with ``question``, an ordinal answer (a harm scale such as
  ``harm_extent``) at or above it. "At or above" compares numbers as numbers and otherwise
  follows the form's own order of the levels, mildest first.
* ``disagreement``: a share in [0, 1). An item rated by two or more physicians is escalated
  when the share of its questions on which they are not unanimous (``consensus.unanimous``,
  free-text questions left out) is *greater than* the threshold.
* ``seniors``: the senior raters, by name. The item goes to the senior with the fewest open
  escalations (ties: the lead's order) who has not rated, been assigned or been escalated the
  item already; never the same physician twice, and each item is escalated at most once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from medreview.domain import consensus
from medreview.domain.rubric import Question, QuestionKind
from medreview.errors import InputError

SETTINGS_KEY: Final = "escalation"
MAX_SENIORS: Final = 200
MAX_NAME: Final = 200

Level = str | int | float


@dataclass(frozen=True)
class SevereRule:
    """Harm at or above ``level``: on every error question whose severities list it, or on
    the one question ``question_id`` (an error or an ordinal question)."""

    level: Level
    question_id: str | None = None

    def text(self) -> str:
        return f"{self.question_id}:{self.level}" if self.question_id else str(self.level)


@dataclass(frozen=True)
class EscalationRules:
    severe: SevereRule | None = None
    disagreement: float | None = None
    seniors: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether anything can be escalated: a rule and someone to escalate to."""
        return bool(self.seniors) and (self.severe is not None or self.disagreement is not None)

    def to_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seniors": list(self.seniors)}
        if self.severe is not None:
            out["severe"] = {"level": self.severe.level}
            if self.severe.question_id:
                out["severe"]["question"] = self.severe.question_id
        if self.disagreement is not None:
            out["disagreement"] = self.disagreement
        return out

    def describe(self) -> str:
        parts = []
        if self.severe is not None:
            parts.append(f"severe harm at or above {self.severe.text()}")
        if self.disagreement is not None:
            parts.append(f"disagreement above {self.disagreement:g}")
        rules = " or ".join(parts) or "no rule"
        who = "; ".join(self.seniors) or "nobody"
        return f"{rules} → {who}"


@dataclass(frozen=True)
class Trigger:
    rule: str  # severe | disagreement
    value: float  # physicians with severe harm, or the disagreement share
    reason: str


def _level(value: Any, where: str) -> Level:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError("a severity level must be a number or a word", item=where)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("a severity level must be finite", item=where)
    if isinstance(value, str):
        word = value.strip()
        if not word or len(word) > MAX_NAME:
            raise InputError(f"a severity level is 1 to {MAX_NAME} characters", item=where)
        return word
    return int(value) if isinstance(value, int) else float(value)


def check_threshold(value: Any, where: str = "disagreement") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(float(value)) or not 0 <= float(value) < 1:
        raise InputError("the disagreement threshold is a share from 0 up to (not including) 1",
                         item=where)
    return float(value)


def check_seniors(names: Any, where: str = "seniors") -> tuple[str, ...]:
    if not isinstance(names, list | tuple):
        raise InputError("the senior raters are a list of names", item=where)
    if len(names) > MAX_SENIORS:
        raise InputError(f"at most {MAX_SENIORS} senior raters", item=where)
    out: list[str] = []
    for n in names:
        if not isinstance(n, str) or not n.strip() or len(n.strip()) > MAX_NAME:
            raise InputError(f"a senior rater's name is 1 to {MAX_NAME} characters", item=where)
        if n.strip() not in out:
            out.append(n.strip())
    return tuple(out)


def rules_from_settings(raw: Any) -> EscalationRules:
    """The rules stored in ``settings["escalation"]`` (none: no rules). A project file is
    input like any other: anything malformed is one ``InputError`` naming the field."""
    if raw is None:
        return EscalationRules()
    if not isinstance(raw, dict):
        raise InputError("the escalation settings are not an object", item=SETTINGS_KEY)
    severe = None
    if raw.get("severe") is not None:
        s = raw["severe"]
        if not isinstance(s, dict) or "level" not in s:
            raise InputError("severe needs a level", item=f"{SETTINGS_KEY}.severe")
        question = s.get("question")
        if question is not None and (not isinstance(question, str) or not question.strip()
                                     or len(question) > MAX_NAME):
            raise InputError("severe.question must be a question id",
                             item=f"{SETTINGS_KEY}.severe.question")
        severe = SevereRule(_level(s["level"], f"{SETTINGS_KEY}.severe.level"),
                            question.strip() if question else None)
    disagreement = None
    if raw.get("disagreement") is not None:
        disagreement = check_threshold(raw["disagreement"], f"{SETTINGS_KEY}.disagreement")
    seniors = check_seniors(raw.get("seniors", []), f"{SETTINGS_KEY}.seniors")
    return EscalationRules(severe, disagreement, seniors)


# --- the rules applied to one item --------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _same_level(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return str(a) == str(b)


def _at_or_above(value: Any, level: Level, scale: Sequence[Any]) -> bool:
    """``value`` is at least ``level`` on ``scale`` (option values, mildest first)."""
    if _is_number(value) and _is_number(level):
        return float(value) >= float(level)
    ranks = [i for i, v in enumerate(scale) if _same_level(v, level)]
    mine = [i for i, v in enumerate(scale) if _same_level(v, value)]
    return bool(ranks and mine) and mine[0] >= ranks[0]


def severe_questions(questions: Mapping[str, Question], rule: SevereRule) -> list[Question]:
    """The questions ``rule`` reads: the one it names, else each error question whose
    severity scale has its level."""
    if rule.question_id is not None:
        q = questions.get(rule.question_id)
        return [q] if q is not None and q.kind in (QuestionKind.ERROR,
                                                   QuestionKind.ORDINAL) else []
    return [q for q in questions.values() if q.kind is QuestionKind.ERROR
            and any(_same_level(o.value, rule.level) for o in q.severities)]


def check_rule(questions: Mapping[str, Question], rule: SevereRule) -> None:
    """Refuse a level no question of the project can reach (it would never fire)."""
    qs = severe_questions(questions, rule)
    if rule.question_id is not None:
        if not qs:
            raise InputError("no error or ordinal question with this id in the project",
                             item=rule.question_id)
        q = qs[0]
        scale = [o.value for o in (q.severities if q.kind is QuestionKind.ERROR else q.options)]
        if not any(_same_level(v, rule.level) for v in scale):
            raise InputError(f"{rule.level} is not a level of {q.id}; levels: "
                             + ", ".join(str(v) for v in scale), item=rule.question_id)
        return
    if not qs:
        levels = sorted({str(o.value) for q in questions.values()
                         if q.kind is QuestionKind.ERROR for o in q.severities})
        raise InputError(f"no error question has the severity {rule.level}; levels: "
                         + (", ".join(levels) or "none (the project has no error question)"),
                         item="severe")


def _severe(q: Question, value: Any, rule: SevereRule) -> bool:
    if q.kind is QuestionKind.ERROR:
        scale = [o.value for o in q.severities]
        return any(isinstance(e, dict) and _at_or_above(e.get("severity"), rule.level, scale)
                   for e in (value if isinstance(value, list) else []))
    return value is not None and _at_or_above(value, rule.level, [o.value for o in q.options])


def severe_raters(ratings: Mapping[str, Mapping[str, Any]], questions: Mapping[str, Question],
                  rule: SevereRule) -> set[str]:
    """The raters whose answers to one item reach the rule's level. ``ratings`` is question id
    -> rater -> value as ``consensus.physician_ratings`` reads them."""
    out: set[str] = set()
    for q in severe_questions(questions, rule):
        for rater, value in ratings.get(q.id, {}).items():
            if _severe(q, value, rule):
                out.add(rater)
    return out


def disagreement_share(ratings: Mapping[str, Mapping[str, Any]],
                       questions: Mapping[str, Question]) -> float | None:
    """The share of an item's questions answered by two or more raters on which they are not
    unanimous (free text left out); None if no question has two answers."""
    compared = split = 0
    for qid, by_rater in ratings.items():
        q = questions.get(qid)
        if q is None or q.kind is QuestionKind.TEXT or len(by_rater) < 2:
            continue
        compared += 1
        if not consensus.unanimous(list(by_rater.values()), q.kind):
            split += 1
    return split / compared if compared else None


def triggers(ratings: Mapping[str, Mapping[str, Any]], questions: Mapping[str, Question],
             rules: EscalationRules) -> list[Trigger]:
    """The rules one item meets, with their one-line reasons."""
    severe = 0 if rules.severe is None else len(severe_raters(ratings, questions, rules.severe))
    share = None if rules.disagreement is None else disagreement_share(ratings, questions)
    return found_triggers(severe, share, rules)


def found_triggers(severe: int, share: float | None, rules: EscalationRules) -> list[Trigger]:
    """The triggers of ``severe`` physicians rating severe harm and a disagreement ``share``
    (None: no question compared), with their reasons."""
    out: list[Trigger] = []
    if severe:
        out.append(Trigger("severe", float(severe), f"severe harm rated by {severe} physician"
                                                     f"{'' if severe == 1 else 's'}"))
    if rules.disagreement is not None and share is not None and share > rules.disagreement:
        out.append(Trigger("disagreement", share,
                           f"disagreement {share:.2f} > {rules.disagreement:g}"))
    return out


def reason_text(found: Sequence[Trigger]) -> str:
    """The one line the senior rater and the lead see."""
    return "; ".join(t.reason for t in found)


def choose_senior(seniors: Sequence[str], open_escalations: Mapping[str, int],
                  excluded: set[str] | frozenset[str]) -> str | None:
    """The senior with the fewest open escalations (ties: the lead's order) who is not in
    ``excluded`` (has rated, been assigned or been escalated the item); None if nobody is
    left."""
    free = [(open_escalations.get(name, 0), i, name) for i, name in enumerate(seniors)
            if name not in excluded]
    return min(free)[2] if free else None


# --- planning a run over many items ------------------------------------------------------------


@dataclass(frozen=True)
class EscalationState:
    """What the planner needs, read in the transaction that writes its plan."""

    ratings: Mapping[int, Mapping[str, Mapping[str, Any]]]  # output -> question -> rater -> value
    questions: Mapping[str, Question]
    involved: Mapping[int, frozenset[str]]  # output -> raters who rated, hold or were given it
    open_escalations: Mapping[str, int]  # senior -> escalated items not yet done


@dataclass(frozen=True)
class PlannedEscalation:
    output_id: int
    senior: str | None  # None: every senior has the item already (nothing is written)
    reason: str


def plan(state: EscalationState, rules: EscalationRules) -> list[PlannedEscalation]:
    """The items the rules escalate, in output order, each to the senior ``choose_senior``
    picks as the earlier items of this run are counted."""
    if not rules.active:
        return []
    fired = [(oid, found) for oid in sorted(state.ratings)
             if (found := triggers(state.ratings[oid], state.questions, rules))]
    return give_seniors(fired, rules, state.involved, state.open_escalations)


def give_seniors(fired: Sequence[tuple[int, Sequence[Trigger]]], rules: EscalationRules,
                 involved: Mapping[int, frozenset[str]], open_escalations: Mapping[str, int]
                 ) -> list[PlannedEscalation]:
    """The items that met a rule (in output order), each to the senior ``choose_senior``
    picks as the earlier items of this run are counted."""
    load = dict(open_escalations)
    out: list[PlannedEscalation] = []
    for oid, found in fired:
        senior = choose_senior(rules.seniors, load, involved.get(oid, frozenset()))
        if senior is not None:
            load[senior] = load.get(senior, 0) + 1
        out.append(PlannedEscalation(oid, senior, reason_text(found)))
    return out
