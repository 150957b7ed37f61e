"""``project_stats``' work units read from answer codes (``stats.answer_codes``), not objects.

A unit (a question, or the pooled per-case criteria) whose answers all fit its declared
categories, or are all plain numbers for a numeric question, is computed here: its items x
raters tables are scattered from the rows' category codes (or floats) by integer keys, with
the index and raters ``tables.to_wide`` gives, and fed to the same statistics as the object
tables (coded against the same categories, so every result is the same). Any other unit
(an undeclared answer, an unhashable one, text, a bool in a number question) returns None
here and ``project_stats`` takes the object path, which also words its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from medreview.errors import StatsError
from medreview.stats.answer_codes import NOT_DECLARED, AnswerCodes
from medreview.stats.coding import Coded, declared, encode
from medreview.stats.common import CIOptions
from medreview.stats.disagreement import KeyCache, Split
from medreview.stats.judge import Kind, judge_vs_ceiling
from medreview.stats.panels import pair_panel_coded, panel
from medreview.stats.paradox import annotate
from medreview.stats.project_rows import (
    JudgeContext,
    agreement_row,
    calibration_rows,
    emit_judge_rows,
)
from medreview.stats.tables import to_wide

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
_KEY_LIMIT = 2 ** 62  # output id x question codes must fit an int64 key


@dataclass(frozen=True)
class CodedWide:
    """An items x raters table as ``to_wide`` would index it, holding category codes
    (declared categories, -1 = missing) or floats (NaN = missing) instead of answers."""

    index: Any  # output ids, or an (output_id, question_id) MultiIndex, sorted
    columns: list[str]  # raters, sorted
    keys: Any  # the sorted int64 item keys behind ``index``
    codes: Any = None
    floats: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.index), len(self.columns)

    @property
    def empty(self) -> bool:
        return self.shape[0] == 0 or self.shape[1] == 0

    def take(self, at: IntArray) -> CodedWide:
        return CodedWide(self.index[at], self.columns, self.keys[at],
                         None if self.codes is None else self.codes[at],
                         None if self.floats is None else self.floats[at])

    def rater(self, i: int) -> CodedWide:
        return CodedWide(self.index, [self.columns[i]], self.keys,
                         None if self.codes is None else self.codes[:, [i]],
                         None if self.floats is None else self.floats[:, [i]])

    def float_frame(self) -> Any:
        """The floats as ``panel``'s numeric table (``wide`` converted to float)."""
        import pandas as pd

        # A read-only view, not a copy (pandas copies an array by default: 320 MB for 1M
        # items x 40 raters); read-only, so nothing can write through the frame into ``floats``
        floats = self.floats.view()
        floats.flags.writeable = False
        return pd.DataFrame(floats, index=self.index, columns=self.columns, copy=False)


@dataclass(frozen=True)
class Unit:
    """One unit's physician and judge rows (positions in the long table) and their answers as
    category codes or floats."""

    phys: IntArray
    judge: IntArray
    phys_values: Any
    judge_values: Any
    numeric: bool


