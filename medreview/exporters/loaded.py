"""What one export run reads, each thing read once and handed to every exporter that needs it.

The training bundle's kinds (sft, dpo, criteria) and the explanation of an empty file read
the same cases, outputs, gold labels, current answers and questions: at 100k judgments each
read costs seconds, and each used to be made again by every builder. ``ExportData`` reads each
on first use (a run that needs no gold reads none) and keeps it for the rest of the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import Any

from medreview.domain import consensus
from medreview.domain.rubric import Form, Question
from medreview.domain.scoring import form_score
from medreview.errors import InputError
from medreview.storage.check_items import project_attention_ids
from medreview.storage.exports import (
    CurrentAnswer,
    ExportCase,
    ExportOutput,
    GoldLabel,
    cases_and_outputs,
    current_answers,
    first_rationales,
    gold_by_output,
    output_cases,
    output_window,
    rater_names,
    window_answers,
    window_rationales,
)
from medreview.storage.form_lookup import active_forms
from medreview.storage.project import Project
from medreview.storage.questions import project_questions


class ExportData:
    """The project's export inputs, read lazily, once each (one export run: no writes
    between its reads are expected; each read is its own snapshot, as before)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._scores: dict[str | None, dict[int, float]] = {}
        self._window: _Window | None = None

    @cached_property
    def forms(self) -> tuple[Form, Form | None]:
        rubric, taxonomy = active_forms(self.project)
        if rubric is None:
            raise InputError("the project has no rubric; nothing to export against")
        return rubric.form, taxonomy.form if taxonomy else None

    @cached_property
    def _cases_outputs(self) -> tuple[dict[int, ExportCase], dict[int, ExportOutput]]:
        return cases_and_outputs(self.project)

    @property
    def cases(self) -> dict[int, ExportCase]:
        return self._cases_outputs[0]

    @property
    def outputs(self) -> dict[int, ExportOutput]:
        return self._cases_outputs[1]

    @cached_property
    def attention(self) -> frozenset[int]:
        """The attention items (never exported), read once."""
        return project_attention_ids(self.project)

    @cached_property
    def output_cases(self) -> dict[int, int]:
        """Output id -> case id, every output (in id order)."""
        return output_cases(self.project)

    @cached_property
    def by_case(self) -> dict[int, list[int]]:
        """Case id -> its outputs' ids, in id order."""
        by_case: dict[int, list[int]] = defaultdict(list)
        for oid, cid in self.output_cases.items():
            by_case[cid].append(oid)
        return by_case

    @cached_property
    def gold(self) -> GoldStream:
        """Output -> question -> the newest gold label (``exporters.gold.gold_labels``), read
        in output id order each time it is gone through (a million outputs' labels are GBs)."""
        return GoldStream(self.project)

    def output(self, output_id: int) -> ExportOutput | None:
        """One output (and, by ``case``, its case), from a window of ``WINDOW`` outputs read
        together: callers go through the outputs in id order."""
        return self._window_of(output_id).outputs.get(output_id)

    def _window_of(self, output_id: int) -> _Window:
        window = self._window
        if window is None or not window.holds(output_id):
            window = self._window = _Window(self.project, output_id, self.attention)
        return window

    def case(self, case_id: int) -> ExportCase:
        """The case of an output of the current window (``output``)."""
        assert self._window is not None
        return self._window.cases[case_id]

    def fallback_rationale(self, output_id: int) -> str | None:
        """``fallback_rationales`` of an output of the current window."""
        return self._window_of(output_id).rationales.get(output_id)

    @cached_property
    def answers(self) -> list[CurrentAnswer]:
        """Finished judgments' newest revisions (``tables.current_revisions``'s rows)."""
        return current_answers(self.project)

    @cached_property
    def questions(self) -> dict[str, Question]:
        return project_questions(self.project)

    @cached_property
    def raters(self) -> list[tuple[str, str]]:
        return rater_names(self.project)

    @cached_property
    def fallback_rationales(self) -> dict[int, str]:
        """A physician's rationale per output (the first finished one), when gold has none."""
        return first_rationales(self.project)  # no answers parsed for this

    @cached_property
    def compared(self) -> dict[tuple[int, str], int]:
        """(output, pairwise question) → the output the raters saw as "B": the most common
        one their current answers record (ties: the lowest id)."""
        return compared_outputs_of(self.answers)

    def compared_of(self, output_id: int) -> dict[str, int]:
        """``compared``'s entries of one output, by question (from its window's answers)."""
        window = self._window_of(output_id)
        start, end = window.spans.get(output_id, (0, 0))
        return {qid: other for (_oid, qid), other in
                compared_outputs_of(window.answers[start:end]).items()}

    def physician_labels(self, output_id: int, *, pseudonymise: bool
                         ) -> dict[tuple[int, str], dict[str, Any]]:
        """``exporters.gold.physician_labels``' entries of one output (computed from that
        output's judgments alone, as there; read with its window's, ``output``)."""
        window = self._window_of(output_id)
        start, end = window.spans.get(output_id, (0, 0))
        answers = window.answers
        return consensus.physician_ratings(
            (r.as_revision() for r in answers[start:end] if r.rater_kind == "physician"),
            self.questions, pseudonymise=pseudonymise, keep_unknown=True)

    def keep_scores(self, score_question: str | None, scores: dict[int, float]) -> None:
        """``scores`` of ``score_question``, computed by a pass that read the gold anyway."""
        self._scores[score_question] = scores

    def scores(self, score_question: str | None) -> dict[int, float]:
        """``training.gold_scores``, computed once per score question."""
        found = self._scores.get(score_question)
        if found is None:
            found = self._scores[score_question] = scores_of(self, score_question)
        return found


