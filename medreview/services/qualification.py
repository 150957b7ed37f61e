"""The qualification round for the lead and the grading screen (``medreview qualify``, the
Study menu's Qualification dialog, the feedback panel): set it up, waive a rater, read the
status with 95 % Wilson intervals per question, and the gold next to a rater's answers.

The storage layer is imported by the first call (on the database thread), not with this
module: the screens import it and must start without SQLAlchemy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medreview.domain.changes import Changes

if TYPE_CHECKING:
    from medreview.storage.project import Project
    from medreview.storage.qualification import Compared as Compared
    from medreview.storage.qualification import QualificationStatus

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of k successes in n trials (None without trials)."""
    if n <= 0:
        return None
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@dataclass(frozen=True)
class QuestionRow:
    question_id: str
    matched: int
    total: int
    ci: tuple[float, float] | None

    @property
    def score(self) -> float | None:
        return self.matched / self.total if self.total else None


@dataclass(frozen=True)
class RaterRound:
    """One rater's round as the lead reads it."""

    rater: str
    items: int
    done: int
    score: float | None
    ci: tuple[float, float] | None
    pass_mark: float
    state: str  # in progress | passed | failed | waived
    per_question: tuple[QuestionRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rater": self.rater, "items": self.items, "done": self.done,
                "score": self.score, "ci": list(self.ci) if self.ci else None,
                "pass_mark": self.pass_mark, "state": self.state,
                "per_question": [{"question_id": q.question_id, "matched": q.matched,
                                  "total": q.total, "score": q.score,
                                  "ci": list(q.ci) if q.ci else None}
                                 for q in self.per_question]}


def _round_of(st: QualificationStatus) -> RaterRound:
    return RaterRound(
        st.rater, len(st.items), st.done, st.score, wilson(st.matched, st.total),
        st.pass_mark, st.state,
        tuple(QuestionRow(q.question_id, q.matched, q.total, wilson(q.matched, q.total))
              for q in st.per_question))


def round_status(project: Project) -> list[RaterRound]:
    """Every rater of the round, by name."""
    from medreview.storage import qualification

    return [_round_of(st) for st in qualification.round_status(project)]


@dataclass(frozen=True)
class RoundSummary:
    added: int
    created_raters: tuple[str, ...]
    items: tuple[int, ...]
    pass_mark: float


def set_up_round(project: Project, raters: tuple[str, ...], *, output_ids: tuple[int, ...] = (),
                 from_gold: int | None = None, seed: int = 0, pass_mark: float | None = None,
                 by: str = "") -> tuple[RoundSummary, Changes]:
    """Give ``raters`` the qualification items: ``output_ids``, or ``from_gold`` gold outputs
    drawn with ``seed``."""
    from medreview.errors import InputError
    from medreview.storage import qualification

    if bool(output_ids) == (from_gold is not None):
        raise InputError("choose the qualification items: --outputs ID,... or --from-gold N")
    ids = tuple(output_ids) if output_ids else tuple(
        qualification.choose_gold(project, int(from_gold or 0), seed))
    written = qualification.set_round(project, raters, ids, pass_mark=pass_mark, by=by)
    return (RoundSummary(written.added, written.created_raters, ids, written.settings.pass_mark),
            Changes(queue=frozenset(ids), raters=True, project=True))


def waive(project: Project, rater: str) -> Changes:
    from medreview.storage import qualification

    qualification.waive(project, rater)
    return Changes(project=True)


def gold_outputs(project: Project) -> int:
    """How many outputs have gold labels (the most a round can draw)."""
    from medreview.storage import qualification

    return qualification.gold_output_count(project)


def queue_line(project: Project, rater_id: int) -> str | None:
    """The grading screen's one line while the rater's queue is closed, else None."""
    from medreview.storage import qualification

    st = qualification.rater_status(project, rater_id)
    if st is None or st.is_open:
        return None
    return st.line()


def feedback(project: Project, rater_id: int, output_id: int) -> list[Compared] | None:
    """The gold next to the rater's answers for a finished qualification item, else None."""
    from medreview.storage import qualification

    return qualification.feedback(project, rater_id, output_id)


@dataclass(frozen=True)
class LeadView:
    """What the Qualification dialog shows: physicians, gold outputs, the round so far."""

    physicians: tuple[str, ...]
    gold_outputs: int
    rounds: tuple[RaterRound, ...]


def lead_view(project: Project) -> LeadView:
    from medreview.storage.raters import list_raters

    return LeadView(tuple(r.name for r in list_raters(project, "physician")),
                    gold_outputs(project), tuple(round_status(project)))
