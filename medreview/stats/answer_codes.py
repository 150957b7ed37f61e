"""The long table's answers as integer codes, made once while reading (issue #17, item 2).

Every items x raters table of a question used to be built from the answers as Python objects
and coded again (physicians, judge, each physician, ceiling): hashing objects was most of what
the statistics spent at a million judgments. ``ValueCoder`` gives each distinct answer a code
as the table is read (one dict look-up in C per answer); ``AnswerCodes`` keeps those codes
beside the frame they describe (not in it: the judgments export writes that frame column for
column). The statistics take a question's codes by row position and turn them into category
codes or floats with a look-up table over the distinct values.

The codes' rules are ``stats.value_codes``'; an ``OTHER`` answer, or one outside a question's
declared categories, sends that question down the object path.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from medreview.stats.value_codes import MISSING, ValueCoder

NOT_DECLARED = -3  # in a category look-up: an answer outside the declared categories
_EXACT = 2.0 ** 53  # ints up to this convert to float exactly (as the object path's floats)

I32 = npt.NDArray[np.int32]
_FULL_LUT = 4096  # distinct answers up to which a category list gets a table over all
_LUTS = 16  # such tables kept (one per category list; the latest)


class AnswerCodes:
    """Per row of one long ratings frame, its answer's code (int32, ``MISSING``, ``OTHER``),
    and the distinct answers the codes name. Only valid for the very frame it was made with
    (``of``): a filtered or rebuilt frame has other rows."""

    def __init__(self, frame: Any, codes: I32, uniques: Sequence[Any]) -> None:
        if len(codes) != len(frame):
            raise ValueError("one code per row of the frame")
        self.codes = codes
        self.uniques = list(uniques)
        self._frame = weakref.ref(frame)
        self._luts: dict[tuple[Any, ...], I32] = {}
        self._floats: npt.NDArray[np.float64] | None = None
        self._exact: npt.NDArray[np.bool_] | None = None

    def of(self, frame: Any) -> bool:
        """Whether these are ``frame``'s codes (the same object, same length)."""
        return len(self.codes) == len(frame) and self._frame() is frame

    def category_codes(self, codes: Any, categories: Sequence[Any]) -> I32 | None:
        """``codes`` (some rows' answer codes) as declared category codes: ``MISSING``
        stays, ``OTHER`` and answers not among the categories are ``NOT_DECLARED``; None
        when the categories repeat a value (``encode`` reports that).

        With few distinct answers, by a look-up table over all of them (kept for the
        latest few category lists); with many (free text beside the rubric's answers), only
        the distinct codes present are looked up: no table per question and answer, which a
        project of thousands of questions with their own option lists would multiply."""
        from medreview.stats.coding import _key

        cats = tuple(categories)
        index = {_key(c): i for i, c in enumerate(cats)}
        if len(index) != len(cats):
            return None
        if len(self.uniques) <= _FULL_LUT:
            lut = self._luts.get(cats)
            if lut is None:
                if len(self._luts) >= _LUTS:
                    self._luts.clear()
                lut = self._luts[cats] = self._lut(index, self.uniques)
            out: I32 = lut[codes]  # (OTHER and MISSING read the last two entries)
            return out
        present = np.unique(codes[codes >= 0])
        lut = self._lut(index, [self.uniques[u] for u in present.tolist()])
        at = np.searchsorted(present, codes)
        at[codes < 0] = codes[codes < 0]  # (OTHER and MISSING: the last two entries)
        out = lut[at]
        return out

    @staticmethod
    def _lut(index: dict[Any, int], values: Sequence[Any]) -> I32:
        from medreview.stats.coding import _key

        lut = np.fromiter((index.get(_key(u), NOT_DECLARED) for u in values),
                          dtype=np.int32, count=len(values))
        return np.concatenate([lut, np.array([NOT_DECLARED, MISSING], dtype=np.int32)])

    def float_lut(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Indexed by code (``OTHER`` and ``MISSING``: the last two entries): ``float(answer)``
        for bool, int and float answers, NaN for the rest (as ``project._as_floats``), and
        whether the answer is a number whose float is exact (an int beyond 2**53 is not: the
        object path keeps it an int)."""
        if self._floats is None or self._exact is None:
            n = len(self.uniques)
            floats = np.full(n + 2, np.nan)
            exact = np.zeros(n + 2, dtype=bool)
            exact[-1] = True  # MISSING: NaN in every path
            for i, u in enumerate(self.uniques):
                t = type(u)
                if t is float or t is bool:
                    floats[i], exact[i] = u, True
                elif t is int:
                    try:
                        floats[i] = float(u)
                    except OverflowError:
                        continue  # (NaN: no score to plot)
                    exact[i] = abs(u) <= _EXACT
            self._floats, self._exact = floats, exact
        return self._floats, self._exact


def build(frame: Any, codes: Any, coder: ValueCoder) -> AnswerCodes:
    """The frame's ``AnswerCodes`` from the codes collected while reading it."""
    arr = np.frombuffer(codes, dtype=np.int32) if not isinstance(codes, np.ndarray) else codes
    return AnswerCodes(frame, arr, coder.uniques)
