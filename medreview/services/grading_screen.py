"""Qt-free helpers behind the grading screen: queue filters and counts, completeness,
live score, the pairwise partner of an item, and time on task.

Everything here is pure (no database, no Qt) so the screens stay thin and these rules are
tested on their own. The database use-cases themselves live in ``medreview.services.grading``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from medreview.domain.judgment import Annotation
from medreview.domain.queue_mark import queue_mark
from medreview.domain.rubric import Question, QuestionKind
from medreview.domain.scoring import form_score
from medreview.domain.validation import missing_required
from medreview.services.views import ItemView, QueueRow

StatusFilter = Literal["all", "todo", "done", "cannot", "flagged"]
# "cannot": the done items marked "cannot assess" (also under "done": finished work); last,
# so the other tabs keep their places.
STATUS_FILTERS: tuple[StatusFilter, ...] = ("todo", "done", "flagged", "all", "cannot")


@dataclass(frozen=True)
class QueueFilter:
    """What the queue pane shows: a status tab, optional tag and model, and a search text."""

    status: StatusFilter = "all"
    tag: str | None = None
    model: str | None = None  # a model name when identities are revealed, else a blind label
    text: str = ""
    reveal_models: bool = False
    only: frozenset[int] | None = None  # output ids a dashboard row asked to look at


def row_matches(row: QueueRow, f: QueueFilter) -> bool:
    if f.only is not None and row.output_id not in f.only:
        return False
    if f.status == "todo" and row.status == "done":
        return False
    if f.status == "done" and row.status != "done":
        return False
    if f.status == "cannot" and not is_cannot_assess(row):
        return False
    if f.status == "flagged" and not row.flagged:
        return False
    if f.tag and f.tag not in row.tags:
        return False
    if f.model and f.model != (row.model if f.reveal_models else row.blind_label):
        return False
    if f.text:
        needle = f.text.casefold()
        shown_model = row.model if f.reveal_models else row.blind_label
        hay = f"{row.case_external_id} {row.case_title} {shown_model} {' '.join(row.tags)}"
        if needle not in hay.casefold():
            return False
    return True


def filter_rows(rows: Sequence[QueueRow], f: QueueFilter) -> list[int]:
    """Indices of ``rows`` that pass ``f``, in queue order."""
    if f == QueueFilter(reveal_models=f.reveal_models):  # nothing to filter: skip the scan
        return list(range(len(rows)))
    return [i for i, r in enumerate(rows) if row_matches(r, f)]


@dataclass(frozen=True)
class QueueCounts:
    total: int
    done: int
    draft: int
    todo: int
    skipped: int
    flagged: int
    cannot_assess: int = 0  # of the done ones: finished, marked "cannot assess"

    @property
    def fraction_done(self) -> float:
        return self.done / self.total if self.total else 0.0


def count_queue(rows: Sequence[QueueRow]) -> QueueCounts:
    by: dict[str, int] = {"done": 0, "draft": 0, "todo": 0, "skipped": 0}
    flagged = cannot = 0
    for r in rows:
        by[r.status] = by.get(r.status, 0) + 1
        flagged += r.flagged
        cannot += is_cannot_assess(r)
    return QueueCounts(len(rows), by["done"], by["draft"], by["todo"], by["skipped"], flagged,
                       cannot)


def is_cannot_assess(row: QueueRow) -> bool:
    """A done item the rater marked "cannot assess" (a mark on any other status is stale)."""
    return row.status == "done" and bool(row.cannot_assess)


def recount(counts: QueueCounts, old: QueueRow, new: QueueRow) -> QueueCounts:
    """``counts`` after one row changed from ``old`` to ``new`` (a save): equal to
    ``count_queue`` over the changed rows, without walking them."""
    by = {"done": counts.done, "draft": counts.draft, "todo": counts.todo,
          "skipped": counts.skipped}
    for row, step in ((old, -1), (new, 1)):
        if row.status in by:  # count_queue's total covers any other status too
            by[row.status] += step
    return QueueCounts(counts.total, by["done"], by["draft"], by["todo"], by["skipped"],
                       counts.flagged - old.flagged + new.flagged,
                       counts.cannot_assess - is_cannot_assess(old) + is_cannot_assess(new))


def tags_of(rows: Sequence[QueueRow]) -> list[str]:
    return sorted({t for r in rows for t in r.tags})


def models_of(rows: Sequence[QueueRow], reveal: bool) -> list[str]:
    return sorted({r.model if reveal else r.blind_label for r in rows})


def next_open(rows: Sequence[QueueRow], order: Sequence[int], current: int | None) -> int | None:
    """The next row index in ``order`` after ``current`` that is not done (wrapping once).

    Falls back to the plain next row when everything is done, so "save and next" always moves.
    """
    if not order:
        return None
    start = order.index(current) + 1 if current in order else 0
    n = len(order)
    for k in range(n):
        idx = order[(start + k) % n]
        if idx != current and rows[idx].status != "done":
            return idx
    if current in order:
        pos = order.index(current)
        return order[pos + 1] if pos + 1 < n else None
    return order[0]


def with_status(
    row: QueueRow, status: str, flagged: bool, when: dt.datetime | None = None,
    answers: Mapping[str, Any] | None = None,
) -> QueueRow:
    """The queue row after a save (the queue is updated from the save result, not re-read);
    ``answers`` (the saved draft's) say whether it is marked "cannot assess" now."""
    mark = row.cannot_assess if answers is None else queue_mark(answers)
    return dataclasses.replace(row, status=status, flagged=flagged,
                               updated_at=when or dt.datetime.now(dt.UTC),
                               cannot_assess=mark if status == "done" else "")


def case_questions(item: ItemView) -> tuple[Question, ...]:
    form = item.form
    return item.case.criteria if form is not None and form.per_case_criteria else ()


def missing_for(item: ItemView, answers: Mapping[str, Any]) -> list[str]:
    """Required questions of the rubric, the case criteria and the taxonomy left unanswered."""
    missing: list[str] = []
    if item.form is not None:
        missing += missing_required(item.form, answers, case_questions(item))
    if item.taxonomy is not None:
        missing += missing_required(item.taxonomy, answers)
    return missing


def live_score(item: ItemView, answers: Mapping[str, Any]) -> float | None:
    """The item's score under the rubric's rule (HealthBench: per case, not clipped)."""
    if item.form is None:
        return None
    return form_score(item.form, answers, case_questions(item))


def has_pairwise(item: ItemView) -> bool:
    return any(q.kind is QuestionKind.PAIRWISE for q in item.questions())


def with_comparison(annotations: Sequence[Annotation], question_id: str, value: Any,
                    partner_id: int | None) -> tuple[Annotation, ...]:
    """The annotations with the pairwise question's record of which output was "B" replaced
    (or dropped when the answer is cleared or no partner is showing)."""
    kept = tuple(a for a in annotations
                 if not (a.question_id == question_id and a.compared_output_id is not None))
    if value is None or partner_id is None:
        return kept
    return (*kept, Annotation(question_id=question_id, compared_output_id=partner_id))


def pair_partner(rows: Sequence[QueueRow], output_id: int) -> int | None:
    """Another output of the same case (the "B" side of a side-by-side comparison)."""
    case_id = next((r.case_id for r in rows if r.output_id == output_id), None)
    if case_id is None:
        return None
    others = sorted((r.position, r.output_id) for r in rows
                    if r.case_id == case_id and r.output_id != output_id)
    return others[0][1] if others else None


class TimeOnTask:
    """Seconds spent on the current item while the window is active (clock injectable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, base: float = 0.0) -> None:
        self._clock = clock
        self._base = base
        self._started: float | None = None

    def start(self, base: float | None = None) -> None:
        if base is not None:
            self._base = base
        elif self._started is not None:
            return  # already running: keep counting from the first start
        self._started = self._clock()

    def pause(self) -> None:
        if self._started is not None:
            self._base += self._clock() - self._started
            self._started = None

    @property
    def seconds(self) -> float:
        running = self._clock() - self._started if self._started is not None else 0.0
        return round(self._base + running, 3)