def compared_outputs_of(answers: Iterable[CurrentAnswer]) -> dict[tuple[int, str], int]:
    """``ExportData.compared`` of these answers."""
    votes: dict[tuple[int, str], Counter[int]] = defaultdict(Counter)
    for r in answers:
        for a in r.annotations or ():
            if isinstance(a, dict) and a.get("compared_output_id") is not None \
                    and a.get("question_id"):
                votes[(r.output_id, a["question_id"])][int(a["compared_output_id"])] += 1
    return {k: min(c, key=lambda oid: (-c[oid], oid)) for k, c in votes.items()}


WINDOW = 20_000  # outputs read together (tests make it small)


class GoldStream:
    """The newest gold labels by output, read again (in output id order) each time they
    are gone through: ``items()`` as a dict's, and the output ids."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def items(self) -> Iterator[tuple[int, dict[str, GoldLabel]]]:
        return gold_by_output(self.project)

    def __iter__(self) -> Iterator[int]:
        return (oid for oid, _labels in self.items())


class _Window:
    """``WINDOW`` outputs from one id on, their cases, their finished judgments' answers
    (read when first asked for) and the physicians' first rationales."""

    def __init__(self, project: Project, first: int, attention: frozenset[int]) -> None:
        self.project, self._attention = project, attention
        self.outputs, self.cases = output_window(project, first, WINDOW)
        self.first = first
        # the last window (fewer outputs): every later id is in it (there is none)
        self.last = max(self.outputs, default=first) if len(self.outputs) >= WINDOW else None
        self.rationales = window_rationales(project, self.first, self.last, attention)
        self._answers: list[CurrentAnswer] | None = None
        self._spans: dict[int, tuple[int, int]] = {}

    def holds(self, output_id: int) -> bool:
        return self.first <= output_id and (self.last is None or output_id <= self.last)

    @property
    def answers(self) -> list[CurrentAnswer]:
        if self._answers is None:
            self._answers = window_answers(self.project, self.first, self.last,
                                           self._attention)
            self._spans = _spans(self._answers)
        return self._answers

    @property
    def spans(self) -> dict[int, tuple[int, int]]:
        _ = self.answers
        return self._spans


def _spans(answers: list[CurrentAnswer]) -> dict[int, tuple[int, int]]:
    """Output -> the slice of ``answers`` holding its judgments (they come by output)."""
    spans: dict[int, tuple[int, int]] = {}
    start = 0
    for i in range(1, len(answers) + 1):
        if i == len(answers) or answers[i].output_id != answers[start].output_id:
            spans[answers[start].output_id] = (start, i)
            start = i
    return spans


def scores_of(data: ExportData, score_question: str | None) -> dict[int, float]:
    """``training.gold_scores`` from what the run read (``ExportData.scores`` keeps the
    result)."""
    score = score_maker(data, score_question)
    scores: dict[int, float] = {}
    for oid, gold in data.gold.items():
        found = score(oid, gold)
        if found is not None:
            scores[oid] = found
    return scores


def score_maker(data: ExportData, score_question: str | None
                ) -> Callable[[int, dict[str, GoldLabel]], float | None]:
    """The gold score of one output (None: none), for a pass over the gold labels in output
    id order."""
    rubric, _tax = data.forms

    def score(oid: int, gold: dict[str, GoldLabel]) -> float | None:
        output = data.output(oid)
        if output is None:
            return None
        if score_question is not None:
            g = gold.get(score_question)
            if g is not None and isinstance(g.value, int | float) and not isinstance(
                    g.value, bool):
                return float(g.value)
            return None
        criteria = data.case(output.case_id).criteria
        if any(q.id not in gold for q in criteria):
            return None
        return form_score(rubric, {q: g.value for q, g in gold.items()}, criteria)

    return score
