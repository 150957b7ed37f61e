"""Who may read other raters' comments on an item. Stdlib only; the one rule every screen's
read goes through (``storage.comments.visible_comments``).

A comment is what a physician wrote with their judgment: the rationale and the notes on their
marks (error spans, image regions). The rule:

* a rater sees no other rater's comment on an item until they have submitted (status done)
  their own judgment of it: their judgment stays independent;
* once they have, they see the comments of the others who have submitted too, blinded as
  "Rater 1", "Rater 2", … (numbered in a fixed order per item), never names and never a draft;
* an adjudicator (``rater.is_adjudicator``, or the lead's adjudication screen) sees every
  physician's comment, drafts included, with names.

Judges' explanations are not comments of raters: they stay in the judge's screens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

HIDDEN_UNTIL_SUBMIT: Final = ("Other raters' comments are shown once you have submitted your "
                              "own judgment of this item.")


@dataclass(frozen=True)
class RaterComment:
    """One physician's comment on an item, as stored (their judgment's newest revision)."""

    rater_id: int
    rater: str
    status: str  # their judgment's status: draft | done | skipped
    rationale: str
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.rationale.strip() and not any(n.strip() for n in self.notes)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a rater (their id, whether they adjudicate, whether their own judgment
    of this item is submitted), or the lead's adjudication screen (``rater_id`` None)."""

    rater_id: int | None
    adjudicator: bool
    submitted: bool


@dataclass(frozen=True)
class ShownComment:
    label: str  # "Rater 1", … or, for an adjudicator, the name
    status: str
    rationale: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CommentsView:
    comments: tuple[ShownComment, ...]
    hidden: str = ""  # one line saying why nothing is shown, or ""


def visible_comments(viewer: Viewer, comments: Sequence[RaterComment]) -> CommentsView:
    """The comments ``viewer`` may read on one item (see the module's rule)."""
    others = sorted((c for c in comments if c.rater_id != viewer.rater_id and not c.empty),
                    key=lambda c: c.rater_id)
    if viewer.adjudicator:
        return CommentsView(tuple(ShownComment(c.rater, c.status, c.rationale, c.notes)
                                  for c in others))
    if not viewer.submitted:
        return CommentsView((), HIDDEN_UNTIL_SUBMIT)
    done = [c for c in others if c.status == "done"]
    return CommentsView(tuple(ShownComment(f"Rater {n}", c.status, c.rationale, c.notes)
                              for n, c in enumerate(done, start=1)))
