"""The physicians' strict majority per item, vectorised over coded tables.

The rule is ``medreview.domain.consensus.majority``: an answer given by *more than half* of the
raters who answered the item. A plurality (the most frequent answer when no answer has more
than half) is not a majority and gives no reference label. Here answers are category codes
(``stats.coding.encode``, ``-1`` = missing), so "same answer" is "same category", as every
statistic reads it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from medreview.stats.coding import IntArray, count_matrix

_FEW = 8  # categories counted one by one (a few passes over the table, little memory)


def strict_majority(codes: IntArray, q: int) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """``(majority code per item, whether the item has one)`` for an items x raters code table.

    The code is ``-1`` where there is no strict majority (or no answer at all)."""
    if 0 < q <= _FEW and codes.size:  # a few column passes: no n x q tables, no reductions
        by_row = _by_row_key(codes, q)  # along rows of a few raters (slow in numpy)
        return by_row if by_row is not None else _few(codes, q)
    cnt = count_matrix(codes, q) if codes.size else np.zeros((codes.shape[0], q))
    answered = cnt.sum(axis=1)
    top = cnt.max(axis=1) if q else np.zeros(codes.shape[0])
    has = 2 * top > answered  # false for unanswered items (0 > 0)
    code: IntArray = np.where(has, cnt.argmax(axis=1) if q else -1, -1).astype(np.int64)
    return code, has


def _few(codes: IntArray, q: int) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """``strict_majority`` counted category by category and rater by rater (integer counts:
    the same majority; the first category of the top count, as ``argmax``)."""
    n = codes.shape[0]
    answered = np.zeros(n, dtype=np.int64)
    top = np.zeros(n, dtype=np.int64)
    code = np.full(n, -1, dtype=np.int64)
    for k in range(q):
        cnt = np.zeros(n, dtype=np.int64)
        for col in range(codes.shape[1]):
            cnt += codes[:, col] == k
        answered += cnt
        more = cnt > top  # (strictly: an earlier category keeps a tie)
        code[more] = k
        np.maximum(top, cnt, out=top)
    has = 2 * top > answered
    code[~has] = -1
    return code, has


_LUT_ROWS = 4096  # distinct answer rows (``(q + 1) ** raters``) worth a look-up table
_LUTS: dict[tuple[int, int], tuple[IntArray, npt.NDArray[np.bool_]]] = {}


def _by_row_key(codes: IntArray, q: int) -> tuple[IntArray, npt.NDArray[np.bool_]] | None:
    """``_few`` by one look-up per item: an item's answer row is a number in base ``q + 1``
    and a table holds ``_few`` of every possible row (made by ``_few`` itself: the same
    majority). None when the rows are too many or a code is outside ``-1 .. q - 1``."""
    n, r = codes.shape
    if r == 0 or (q + 1) ** r > _LUT_ROWS or n < 4 * (q + 1) ** r:
        return None
    if int(codes.min()) < -1 or int(codes.max()) >= q:
        return None
    lut = _LUTS.get((q, r))
    if lut is None:
        every = np.indices((q + 1,) * r).reshape(r, -1).T - 1  # row i: i in base q + 1
        lut = _LUTS[(q, r)] = _few(np.ascontiguousarray(every), q)
    key = codes[:, 0].astype(np.int64) + 1  # (narrow codes would overflow)
    for col in range(1, r):
        key = key * (q + 1) + (codes[:, col] + 1)
    code: IntArray = lut[0].take(key)
    has: npt.NDArray[np.bool_] = lut[1].take(key)
    return code, has


def majority_note(n_without: int) -> str:
    """How the excluded items are named wherever a statistic uses the majority."""
    return (f"{n_without} item{'' if n_without == 1 else 's'} without a strict physician "
            "majority (more than half) excluded")
