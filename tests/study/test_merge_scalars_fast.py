"""merge_checks.scalars_fine (the merge's fast yes for a revision's plain values) never says
yes where check_scalars refuses, and says yes for the usual rows."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace
from typing import Any

from medreview.study.merge_checks import Invalid, check_scalars, scalars_fine

NUMBERS: list[Any] = [None, 0.0, 0.5, 0, 1, 1.0, 1.5, -0.1, -0.0, 7, 3600.0, 10 ** 400,
                      float("nan"), float("inf"), float("-inf"), True, False, "0.5", [0.5]]
FIELDS = {
    "rationale": ["", "ok", "x" * 100_000, "x" * 100_001, None, 5, ["a"]],
    "confidence": NUMBERS,
    "overall_score": NUMBERS,
    "time_on_task_s": NUMBERS,
    "flagged": [True, False, 0, 1, None, "true"],
    "skipped": [True, False, 0, None],
    "status": ["draft", "done", "skipped", "Done", "", None, 1, ("done",)],
}


def _passes(row: SimpleNamespace) -> bool | type[BaseException]:
    try:
        check_scalars(**vars(row))
    except Invalid:
        return False
    except Exception as exc:  # an int past a float's range, as the check meets it
        return type(exc)
    return True


def test_a_fast_yes_only_where_the_full_check_passes() -> None:
    rng = random.Random(3)
    said_yes = 0
    for _ in range(4000):
        # Most fields from their first (valid) values, so many rows pass.
        row = SimpleNamespace(**{k: rng.choice(v[:3] if rng.random() < 0.7 else v)
                                 for k, v in FIELDS.items()})
        if scalars_fine(row):
            assert _passes(row) is True, vars(row)
            said_yes += 1
    assert said_yes > 200


def test_usual_rows_take_the_fast_path() -> None:
    for conf, score, tot, status in itertools.product(
            (None, 0.0, 0.8, 1.0), (None, 0.0, -2.5, 12.0), (0.0, 41.5), ("draft", "done")):
        row = SimpleNamespace(rationale="why", confidence=conf, overall_score=score,
                              time_on_task_s=tot, flagged=False, skipped=True, status=status)
        assert scalars_fine(row) and _passes(row) is True