class CodedRatings:
    """The long table's columns the units read, as arrays, made once per ``project_stats``."""

    def __init__(self, ratings: Any, codes: AnswerCodes, qcode: Any, quniq: Any) -> None:
        # The frame's own arrays where it has them (views: 8M rows at 1M judgments, each
        # int64 copy 64 MB); codes in their own small dtypes, widened per unit.
        self.out = ratings["output_id"].to_numpy(dtype=np.int64)
        self.rcode, self.rcats = _codes_of(ratings["rater"])
        self.mcode: Any = None
        self.mcats: list[Any] = []
        if "model" in ratings.columns:
            self.mcode, self.mcats = _codes_of(ratings["model"])
        self.qcode = qcode
        self.quniq = quniq  # (an Index: a list would make a str object per question)
        self.vcode = codes.codes
        self.values = np.asarray(ratings["value"].array, dtype=object)
        self.conf = (ratings["confidence"].to_numpy(dtype=np.float64, na_value=np.nan)
                     if "confidence" in ratings.columns else None)
        self.codes = codes

    @classmethod
    def make(cls, ratings: Any, codes: AnswerCodes | None, qcode: Any,
             quniq: Any) -> CodedRatings | None:
        """None unless ``codes`` are ``ratings``' own and every row has an integer output
        id, a rater and a question (the keys the tables are built on)."""
        if codes is None or not codes.of(ratings) or not len(ratings):
            return None
        if ratings["output_id"].dtype.kind not in "iu" or ratings["rater"].isna().any():
            return None
        if int(np.min(qcode)) < 0:
            return None
        out = ratings["output_id"].to_numpy(dtype=np.int64)
        if max(-int(out.min()), int(out.max())) + 1 >= _KEY_LIMIT // max(len(quniq), 1):
            return None
        return cls(ratings, codes, qcode, quniq)

    def unit(self, pos: IntArray, is_phys: Any, is_judge: Any, kind: str,
             cats: Sequence[Any] | None) -> Unit | None:
        """The unit of rows ``pos``, or None when it must take the object path."""
        phys, judge = pos[is_phys[pos]], pos[is_judge[pos]]
        if not phys.size:
            return None
        rows = np.concatenate([phys, judge])
        v = self.vcode[rows]  # (OTHER and MISSING index the look-up tables from the end)
        if kind == "numeric":
            floats, exact = self.codes.float_lut()
            if not exact[v].all():  # text, a list, an int beyond float precision
                return None
            if bool in set(map(type, self.values[rows].tolist())):
                return None  # (True == 1: the object path names a bool category apart)
            x = floats[v]
            return Unit(phys, judge, x[:phys.size], x[phys.size:], True)
        if cats is None:
            return None
        c = self.codes.category_codes(v, cats)
        del v
        if c is None:
            return None
        if (c == NOT_DECLARED).any():
            return None
        return Unit(phys, judge, c[:phys.size], c[phys.size:], False)

    def floats(self) -> FloatArray:
        """Every row's answer as a float (``project._as_floats``), by look-up."""
        lut, _ = self.codes.float_lut()
        out: FloatArray = lut[self.vcode]
        return out

    def key(self, rows: IntArray, pooled: bool) -> Any:
        """Item keys of ``rows``: output id, or output id x question code (sorted alike)."""
        out = self.out[rows]
        return out * len(self.quniq) + self.qcode[rows].astype(np.int64) if pooled else out

    def wide(self, rows: IntArray, values: Any, pooled: bool, numeric: bool) -> CodedWide:
        """``to_wide`` of ``rows`` (same index and raters), holding ``values``."""
        import pandas as pd

        row, keys = _sorted_codes(self.key(rows, pooled))
        rc = self.rcode[rows]
        present = np.flatnonzero(np.bincount(rc, minlength=len(self.rcats)))
        local = np.full(len(self.rcats), -1, dtype=np.intp)
        local[present] = np.arange(present.size)
        nr = present.size
        cell = row.astype(np.intp) * nr + local[rc]
        # Codes as int32 (categories are few; the statistics widen them where they make keys):
        # the pooled criteria of 1M judgments by 40 physicians are 4M x 40 cells, 1.3 GB as
        # int64.
        tab = np.full(keys.size * nr, np.nan if numeric else -1,
                      dtype=np.float64 if numeric else np.int32)
        tab[cell] = values
        tab = tab.reshape(keys.size, nr)
        if pooled:
            nq = len(self.quniq)
            out, q = keys // nq, keys % nq
            starts = np.flatnonzero(np.r_[True, out[1:] != out[:-1]])  # (sorted keys)
            c0 = np.cumsum(np.r_[False, out[1:] != out[:-1]])
            qs = np.flatnonzero(np.bincount(q, minlength=nq))
            qlocal = np.zeros(nq, dtype=np.intp)
            qlocal[qs] = np.arange(qs.size)
            index = pd.MultiIndex(
                levels=[pd.Index(out[starts]), pd.Index(self.quniq.take(qs).tolist())],
                codes=[c0, qlocal[q]], names=["output_id", "question_id"],
                verify_integrity=False)
        else:
            index = pd.Index(keys, name="output_id")
        columns = [str(self.rcats[i]) for i in present]
        return CodedWide(index, columns, keys, None if numeric else tab,
                         tab if numeric else None)

    def match(self, wide: CodedWide, rows: IntArray, pooled: bool
              ) -> tuple[IntArray, IntArray]:
        """``(at, order)``: the items of ``wide`` that ``rows`` (one rater's) also answer, in
        ``wide``'s order, and for each the position in ``rows`` of its answer."""
        key = self.key(rows, pooled)
        at = np.searchsorted(wide.keys, key)
        ok = at < len(wide.keys)
        ok[ok] = wide.keys[at[ok]] == key[ok]
        at, pos = at[ok], np.flatnonzero(ok)
        if at.size > 1 and not bool((at[1:] > at[:-1]).all()):  # (rows in item order: as is)
            order = np.argsort(at, kind="stable")
            at, pos = at[order], pos[order]
        return at, pos

    def groups(self, codes: Any, cats: Any, rows: IntArray) -> list[tuple[str, IntArray]]:
        """``rows`` by the category of ``codes`` (sorted as a group-by gives them)."""
        c = codes[rows]
        out = []
        for k in np.flatnonzero(np.bincount(c[c >= 0], minlength=len(cats))):
            out.append((str(cats[k]), np.flatnonzero(c == k)))
        return out


