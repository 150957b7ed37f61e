"""Turn a ratings table (items x raters, missing = NaN/None) into integer category codes.

Everything downstream works on ``codes`` (``-1`` = missing) and on the unit x category count
matrix built from it once. The category list is the rubric's declared list when given (unused
categories still count; a rating outside it is an error), otherwise it is inferred from the
data and the result says so.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from medreview.errors import StatsError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Coded:
    """Ratings as category codes plus the category list they refer to."""

    codes: IntArray  # n_items x n_raters, -1 = missing
    categories: tuple[Any, ...]
    values: FloatArray  # numeric value of each category (1..q for labels)
    numeric: bool  # True when the categories themselves are numbers
    inferred: bool
    items: Sequence[Any]  # item keys (a tuple, or a range for plain arrays)
    raters: tuple[Any, ...]

    @property
    def q(self) -> int:
        return len(self.categories)

    @property
    def categories_source(self) -> str:
        return "inferred from data" if self.inferred else "declared"

    def counts(self) -> FloatArray:
        """Unit x category count matrix r_ik (float so later arithmetic needs no casts).

        Built once per coded table and cached: every coefficient derives from it."""
        cache = self.__dict__.get("_counts")
        if cache is None:
            cache = count_matrix(self.codes, self.q)
            cache.setflags(write=False)
            object.__setattr__(self, "_counts", cache)
        out: FloatArray = cache
        return out

    def rated_items(self) -> npt.NDArray[np.bool_]:
        """Per item, whether any rater answered it (cached; column by column: a reduction
        along rows of a few raters is slow in numpy)."""
        out: npt.NDArray[np.bool_] | None = self.__dict__.get("_rated_items")
        if out is None:
            out = np.zeros(self.codes.shape[0], dtype=bool)
            for col in range(self.codes.shape[1]):
                out |= self.codes[:, col] >= 0
            out.setflags(write=False)
            object.__setattr__(self, "_rated_items", out)
        return out

    def rated_raters(self) -> npt.NDArray[np.bool_]:
        """Per rater, whether they answered any item (cached)."""
        out: npt.NDArray[np.bool_] | None = self.__dict__.get("_rated_raters")
        if out is None:
            out = (self.codes.max(axis=0) >= 0) if self.codes.shape[0] else \
                np.zeros(self.codes.shape[1], dtype=bool)
            out.setflags(write=False)
            object.__setattr__(self, "_rated_raters", out)
        return out

    def select_items(self, mask: npt.NDArray[np.bool_]) -> Coded:
        it: Any = self.items
        items: Sequence[Any] = (it[mask] if hasattr(it, "to_numpy") else
                                tuple(i for i, keep in zip(self.items, mask.tolist(),
                                                           strict=True) if keep))
        return Coded(self.codes[mask], self.categories, self.values, self.numeric,
                     self.inferred, items, self.raters)

    def select_raters(self, cols: Sequence[int]) -> Coded:
        return Coded(self.codes[:, list(cols)], self.categories, self.values, self.numeric,
                     self.inferred, self.items, tuple(self.raters[c] for c in cols))


def count_matrix(codes: IntArray, q: int) -> FloatArray:
    # Missing (-1) lands in an extra leading column per item, so no boolean mask is needed.
    n = codes.shape[0]
    flat = codes + (np.arange(1, n * (q + 1) + 1, q + 1, dtype=np.int64)[:, None])
    full = np.bincount(flat.ravel(), minlength=n * (q + 1)).reshape(n, q + 1)
    out: FloatArray = np.empty((n, q))
    np.copyto(out, full[:, 1:], casting="unsafe")
    return out


_LOOKUP_BLOCK = 1 << 20  # cells converted at a time (temporaries of a block, not the table)


def _small_int_lookup(x: FloatArray, miss: npt.NDArray[np.bool_], cat_vals: FloatArray
                      ) -> IntArray | None:
    """Codes via a lookup table when categories are a few small integers (the common case:
    ordinal scales, 0/1 criteria); None to fall back to the general path.

    Few passes over the table and few large temporaries: at 100k x 5 the page faults of
    fresh arrays cost more than the arithmetic. Converted a block of rows at a time: the
    integer copy of a 1M x 40 table was 320 MB beside the codes."""
    if cat_vals.size == 0 or not np.all(np.isfinite(cat_vals)) or \
            not np.all(cat_vals == np.round(cat_vals)):
        return None
    lo, hi = int(cat_vals.min()), int(cat_vals.max())
    if hi - lo > 100_000 or x.size == 0:
        return None
    sentinel = hi + 1
    lut = np.full(hi - lo + 2, -1, dtype=np.int64)
    lut[cat_vals.astype(np.int64) - lo] = np.arange(cat_vals.size)
    codes: IntArray = np.empty(x.shape, dtype=np.int64)
    step = max(1, _LOOKUP_BLOCK // max(x.shape[1], 1)) if x.ndim == 2 else _LOOKUP_BLOCK
    for at in range(0, x.shape[0], step):
        xb, mb = x[at:at + step], miss[at:at + step]
        n_miss = int(np.count_nonzero(mb))
        with np.errstate(invalid="ignore"):
            xi = xb.astype(np.int64)  # NaN casts to garbage; overwritten below
        if int(np.count_nonzero(xi == xb)) != xb.size - n_miss:
            return None  # a non-integer value: let the general path report it
        np.copyto(xi, sentinel, where=mb)
        if int(xi.min()) < lo or int(xi.max()) > sentinel:
            return None
        if lo != 0:
            xi -= lo
        block = codes[at:at + step]
        lut.take(xi, out=block)
        if int(np.count_nonzero(block < 0)) != n_miss:
            return None  # an integer between the categories: the general path reports it
    return codes


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    try:
        import pandas as pd

        return bool(x is pd.NA or x is pd.NaT)
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real)


def _as_2d(ratings: Any) -> tuple[np.ndarray[Any, Any], Sequence[Any], tuple[Any, ...]]:
    import pandas as pd

    items: Sequence[Any]
    if isinstance(ratings, pd.DataFrame):
        items = ratings.index  # not a tuple: a MultiIndex builds its tuples slowly
        raters = tuple(ratings.columns.tolist())
        if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
               for t in ratings.dtypes):
            arr: np.ndarray[Any, Any] = ratings.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = ratings.to_numpy(dtype=object)
    else:
        arr = np.asarray(ratings)
        if arr.dtype.kind not in "biuf":
            arr = np.asarray(ratings, dtype=object)
        if arr.ndim != 2:
            raise StatsError(f"ratings must be a 2-D table items x raters, got {arr.ndim}-D",
                             item="ratings")
        items = range(arr.shape[0])  # a lazy sequence: 100k-item tuples cost milliseconds
        raters = tuple(range(arr.shape[1]))
    if arr.ndim != 2:
        raise StatsError("ratings must be a 2-D table items x raters", item="ratings")
    return arr, items, raters


def declared(codes: IntArray, categories: Sequence[Any]) -> Coded:
    """Codes already made against the declared ``categories`` (columns of an ``encode``
    result), as ``encode`` would return them; items and raters by position."""
    values, numeric = _numeric_values(tuple(categories))
    return Coded(codes, tuple(categories), values, numeric, False, range(codes.shape[0]),
                 tuple(range(codes.shape[1])))


def _numeric_values(cats: Sequence[Any]) -> tuple[FloatArray, bool]:
    if cats and all(_is_number(c) for c in cats):
        return np.asarray([float(c) for c in cats], dtype=np.float64), True
    return np.arange(1, len(cats) + 1, dtype=np.float64), False


def encode(ratings: Any, categories: Sequence[Any] | None = None) -> Coded:
    """Code a ratings table against ``categories`` (declared) or the observed values."""
    arr, items, raters = _as_2d(ratings)
    n, r = arr.shape
    if categories is not None:
        cats = tuple(categories)
        if len(set(map(_key, cats))) != len(cats):
            raise StatsError("the declared category list contains duplicates", item="categories")
        inferred = False
    else:
        cats = ()
        inferred = True

    if arr.dtype.kind in "biuf":
        x = np.asarray(arr, dtype=np.float64)  # no copy when already float64; never written
        miss = np.isnan(x)
        if inferred:
            cats = tuple(_py(v) for v in np.unique(x[~miss]))
        cat_vals = np.asarray([float(c) if _is_number(c) else np.nan for c in cats])
        fast = _small_int_lookup(x, miss, cat_vals)
        if fast is not None:
            values, numeric = _numeric_values(cats)
            return Coded(fast, cats, values, numeric, inferred, items, raters)
        present = x[~miss]
        order = np.argsort(cat_vals, kind="stable")
        sorted_vals = cat_vals[order]
        pos = np.searchsorted(sorted_vals, present)
        pos_c = np.clip(pos, 0, max(len(cats) - 1, 0))
        ok = (pos < len(cats)) & (sorted_vals[pos_c] == present) if len(cats) else \
            np.zeros(present.shape, dtype=bool)
        if not np.all(ok):
            bad = present[~ok][0]
            raise StatsError(f"rating {_py(bad)!r} is not one of the declared categories "
                             f"{list(cats)}", item="ratings")
        codes = np.full((n, r), -1, dtype=np.int64)
        codes[~miss] = order[pos_c]
    else:
        flat = arr.ravel()
        fast_codes = _factorized_codes(flat, cats, inferred, items, r)
        if fast_codes is not None:
            codes, cats = fast_codes
            values, numeric = _numeric_values(cats)
            return Coded(codes.reshape(n, r), cats, values, numeric, inferred, items, raters)
        keys = _keys_of(flat)  # None marks a missing rating
        if inferred:
            seen: dict[Any, Any] = {}
            for v, k in zip(flat, keys, strict=True):
                if k is not None and k not in seen:
                    seen[k] = _py(v)
            found = list(seen.values())
            # Unorderable labels keep their order of first appearance.
            with contextlib.suppress(TypeError):
                found.sort()
            cats = tuple(found)
        index = {_key(c): i for i, c in enumerate(cats)}
        index[None] = -1
        try:
            out = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
        except KeyError:
            j = next(j for j, k in enumerate(keys) if k not in index)
            raise StatsError(f"rating {flat[j]!r} is not one of the declared categories "
                             f"{list(cats)}", item=f"item {items[j // r]!r}") from None
        codes = out.reshape(n, r)
    values, numeric = _numeric_values(cats)
    return Coded(codes, cats, values, numeric, inferred, items, raters)


# Types of the values pandas' factorize takes for missing that ``_is_missing`` also does.
_MISSING_TYPES = frozenset({type(None), float, np.float64})


def _factorized_codes(flat: np.ndarray[Any, Any], cats: tuple[Any, ...], inferred: bool,
                      items: Sequence[Any], r: int) -> tuple[IntArray, tuple[Any, ...]] | None:
    """Codes (flat) and categories as ``encode``'s general path gives them, from one hash pass
    in C (``pd.factorize``) and a look-up per distinct value instead of a Python step per
    rating; None (use the general path) for unhashable values or unusual missing markers.

    Same equality as the general path's dicts (``True == 1 == 1.0``): factorize hashes
    objects with Python's ``==``, and its uniques come in order of first appearance."""
    import pandas as pd

    try:
        labels, uniques = pd.factorize(flat, sort=False, use_na_sentinel=True)
    except TypeError:
        return None  # lists and other unhashable answers
    miss = labels < 0
    if miss.any():
        na_types = {type(v) for v in flat[miss]}
        if not na_types <= _MISSING_TYPES | {type(pd.NA), type(pd.NaT)}:
            return None
    ukeys = [_key(u) for u in uniques]
    if inferred:
        seen: dict[Any, Any] = {}
        for u, k in zip(uniques, ukeys, strict=True):
            if k not in seen:
                seen[k] = _py(u)
        found = list(seen.values())
        with contextlib.suppress(TypeError):  # unorderable labels: order of appearance
            found.sort()
        cats = tuple(found)
    index = {_key(c): i for i, c in enumerate(cats)}
    lut = np.empty(len(ukeys) + 1, dtype=np.int64)
    lut[-1] = -1  # label -1 (missing) reads the last entry
    for u, k in enumerate(ukeys):
        code = index.get(k)
        if code is None:
            j = int(np.argmax(labels == u))  # uniques come in order of first appearance
            raise StatsError(f"rating {flat[j]!r} is not one of the declared categories "
                             f"{list(cats)}", item=f"item {items[j // r]!r}")
        lut[u] = code
    codes: IntArray = lut.take(labels)
    return codes, cats


def _keys_of(flat: np.ndarray[Any, Any]) -> list[Any]:
    """``_key`` of every value, None for a missing one. Ratings repeat a handful of values, so
    each distinct (hashable) value is classified once and then looked up."""
    memo: dict[Any, Any] = {}
    out: list[Any] = []
    append = out.append
    for v in flat:
        if v is None or (isinstance(v, float) and v != v):
            append(None)
            continue
        try:
            k = memo[v]
        except KeyError:
            k = memo[v] = None if _is_missing(v) else _key(v)
        except TypeError:  # unhashable: classify it on its own
            k = None if _is_missing(v) else _key(v)
        append(k)
    return out


def _py(v: Any) -> Any:
    """numpy scalar -> Python scalar; integral floats -> int so labels print nicely."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _key(v: Any) -> Any:
    # bool is a number in Python; keep True distinct from the string "True" but equal to 1.
    v = _py(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v
