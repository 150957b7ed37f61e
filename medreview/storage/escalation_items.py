"""What both escalation readers need (``storage.escalations``' general state and
``storage.escalation_rows``' rules-only reading): the study-item kinds, chunked id lists,
the forms' questions, the training pairs and the seniors' open items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question
from medreview.storage.forms import form_from_row
from medreview.storage.models import FormRow, JudgmentRow, RaterRow, StudyItemRow

KIND = "escalation"
# Attention items are not study cases and are never escalated (``check_items``, the one rule);
# a rater's answers on their qualification items are training, not ratings of the study.
TRAINING = ("qualification",)

# ids per IN (...): below SQLite's bound-parameter limit (250,000 in this build, 32,766 in
# some) and PostgreSQL's 65,535; a 1M-revision merge's hook passed them all in one list.
IN_CHUNK = 30_000


def form_questions(s: Session) -> dict[str, Question]:
    """Every form's questions, the active forms' and the later versions' last."""
    out: dict[str, Question] = {}
    for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
        for q in form_from_row(row).questions:
            out[q.id] = q
    return out


def in_chunks(ids: Collection[int]) -> list[list[int]]:
    """``ids`` sorted, in lists short enough for one ``IN (...)`` each."""
    ordered = sorted(set(ids))
    return [ordered[at:at + IN_CHUNK] for at in range(0, len(ordered), IN_CHUNK)]


def kind_pairs(s: Session, kinds: Sequence[str]) -> set[tuple[int, int]]:
    return {(int(r), int(o)) for r, o in s.execute(
        select(StudyItemRow.rater_id, StudyItemRow.output_id)
        .where(StudyItemRow.kind.in_(list(kinds))))}


def open_counts(s: Session) -> dict[str, int]:
    """Senior -> escalated items they have not finished."""
    counts: Counter[str] = Counter()
    done = select(JudgmentRow.id).where(JudgmentRow.rater_id == StudyItemRow.rater_id,
                                        JudgmentRow.output_id == StudyItemRow.output_id,
                                        JudgmentRow.status == "done").exists()
    for (name,) in s.execute(select(RaterRow.name)
                             .join(StudyItemRow, StudyItemRow.rater_id == RaterRow.id)
                             .where(StudyItemRow.kind == KIND, ~done)):
        counts[name] += 1
    return dict(counts)