def _sorted_codes(key: Any) -> tuple[Any, Any]:
    """``pd.factorize(key, sort=True)``; for keys already in order (a question's rows come
    by output) read off their runs instead of hashing them."""
    import pandas as pd

    if key.size > 1:
        step = key[1:] != key[:-1]
        if bool((key[1:] >= key[:-1]).all()):
            row = np.empty(key.size, dtype=np.intp)
            row[0] = 0
            np.cumsum(step, out=row[1:])
            return row, key[np.r_[True, step]]
    factorized: tuple[Any, Any] = pd.factorize(key, sort=True)
    return factorized


def _codes_of(col: Any) -> tuple[Any, list[Any]]:
    """A column's integer codes (-1 = missing) and its categories, sorted."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.categories.is_monotonic_increasing:
        return col.cat.codes.to_numpy(), list(col.cat.categories)
    codes, uniq = pd.factorize(col, sort=True)
    return codes, list(uniq)


def panel_rows(ctx: CodedRatings, wide: CodedWide, rows: IntArray, kind: str, cats: Any,
               opts: CIOptions, label: str, **extra: Any) -> tuple[list[dict[str, Any]], Any]:
    """``project._panel_rows_coded`` of a coded table: its rows and its codes (declared, or
    inferred for numeric answers)."""
    num = wide.float_frame() if wide.floats is not None else None
    coded: Coded = encode(num, None) if num is not None else declared(wide.codes, cats)
    split = Split.of(wide, cats, label, coded.codes)
    out = [agreement_row(res, key, split.for_statistic(key, res.n_items), **extra)
           for key, res in panel(num if num is not None else wide, kind, cats, opts, coded,
                                 floats=num)]
    values: Callable[[], Any] = lambda: ctx.values[rows]  # noqa: E731
    annotate(out, wide, kind, cats, values)
    return out, coded.codes


def unit_rows(ctx: CodedRatings, unit: Unit, *, label: str, ids: list[str], kind: str,
              jkind: Kind, cats: Any, gold: Any, by: str | None, opts: CIOptions,
              agree_rows: list[dict[str, Any]], judge_rows: list[dict[str, Any]],
              ceil_rows: list[dict[str, Any]], cal_rows: list[dict[str, Any]]) -> None:
    """Every row of one unit, as ``project_stats``' object path gives them."""
    pooled = len(ids) != 1
    wide = ctx.wide(unit.phys, unit.phys_values, pooled, unit.numeric)
    rows, codes = panel_rows(ctx, wide, unit.phys, kind, cats, opts, label,
                             question_id=label, scope="physicians", group="")
    agree_rows += rows
    if by in ("model", "rater+model") and ctx.mcode is not None:
        for model, sel in ctx.groups(ctx.mcode, ctx.mcats, unit.phys):
            mrows = unit.phys[sel]
            mwide = ctx.wide(mrows, unit.phys_values[sel], pooled, unit.numeric)
            agree_rows += panel_rows(ctx, mwide, mrows, kind, cats, opts, label,
                                     question_id=label, scope="model", group=model)[0]
    if by in ("rater", "rater+model") and not wide.empty:
        split = Split.of(wide, cats, label, codes)
        col = {c: i for i, c in enumerate(wide.columns)}
        for a, b, key, res in pair_panel_coded(wide.columns, codes, kind, cats, opts):
            agree_rows.append(agreement_row(res, key, split.pair(col[a], col[b], res.n_items),
                                            question_id=label, scope="rater_pair",
                                            group=f"{a} | {b}"))
    for jname, sel in ctx.groups(ctx.rcode, ctx.rcats, unit.judge):
        _judge(ctx, jname, unit.judge[sel], unit.judge_values[sel], wide, pooled, jkind, cats,
               gold, ids, label, opts, judge_rows, ceil_rows, cal_rows)


