"""Which items a statistic's raters disagree on, per statistic row (the dashboard's Disagree).

A coefficient is computed over its own items, so its disagreements are counted there too, in
the same unit as its ``n_items`` (an item is an output, or an (output, criterion) pair for the
pooled per-case criteria):

* physicians among themselves: items of the statistic where the available answers are not all
  the same; listwise statistics (the ANOVA ICCs) only count items every rater answered; a row
  that used no item (an undefined statistic) has none;
* a rater pair: items both answered differently;
* the judge: items where its answer differs from the row's reference — any physician (pooled
  pairs), the physicians' strict majority (``stats.majority``), the physician mean (numeric),
  one physician, or gold.

"Same answer" is "same category" after ``stats.coding.encode``, as the statistics read it.
Item keys are ``(output_id, question_id)`` so a click can list and open them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from medreview.errors import StatsError
from medreview.stats.coding import IntArray, encode
from medreview.stats.majority import strict_majority
from medreview.stats.tables import RatingTables

Item = tuple[int, str]
BoolArray = npt.NDArray[np.bool_]
# Statistics computed on complete items only (panels.py: listwise ANOVA ICCs).
LISTWISE = frozenset({"icc_a1", "icc_1"})
# Judge-row variants compared with the physicians' strict majority / mean.
MAJORITY_VARIANTS = frozenset({"majority", "calibration"})
MEAN_VARIANTS = frozenset({"physician_mean"})
NUMERIC_TOLERANCE = 1e-9


def item_codes(wide: Any, categories: Sequence[Any] | None) -> IntArray:
    """Answer codes (items x raters, ``-1`` = missing) under which equal answers share a code.

    The declared categories when every answer is one of them, else the observed values; lists
    and other unhashable answers are compared by their canonical form."""
    for cats in (categories, None):
        try:
            return encode(wide, cats).codes
        except (StatsError, TypeError):
            continue
    from medreview.domain.consensus import canonical

    arr = np.asarray(wide, dtype=object)
    flat = ["" if v is None else canonical(v) for v in arr.ravel()]
    seen: dict[str, int] = {}
    codes = np.fromiter((-1 if v is None else seen.setdefault(k, len(seen))
                         for v, k in zip(arr.ravel(), flat, strict=True)),
                        dtype=np.int64, count=len(flat))
    return codes.reshape(arr.shape)


def item_keys(index: Sequence[Any], question_id: str) -> list[Item]:
    """``(output_id, question_id)`` for plain output ids or tuple keys."""
    if getattr(index, "nlevels", 0) == 2:  # (output_id, question_id) MultiIndex: by level
        lv: Any = index
        c0, c1 = lv.codes
        if len(c0) and min(int(c0.min()), int(c1.min())) >= 0:
            # One int and str object per level value, shared by every key list made from
            # this table's levels (per key objects: ~0.6 GB of 1M judgments' results).
            outs, qids = _level_objects(lv.levels[0], int), _level_objects(lv.levels[1], str)
            return list(zip(map(outs.__getitem__, c0.tolist()),
                            map(qids.__getitem__, c1.tolist()), strict=True))
        return list(zip(map(int, lv.get_level_values(0).tolist()),
                        map(str, lv.get_level_values(1).tolist()), strict=True))
    if getattr(index, "nlevels", 0) == 1 and getattr(index, "dtype", None) is not None \
            and index.dtype.kind in "iu":  # type: ignore[attr-defined]
        return list(zip(map(int, index.tolist()),  # type: ignore[attr-defined]
                        repeat(question_id)))
    return [(int(k[0]), str(k[1])) if isinstance(k, tuple) else (int(k), question_id)
            for k in index]


_LEVELS: dict[int, tuple[Any, list[Any]]] = {}


def _level_objects(level: Any, kind: type) -> list[Any]:
    """``[kind(v) for v in level]``, kept for the latest few levels (the key lists of one
    table come in a row; a miss costs a rebuild, so no lock). Keyed by the level's values
    array: each MultiIndex made from another (a selection, an intersection's parts) hands
    out new level objects over the same values."""
    values = getattr(level, "_values", level)
    hit = _LEVELS.get(id(values))
    if hit is None or hit[0] is not values:
        if len(_LEVELS) >= 4:
            _LEVELS.clear()
        hit = _LEVELS[id(values)] = (values, list(map(kind, level.tolist())))
    return hit[1]


_KEY_BLOCK = 1 << 16  # item keys made at a time


class KeyCache:
    """The item keys of one table's index, each made once, on first use, and shared by every
    list picked from it: one table's statistic rows list mostly the same items, so a list
    then costs a pointer per item instead of a tuple and an int (1M judgments: the results'
    item lists 0.7 GB). Pandas indexes only (``item_keys`` handles other sequences)."""

    def __init__(self, index: Any, question_id: str) -> None:
        self._index, self._question_id = index, question_id
        self._keys: npt.NDArray[np.object_] | None = None
        self._made: BoolArray | None = None

    def pick(self, mask: BoolArray) -> list[Item]:
        """``item_keys(select(index, mask), question_id)`` with the shared key objects."""
        if not hasattr(self._index, "to_numpy"):
            return item_keys(select(self._index, mask), self._question_id)
        if self._keys is None or self._made is None:
            self._keys = np.empty(len(self._index), dtype=object)
            self._made = np.zeros(len(self._index), dtype=bool)
        pos = np.flatnonzero(mask)
        new = pos[~self._made[pos]]
        for b in range(0, new.size, _KEY_BLOCK):  # (bounded temporaries: lists of ints)
            at = new[b:b + _KEY_BLOCK]
            self._keys[at] = np.fromiter(item_keys(self._index[at], self._question_id),
                                         dtype=object, count=at.size)
        self._made[new] = True
        out: list[Item] = self._keys[pos].tolist()
        ids = self._output_ids(pos)
        if ids is not None:
            if len(_PICKED) >= 8:
                _PICKED.clear()
            _PICKED[id(out)] = (out, ids)
        return out

    def _output_ids(self, pos: Any) -> list[int] | None:
        """``output_ids_of`` the keys at ``pos``, from the index's own (sorted) output ids:
        no pass over the key tuples."""
        index = self._index
        if getattr(index, "nlevels", 0) == 2:
            c0 = index.codes[0][pos]
            if not c0.size or int(c0.min()) < 0 or not bool((c0[1:] >= c0[:-1]).all()):
                return None
            first = c0[np.r_[True, c0[1:] != c0[:-1]]]
            values = index.levels[0][first]
        elif getattr(index, "nlevels", 0) == 1 and index.dtype.kind in "iu":
            values = index[pos]
        else:
            return None
        if len(values) > 1 and not bool((values[1:] > values[:-1]).all()):
            return None
        # (an integer index's ``tolist`` gives Python ints already: no step per id)
        ids: list[int] = values.tolist() if values.dtype.kind in "iu" \
            else [int(v) for v in values.tolist()]
        return ids


def select(index: Any, mask: BoolArray) -> Sequence[Any]:
    """``index[mask]`` for a pandas index (kept an index: ``item_keys`` reads it by level)
    or a plain sequence."""
    if hasattr(index, "to_numpy"):
        picked: Sequence[Any] = index[mask]
        return picked
    return [k for k, m in zip(index, mask.tolist(), strict=True) if m]


def split_items(codes: IntArray) -> BoolArray:
    """Items whose available answers are not all the same code."""
    if codes.size == 0:
        return np.zeros(codes.shape[0], dtype=bool)
    hi = codes.max(axis=1)
    lo = np.where(codes >= 0, codes, np.iinfo(codes.dtype).max).min(axis=1)  # (its own max)
    out: BoolArray = (hi >= 0) & (lo != hi)
    return out


@dataclass(frozen=True)
class Split:
    """The disagreements of one items x raters table, ready per statistic row."""

    keys: Any  # the table's index: output ids, or (output_id, question_id) tuples
    question_id: str
    codes: IntArray

    @classmethod
    def of(cls, wide: Any, categories: Sequence[Any] | None, question_id: str,
           codes: IntArray | None = None) -> Split:
        """``codes``: the table's codes when the caller has encoded it already."""
        if wide is None or wide.empty:
            return cls([], question_id, np.zeros((0, 0), dtype=np.int64))
        return cls(wide.index, question_id,
                   codes if codes is not None else item_codes(wide, categories))

    def items(self, mask: BoolArray) -> list[Item]:
        """Keys of the masked items (tuples made for those only, once: tables can be long)."""
        cache: KeyCache | None = self.__dict__.get("_keys")
        if cache is None:
            cache = KeyCache(self.keys, self.question_id)
            object.__setattr__(self, "_keys", cache)
        return cache.pick(mask)

    def for_statistic(self, statistic: str, n_items: int) -> list[Item]:
        """The items of one statistic row. Rows of one table share the returned list (one
        list per rule, not per statistic: big projects have thousands of these items)."""
        if n_items == 0 or not len(self.keys):
            return []  # the statistic used no item (undefined): nothing to disagree on
        listwise = statistic in LISTWISE
        cache: dict[bool, list[Item]] = self.__dict__.setdefault("_lists", {})
        if listwise not in cache:
            mask = split_items(self.codes)
            if listwise:
                mask &= (self.codes >= 0).all(axis=1)
            cache[listwise] = self.items(mask)
        return cache[listwise]

    def pair(self, a: int, b: int, n_items: int) -> list[Item]:
        if n_items == 0 or not len(self.keys):
            return []
        ca, cb = self.codes[:, a], self.codes[:, b]
        return self.items((ca >= 0) & (cb >= 0) & (ca != cb))


def judge_splits(judge: Any, human: Any, kind: str, categories: Sequence[Any] | None,
                 codes: IntArray | None = None,
                 majority: tuple[IntArray, BoolArray] | None = None,
                 floats: npt.NDArray[np.float64] | None = None) -> dict[str, BoolArray]:
    """Per reference of a judge row, the items where the judge differs from it.

    ``judge``: one answer per item; ``human``: items x physicians (or one column: a single
    physician or gold). Keys: ``any`` (differs from at least one physician in ``human``),
    ``majority`` (from the strict majority; items without one never count) and, for numeric
    answers, ``mean`` (from the physician mean). ``codes``: items x (judge, physicians...)
    category codes when the caller has them (``stats.judge.JudgeAgreement.codes``), and
    ``majority`` the physicians' strict majority of those codes (``JudgeAgreement.majority``:
    the same per item whatever the category count, so it is not counted again); ``floats``:
    for numeric answers, items x (judge, physicians...) as floats (then the answers are not
    read)."""
    out: dict[str, BoolArray] = {}
    if kind == "numeric" and floats is not None:
        pass
    elif kind == "numeric" or codes is None:  # (with codes the answers are not read)
        h = np.asarray(human, dtype=object)
        if h.ndim == 1:
            h = h[:, None]
        j = np.asarray(judge, dtype=object).ravel()
        n = j.shape[0]
    if kind == "numeric":
        x = floats if floats is not None else _floats(np.column_stack([j, h]))
        jv, hv = x[:, 0], x[:, 1:]
        both = ~np.isnan(hv) & ~np.isnan(jv)[:, None]
        out["any"] = np.asarray((both & (np.abs(hv - jv[:, None]) > NUMERIC_TOLERANCE))
                                .any(axis=1), dtype=bool)
        ok = ~np.isnan(hv)
        cnt = ok.sum(axis=1)
        mean = np.where(ok, hv, 0.0).sum(axis=1) / np.where(cnt > 0, cnt, 1)
        out["mean"] = (cnt > 0) & ~np.isnan(jv) & (np.abs(jv - mean) > NUMERIC_TOLERANCE)
        out["majority"] = out["mean"]
        return out
    if codes is None:
        codes = item_codes(np.column_stack([j, h]) if n else np.zeros((0, h.shape[1] + 1)),
                           categories)
    jc, hc = codes[:, 0], codes[:, 1:]
    out["any"] = (jc >= 0) & ((hc >= 0) & (hc != jc[:, None])).any(axis=1)
    if majority is not None and len(majority[0]) == codes.shape[0]:
        maj, has = majority
    else:
        q = int(codes.max()) + 1 if codes.size else 0
        maj, has = strict_majority(hc, max(q, 1))
    out["majority"] = has & (jc >= 0) & (maj != jc)
    return out


def _floats(arr: Any) -> npt.NDArray[np.float64]:
    import pandas as pd

    x: npt.NDArray[np.float64] = (pd.DataFrame(arr).apply(pd.to_numeric, errors="coerce")
                                  .to_numpy(np.float64))
    return x


def variant_mask(splits: dict[str, BoolArray], variant: str) -> BoolArray:
    """The disagreement that a judge-row ``variant`` measures."""
    if variant in MAJORITY_VARIANTS:
        return splits["majority"]
    if variant in MEAN_VARIANTS and "mean" in splits:
        return splits["mean"]
    return splits["any"]


# The latest item lists ``KeyCache.pick`` made, with their outputs (id -> (list, outputs)).
_PICKED: dict[int, tuple[list[Item], list[int]]] = {}


def output_ids_of(items: Sequence[Item]) -> list[int]:
    hit = _PICKED.get(id(items))
    if hit is not None and hit[0] is items:
        return hit[1]
    return sorted(set(map(itemgetter(0), items)))


def disagreeing_outputs(
    tables: RatingTables,
    question_id: str,
    *,
    model: str | None = None,
    raters: Sequence[str] | None = None,
    judge: str | None = None,
    reference: str = "physicians",
) -> list[int]:
    """Output ids where the compared raters disagree on a question (sorted).

    Without ``judge``: outputs where the physicians (only ``raters`` if given) gave more than
    one distinct answer (``domain.consensus.answer_key``). With ``judge``: outputs where the
    judge's answer differs from ``reference`` — ``physicians`` (any of them, or of ``raters``),
    ``physician:<name>``, ``majority`` or ``gold`` (``stats.reference.reference_labels``).
    ``question_id`` may be ``criterion:*`` (every per-case criterion; an output counts once).
    """
    from medreview.domain import consensus
    from medreview.stats.reference import (
        answer_kind,
        answers,
        differs,
        is_numeric,
        question_rows,
        reference_labels,
    )

    numeric = is_numeric(tables, question_id)
    kind = answer_kind(tables, question_id)
    rows = question_rows(tables.ratings, question_id)
    if model is not None:
        rows = rows[rows["model"] == model]
    phys = rows[rows["rater_kind"] == "physician"]
    if raters is not None:
        phys = phys[phys["rater"].isin(list(raters))]
    if judge is None:
        seen: dict[Item, set[Any]] = {}
        for key, v in answers(phys):
            seen.setdefault(key, set()).add(consensus.answer_key(kind, v))
        return sorted({k[0] for k, vals in seen.items() if len(vals) > 1})
    judged = dict(answers(rows[rows["rater"] == judge]))
    if reference == "physicians":
        return sorted({key[0] for key, v in answers(phys)
                       if key in judged and differs(judged[key], v, numeric, kind)})
    ref = reference_labels(tables, question_id, reference, model=model)
    return sorted({k[0] for k, j in judged.items()
                   if k in ref and differs(j, ref[k], numeric, kind)})
