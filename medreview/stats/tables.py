"""Long <-> wide conversions of project ratings (the project table -> items x raters).

The project's long table has one row per (output, rater, question) answer. Agreement functions
take items x raters; this module pivots, checks for duplicate answers and derives binary
presence tables from multi-choice and error answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medreview.errors import StatsError

if TYPE_CHECKING:
    from medreview.domain.rubric import Question

REQUIRED = ("output_id", "case_id", "model", "rater", "rater_kind", "question_id", "value")
POOLED_CRITERIA = "criterion:*"  # every per-case criterion analysed as one question


@dataclass(frozen=True)
class RatingTables:
    """The plain tables the dashboard statistics read: ``ratings`` in long format (the
    ``REQUIRED`` columns plus ``case_external_id`` and ``confidence``), the newest gold labels
    (``output_id``, ``question_id``, ``value``; or None) and the project's questions by id."""

    ratings: Any
    gold: Any
    questions: Mapping[str, Question]


def check_long(ratings: Any) -> None:
    missing = [c for c in REQUIRED if c not in ratings.columns]
    if missing:
        raise StatsError(f"ratings table lacks columns {missing}", item="ratings")
    kinds = set(ratings["rater_kind"].dropna().unique()) - {"physician", "judge"}
    if kinds:
        raise StatsError(f"rater_kind must be 'physician' or 'judge', found {sorted(kinds)}",
                         item="rater_kind")
    key = _row_keys(ratings, ["output_id", "rater", "question_id"])
    if _repeats(key):
        import pandas as pd

        row = ratings[pd.Series(key, index=ratings.index).duplicated()].iloc[0]
        raise StatsError(f"rater {row['rater']!r} answered question {row['question_id']!r} "
                         f"twice for output {row['output_id']}", item="ratings")


def _duplicated(df: Any, cols: list[str]) -> Any:
    """``df.duplicated(cols)`` on one integer key per row instead of row tuples."""
    import pandas as pd

    return pd.Series(_row_keys(df, cols), index=df.index).duplicated()


def _repeats(key: Any) -> bool:
    """Whether a key occurs twice: by a sort (a stable sort of keys in reading order costs
    a fifth of the hash table ``duplicated`` builds: 0.3 of 1.6 s at 8M rows)."""
    import numpy as np

    ordered = np.sort(key, kind="stable")
    return bool((ordered[1:] == ordered[:-1]).any())


def _row_keys(df: Any, cols: list[str]) -> Any:
    """One integer per row, equal for rows equal in ``cols`` (each column coded by hashing,
    missing values equal to each other as ``duplicated`` has them)."""
    import numpy as np
    import pandas as pd

    key = np.zeros(len(df), dtype=np.int64)
    width = 1
    for c in cols:
        codes, n_codes = _offsets(df[c])
        if codes is None:
            codes, uniq = pd.factorize(df[c], use_na_sentinel=False)
            n_codes = len(uniq)
        if width * n_codes >= 2**62:  # recode the key so far (rare: huge tables)
            key, first = pd.factorize(key)
            width = len(first)
        key = key * n_codes + codes
        width *= max(n_codes, 1)
    return key


def _offsets(col: Any) -> tuple[Any, int]:
    """A signed integer column's values less its least value, and their range, when that
    range is at most a few times the rows (equal values, equal codes: no hash pass over
    8M output ids); ``(None, 0)`` otherwise."""
    import numpy as np

    if not isinstance(col.dtype, np.dtype) or col.dtype.kind != "i" or not len(col):
        return None, 0
    v = col.to_numpy()
    lo, hi = int(v.min()), int(v.max())
    if hi - lo >= 4 * len(v) + 1024:
        return None, 0
    return v.astype(np.int64) - lo, hi - lo + 1


def to_wide(long: Any, index: str | list[str] = "output_id", value: str = "value") -> Any:
    """Items x raters table of objects (missing = None); index = output id (or a tuple key)."""
    import pandas as pd

    if long.empty:
        return pd.DataFrame()
    fast = _wide_by_codes(long, index, value)
    if fast is not None:
        return fast
    w = long.pivot(index=index, columns="rater", values=value)
    w = w.astype(object).where(w.notna(), None)
    w.columns = [str(c) for c in w.columns]
    return w


def _wide_by_codes(long: Any, index: str | list[str], value: str) -> Any:
    """``to_wide`` by integer codes (no pandas pivot, whose reshaping of object columns is
    slow at scale): the same table (rows and raters in sorted order, missing = None) for an
    object ``value`` column and an integer output id; None to let ``pivot`` handle (and
    report) anything else, such as duplicate answers."""
    import numpy as np
    import pandas as pd

    names = [index] if isinstance(index, str) else list(index)
    if long[value].dtype != object or len(names) not in (1, 2) \
            or names[0] != "output_id" or long["output_id"].dtype.kind not in "iu":
        return None
    key_codes, levels = [], []
    for name in names:
        codes, uniq = pd.factorize(long[name], sort=True)
        key_codes.append(codes)
        levels.append(uniq)
    r_codes, raters = pd.factorize(long["rater"], sort=True)
    if min(int(c.min()) for c in (*key_codes, r_codes)) < 0:
        return None  # a missing key
    width = len(levels[1]) if len(names) == 2 else 1
    combined = key_codes[0].astype(np.int64) * width + (key_codes[1] if width > 1 else 0)
    # (a hash pass, then a sort of the distinct keys only: ``np.unique`` sorts every row)
    row, keys = pd.factorize(combined, sort=True)
    n_raters = len(raters)
    cell = row.reshape(-1) * n_raters + r_codes
    if int(np.bincount(cell, minlength=keys.size * n_raters).max()) > 1:
        return None  # duplicate answers: pivot raises its error
    arr = np.full(keys.size * n_raters, None, dtype=object)
    vals = long[value].to_numpy(dtype=object)
    arr[cell] = vals
    missing = pd.isna(vals)  # (only the filled cells: the rest are None already)
    if missing.any():
        arr[cell[missing]] = None
    if len(names) == 1:
        idx = pd.Index(levels[0].take(keys), name=names[0])
    else:
        idx = pd.MultiIndex(levels=levels, codes=[keys // width, keys % width], names=names)
    return pd.DataFrame(arr.reshape(keys.size, n_raters), index=idx,
                        columns=[str(c) for c in raters], dtype=object)


def presence(values: Any, key: str | None) -> Any:
    """Binary presence of ``key`` in list answers (multi-choice values or error entries).

    ``None`` (no answer) stays missing; an empty list means "none present"."""
    import pandas as pd

    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if not isinstance(v, (list, tuple)):
            raise StatsError(f"expected a list answer, got {v!r}", item=str(key))
        for e in v:
            name = e.get("category") if isinstance(e, dict) else e
            if name == key:
                return True
        return False

    return values.map(one)


def disagreeing(wide: Any) -> list[Any]:
    """Item keys whose available ratings are not all equal."""
    out = []
    for key, row in zip(wide.index, wide.itertuples(index=False, name=None), strict=True):
        vals = {_hashable(v) for v in row if v is not None}
        if len(vals) > 1:
            out.append(key)
    return out


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def output_ids(keys: Iterable[Any]) -> list[int]:
    """Output ids from item keys (plain ids or (output_id, question_id) tuples)."""
    ids = {int(k[0]) if isinstance(k, tuple) else int(k) for k in keys}
    return sorted(ids)