def _judge(ctx: CodedRatings, jname: str, jrows: IntArray, jvalues: Any, wide: CodedWide,
           pooled: bool, kind: Kind, cats: Any, gold: Any, ids: list[str], label: str,
           opts: CIOptions, judge_rows: list[dict[str, Any]], ceil_rows: list[dict[str, Any]],
           cal_rows: list[dict[str, Any]]) -> None:
    """``project._judge_block`` from codes: the judge's rows against the physicians."""
    import pandas as pd

    at, pos = ctx.match(wide, jrows, pooled)
    if not at.size:
        return
    h = wide if at.size == wide.shape[0] else wide.take(at)  # (every item: no copy)
    common = h.index
    numeric = kind == "numeric"
    j = jvalues[pos]
    both = None if numeric else declared(np.column_stack([j, h.codes]), cats)
    x = np.column_stack([j, h.floats]) if numeric else None
    jctx = JudgeContext({"question_id": label, "judge": jname}, label, kind, cats, opts,
                        common, KeyCache(common, label), judge_rows)
    res = emit_judge_rows(jctx, "physicians", h, j, common, None, both, x)
    for i in range(h.shape[1]):
        emit_judge_rows(jctx, f"physician:{h.columns[i]}", h.rater(i), j, common, ("pooled",),
                        both.select_raters([0, i + 1]) if both is not None else None,
                        x[:, [0, i + 1]] if x is not None else None)
    if gold is not None and not gold.empty:
        g = gold[gold["question_id"].isin(ids)]
        if not g.empty:
            gw = g.assign(rater="gold").pipe(
                to_wide, ["output_id", "question_id"] if pooled else "output_id")
            gc = gw.index.intersection(common)
            if len(gc):
                answers = ctx.values[jrows[pos]]
                answers[pd.isna(answers)] = None  # (a copy: as to_wide has them)
                jv = pd.Series(answers, index=common, dtype=object)
                emit_judge_rows(jctx, "gold", gw.loc[gc], jv.loc[gc], gc, ("pooled",))
    try:
        ceil = judge_vs_ceiling(h, j, kind, categories=cats, coded=both, floats=x)
        for r in ceil.rename(columns={"judge": "judge_value"}).to_dict("records"):
            ceil_rows.append({**jctx.base, **r})
    except StatsError:
        pass  # fewer than two physicians per item: no ceiling to show
    if ctx.conf is not None and not numeric and both is not None:
        calibration_rows(h, None, ctx.conf[jrows[pos]], cats, label, jctx.base, judge_rows,
                         cal_rows, both.codes, jctx.common_keys,
                         res.majority if res is not None else None)

