"""What the rater's queue shows of an item marked "cannot assess": its reason, in one line."""

from __future__ import annotations

from medreview.domain.not_assessed import cannot_assess_of

REASON_CHARS = 300  # of the reason and note kept for the queue's tooltip


def queue_mark(answers: object) -> str:
    """The reason (and note) of a cannot-assess item; "" when the rater assessed it."""
    found = cannot_assess_of(answers)
    if found is None:
        return ""
    label = " ".join(found.label.split()) or "no reason given"  # a note's newlines folded
    return label if len(label) <= REASON_CHARS else label[: REASON_CHARS - 1] + "…"
