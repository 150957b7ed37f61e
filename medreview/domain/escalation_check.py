"""The escalation rules one item meets, from its physicians' answers as stored. Stdlib only.

``escalation.triggers`` reads ``consensus.physician_ratings``: every question's answers of every
item, each compared through its ``consensus.answer_key`` (JSON text per value). After a merge
the rules run on every merged item, and that cost more than the merge. ``RuleCheck`` gives the
same triggers from the same rows while building only what the rules read:

* the severe rule reads the questions ``escalation.severe_questions`` names, per row;
* the disagreement rule needs two raters on a question: an item with fewer than two assessed
  rows has no share, and its rows are looked at for the severe rule only;
* two answers are compared by type and value where that provably decides what their
  ``answer_key`` would (same-type text, booleans, integers within a float's exact range, two
  empty error sets); any other pair goes through ``consensus.unanimous`` itself.

Which rows of an item reach here (finished, physicians', not training, not attention items, not
already escalated) and the project's questions are the caller's, as for ``physician_ratings``:
``form_questions`` are the forms' questions, ``criterion_ids`` the case criteria's question ids
(each a criterion question, shadowing a form question of the same id, as a later row does in
``storage.escalations._questions``). ``tests/storage/test_escalation_fast.py`` compares the
plans with the reading kept from before on randomized projects.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from medreview.domain import consensus
from medreview.domain.escalation import (
    EscalationRules,
    Trigger,
    _same_level,
    _severe,
    found_triggers,
    severe_questions,
)
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, assessed_answers
from medreview.domain.rubric import Question, QuestionKind

ERROR: Final = QuestionKind.ERROR
TEXT: Final = QuestionKind.TEXT
CRITERION: Final = QuestionKind.CRITERION
_EXACT: Final = 2 ** 53  # integers up to this size are equal exactly when their floats are

# One physician's row of an item: (the rater, answers, annotations) as the columns give them.
Row = tuple[Any, Any, Any]


class RuleCheck:
    """``escalation.triggers`` of one item's rows under fixed rules and questions."""

    def __init__(self, rules: EscalationRules, form_questions: Mapping[str, Question],
                 criterion_ids: Collection[str]) -> None:
        crit = frozenset(criterion_ids)
        shown = {qid: q for qid, q in form_questions.items() if qid not in crit}
        self.rules = rules
        self.kinds: dict[str, QuestionKind] = {qid: q.kind for qid, q in shown.items()}
        self.kinds.update(dict.fromkeys(crit, CRITERION))
        self.error_ids = tuple(qid for qid, q in shown.items() if q.kind is ERROR)
        # the questions compared by value; an id starting with "_" is read from the answers
        # only when an annotation names it: such (hostile) forms take the general reading
        self.plain = frozenset(qid for qid, k in self.kinds.items() if k not in (ERROR, TEXT))
        self.odd = any(qid.startswith("_") for qid in self.kinds)
        self.severe = () if rules.severe is None else tuple(severe_questions(shown, rules.severe))
        self.compare = rules.disagreement is not None
        self.needles = self._needles()

    def _needles(self) -> tuple[str, ...] | None:
        """Text a stored row must hold (or a backslash: an escape may spell it otherwise) for
        the severe rule to find anything in it; None: every row may."""
        out: list[str] = []
        for q in self.severe:
            if q.kind is ERROR:
                # an error entry without a severity reads as None: only a level spelt "None"
                # could take it as severe
                if any(_same_level(o.value, None) for o in q.severities):
                    return None
                out.append("severity")
            else:
                out.append(q.id)  # its answer is under its id
        return tuple(dict.fromkeys(out))

    def may_be_severe(self, answers_text: Any, notes_text: Any) -> bool:
        """Whether a row given as its stored JSON texts (annotations None: none) can count for
        the severe rule (a necessary condition, never a sufficient one); anything but text
        can."""
        needles = self.needles
        if not self.severe:
            return False
        if needles is None:
            return True
        for text in (answers_text,) if notes_text is None else (answers_text, notes_text):
            if text.__class__ is not str or "\\" in text or any(n in text for n in needles):
                return True
        return False

    def triggers(self, rows: Sequence[Row]) -> list[Trigger]:
        """The rules the item of ``rows`` meets, as ``escalation.triggers`` gives them on the
        ratings ``consensus.physician_ratings`` makes of the same rows."""
        if len(rows) == 2 and self.compare and not self.odd:
            found = self._plain_pair(rows[0][1], rows[0][2], rows[1][1], rows[1][2])
            if found is not None:
                return found
        assessed: list[_Assessed] = []
        for _rater, answers, notes in rows:
            raw = answers if answers.__class__ is dict else dict(answers or {})
            if CANNOT_ASSESS_KEY in raw:
                continue  # not a rating (physician_ratings skips it)
            if NOT_APPLICABLE in raw.values():  # assessed_answers' own test
                kept = assessed_answers(raw)
                na: Collection[str] = frozenset(raw) - frozenset(kept)
            else:
                kept, na = raw, _NONE
            marks = notes if notes.__class__ is list else list(notes or [])
            noted = {str(a["question_id"]) for a in marks
                     if isinstance(a, dict) and isinstance(a.get("question_id"), str)} \
                if marks else _NONE
            assessed.append((kept, na, marks, noted))
        severe = 0
        if self.severe:
            for row in assessed:
                severe += self._severe_row(*row)
        share = self._share(assessed) if self.compare and len(assessed) > 1 else None
        return found_triggers(severe, share, self.rules) if severe or share else []

    def _plain_pair(self, a: Any, notes_a: Any, b: Any, notes_b: Any) -> list[Trigger] | None:
        """``triggers`` of the usual item: two assessed rows with no annotation and no
        not-applicable answer (None: not such an item)."""
        if a.__class__ is not dict or b.__class__ is not dict or notes_a or notes_b \
                or CANNOT_ASSESS_KEY in a or CANNOT_ASSESS_KEY in b \
                or NOT_APPLICABLE in a.values() or NOT_APPLICABLE in b.values():
            return None
        one: _Assessed = (a, _NONE, [], _NONE)
        other: _Assessed = (b, _NONE, [], _NONE)
        severe = self._severe_row(*one) + self._severe_row(*other) if self.severe else 0
        share = self._pair_share(one, other)
        return found_triggers(severe, share, self.rules) if severe or share else []

    def _severe_row(self, answers: dict[str, Any], na: Collection[str], marks: list[Any],
                    noted: Collection[str]) -> bool:
        rule = self.rules.severe
        assert rule is not None
        for q in self.severe:
            qid = q.id
            if qid in na or not (qid in noted or (qid in answers and not qid.startswith("_"))):
                continue  # no rating of q (an error question unrated reads [], never severe)
            if q.kind is ERROR:
                value: Any = consensus.rating_value(q, answers, marks)
            else:
                value = answers.get(qid)
                if value is None:
                    continue
            if _severe(q, value, rule):
                return True
        return False

    def _values(self, answers: dict[str, Any], na: Collection[str], marks: list[Any],
                noted: Collection[str]) -> dict[str, Any]:
        """Question id -> this row's rating, for the questions the share compares."""
        if self.odd:
            return self._values_general(answers, na, marks, noted)
        plain = self.plain
        out = {k: v for k, v in answers.items() if k in plain and v is not None}
        for qid in self.error_ids:
            if qid not in na:
                out[qid] = consensus._errors_of(qid, answers, marks) \
                    if qid in answers or qid in noted else []
        return out

    def _values_general(self, answers: dict[str, Any], na: Collection[str], marks: list[Any],
                        noted: Collection[str]) -> dict[str, Any]:
        kinds = self.kinds
        qids = {k for k in answers if not k.startswith("_")} | set(noted)
        out: dict[str, Any] = {}
        for qid in qids:
            kind = kinds.get(qid)
            if kind is None or kind is TEXT or qid in na:
                continue
            if kind is ERROR:
                out[qid] = consensus._errors_of(qid, answers, marks)
            elif answers.get(qid) is not None:
                out[qid] = answers[qid]
        for qid in self.error_ids:
            if qid not in na and qid not in qids:
                out[qid] = []
        return out

    def _share(self, assessed: Sequence[_Assessed]) -> float | None:
        kinds = self.kinds
        compared = split = 0
        if len(assessed) == 2 and not self.odd:
            return self._pair_share(*assessed)
        values: dict[str, list[Any]] = {}
        for row in assessed:
            for qid, v in self._values(*row).items():
                values.setdefault(qid, []).append(v)
        for qid, given in values.items():
            if len(given) > 1:
                compared += 1
                if not _unanimous(given, kinds[qid]):
                    split += 1
        return split / compared if compared else None

    def _pair_share(self, one: _Assessed, other: _Assessed) -> float | None:
        """``_share`` of the usual item, two physicians' rows, on forms with no odd ids
        (``_values`` of each compared in place: no rating is None)."""
        kinds, plain = self.kinds, self.plain
        a, na_a, marks_a, noted_a = one
        b, na_b, marks_b, noted_b = other
        compared = split = 0
        for qid, va in a.items():
            if va is None or qid not in plain:
                continue
            vb = b.get(qid)
            if vb is None:
                continue
            compared += 1
            kind = va.__class__
            if kind is vb.__class__ and (kind is str or kind is bool or (
                    kind is int and -_EXACT <= va <= _EXACT and -_EXACT <= vb <= _EXACT)):
                split += va != vb  # _same's cases of text, booleans and integers, inline
            elif not _unanimous((va, vb), kinds[qid]):
                split += 1
        for qid in self.error_ids:
            if qid in na_a or qid in na_b:
                continue
            compared += 1
            ea = consensus._errors_of(qid, a, marks_a) if qid in a or qid in noted_a else []
            eb = consensus._errors_of(qid, b, marks_b) if qid in b or qid in noted_b else []
            if (ea or eb) and not _unanimous((ea, eb), ERROR):
                split += 1
        return split / compared if compared else None


_NONE: Final[frozenset[str]] = frozenset()
# a row that is a rating: its answers (not applicable ones left out), the not-applicable
# question ids, its annotations and the question ids they name
_Assessed = tuple[dict[str, Any], Collection[str], list[Any], Collection[str]]


def _same(a: Any, b: Any, kind: QuestionKind) -> bool | None:
    """Whether ``answer_key(kind, a) == answer_key(kind, b)`` when the types decide it
    cheaply, else None."""
    ta = a.__class__
    if ta is not b.__class__:
        return None
    if ta is str or ta is bool:  # JSON text of equal-typed text or booleans: equal iff equal
        return bool(a == b)
    if ta is int:
        return bool(a == b) if -_EXACT <= a <= _EXACT and -_EXACT <= b <= _EXACT else None
    if ta is list and kind is ERROR and not a and not b:
        return True  # two empty error sets
    return None


def _unanimous(values: Sequence[Any], kind: QuestionKind) -> bool:
    """``consensus.unanimous(values, kind)``."""
    first = values[0]
    for v in values[1:]:
        same = _same(first, v, kind)
        if same is None:
            return consensus.unanimous(list(values), kind)
        if not same:
            return False
    return True
