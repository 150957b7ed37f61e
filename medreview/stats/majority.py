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
    if 0 < q <= _FEW and codes.size:  # category by category: no n x (q + 1) int64 tables
        cnt: npt.NDArray[np.float64] = np.empty((codes.shape[0], q))
        for k in range(q):
            cnt[:, k] = np.count_nonzero(codes == k, axis=1)
    else:
        cnt = count_matrix(codes, q) if codes.size else np.zeros((codes.shape[0], q))
    answered = cnt.sum(axis=1)
    top = cnt.max(axis=1) if q else np.zeros(codes.shape[0])
    has = 2 * top > answered  # false for unanswered items (0 > 0)
    code: IntArray = np.where(has, cnt.argmax(axis=1) if q else -1, -1).astype(np.int64)
    return code, has


def majority_note(n_without: int) -> str:
    """How the excluded items are named wherever a statistic uses the majority."""
    return (f"{n_without} item{'' if n_without == 1 else 's'} without a strict physician "
            "majority (more than half) excluded")
