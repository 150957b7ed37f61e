"""Each distinct answer of the long ratings table given an integer code while it is read
(``storage.ratings_read``); ``stats.answer_codes`` holds the codes for the statistics. No numpy
here: the reader imports this on every read.

Equal answers share a code by Python equality, as ``stats.coding.encode``'s dicts compare them
(``True == 1 == 1.0``; ``0.0 == -0.0``); None and NaN are ``MISSING``; unhashable answers (lists,
dicts) and distinct values past ``MAX_DISTINCT`` are ``OTHER``.
"""

from __future__ import annotations

from typing import Any

MISSING = -1  # None or NaN: no answer
OTHER = -2  # unhashable, or past MAX_DISTINCT: read from the objects instead
MAX_DISTINCT = 1 << 18  # distinct answers given a code (bounded: free text can be anything)


class ValueCoder(dict[Any, int]):
    """Answer -> its code, a new code for a new answer (``__missing__``: looked up in C)."""

    def __init__(self) -> None:
        super().__init__()
        self[None] = MISSING
        self.uniques: list[Any] = []

    def __missing__(self, value: Any) -> int:
        if value != value:  # NaN: missing (never stored: each NaN object is a new key)
            return MISSING
        if len(self.uniques) >= MAX_DISTINCT:
            return OTHER
        code = self[value] = len(self.uniques)
        self.uniques.append(value)
        return code

    def code(self, value: Any) -> int:
        """One answer's code (unhashable answers: ``OTHER``)."""
        try:
            return self[value]
        except TypeError:
            return OTHER
