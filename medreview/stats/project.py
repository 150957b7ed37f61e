"""Project-level statistics from the long ratings table (DB-free).

``project_stats`` computes, per question (and for all per-case criteria pooled): the agreement
panel among physicians (items = outputs), optionally per model or per rater pair; each judge
against all physicians (pooled pairs, majority), each physician and gold, with the
physician ceiling and calibration; and agreement per error category. Every table has the
columns statistic, value, ci_low, ci_high, n_items, n_raters, ``disagreeing_items`` (the
``(output_id, question_id)`` items that row's raters disagree on, ``stats.disagreement``) and
``disagreeing_output_ids`` (their outputs). The physician agreement rows carry a ``paradox``
note where κ/α is low despite high observed agreement (``stats.paradox``).
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, not_
from typing import TYPE_CHECKING, Any, TextIO

from medreview.domain.rubric import CASE_CRITERION_PREFIX, Question, QuestionKind
from medreview.errors import StatsError
from medreview.progress import CancelToken, Progress, no_progress
from medreview.stats.bootstrap import clear_cache
from medreview.stats.coding import Coded, declared, encode
from medreview.stats.common import CIOptions
from medreview.stats.disagreement import (
    KeyCache,
    Split,
)
from medreview.stats.json_tables import write_tables_json
from medreview.stats.judge import Kind, judge_vs_ceiling
from medreview.stats.panels import pair_panel, panel
from medreview.stats.paradox import annotate
from medreview.stats.project_coded import CodedRatings, unit_rows
from medreview.stats.project_rows import JudgeContext, clear_outputs, emit_judge_rows
from medreview.stats.project_rows import agreement_row as _row
from medreview.stats.project_rows import calibration_rows as _calibration_rows
from medreview.stats.tables import POOLED_CRITERIA, check_long, presence, to_wide

if TYPE_CHECKING:
    from medreview.stats.answer_codes import AnswerCodes

# The ratings columns the statistics read.
USED = ("output_id", "model", "rater", "rater_kind", "question_id", "value", "confidence")
CORE = ["statistic", "value", "ci_low", "ci_high", "n_items", "n_raters",
        "disagreeing_output_ids", "disagreeing_items"]
__all__ = ["CORE", "POOLED_CRITERIA", "ProjectStats", "project_stats"]


@dataclass(frozen=True)
class ProjectStats:
    """Plain tables (pandas DataFrames) plus run metadata."""

    agreement: Any
    judge: Any
    ceiling: Any
    calibration: Any
    errors: Any
    scores: Any
    meta: Mapping[str, Any] = field(default_factory=dict)
    # What was left out as not assessed (N/A per question, cannot assess per reason), from
    # the read path's tally (``domain.not_assessed``); None when the caller had no tally.
    not_assessed: Any = None

    def tables(self) -> dict[str, Any]:
        out = {"agreement": self.agreement, "judge": self.judge, "ceiling": self.ceiling,
               "calibration": self.calibration, "errors": self.errors, "scores": self.scores}
        if self.not_assessed is not None:
            out["not_assessed"] = self.not_assessed
        return out

    def to_json(self) -> str:
        """Every table as JSON records, after ``meta`` (``write_json``'s text)."""
        buffer = io.StringIO()
        self.write_json(buffer)
        return buffer.getvalue()

    def write_json(self, out: TextIO) -> None:
        """``to_json``'s text written a slice of rows at a time (the score table holds a row
        per numeric answer: never one dict per row of it in memory)."""
        write_tables_json(out, self.meta, self.tables().items())

    def methods_table(self) -> str:
        """The methods-section table as text: one line per distinct method."""
        seen: dict[str, tuple[str, str]] = {}
        for t in (self.agreement, self.errors):
            for r in t.to_dict("records"):
                m = r.get("method") or ""
                if m and m not in seen and r.get("missing_rule"):
                    seen[m] = (r.get("missing_rule") or "", r.get("ci_method") or "none")
        lines = ["Method | Missing data | Confidence interval", "--- | --- | ---"]
        lines += [f"{m} | {mr} | {cm}" for m, (mr, cm) in sorted(seen.items())]
        if not self.judge.empty:
            lines.append("Judge vs physicians | pooled (judge, physician) pairs; strict "
                         "majority (more than half the physicians; items without one "
                         "excluded); per physician | percentile bootstrap over items")
        if not self.calibration.empty:
            lines.append("Calibration (ECE/MCE/Brier) | items with a judge confidence and a "
                         "strict physician majority | none (10 equal-width bins, "
                         "count-weighted)")
        return "\n".join(lines)


def _kind(q: Question) -> str | None:
    k = q.kind
    if k == QuestionKind.CRITERION:
        return "nominal"
    if k == QuestionKind.ORDINAL:
        return "ordinal"
    if k in (QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        return "nominal"
    if k == QuestionKind.NUMBER:
        return "numeric"
    return None


def _cats(q: Question) -> tuple[Any, ...] | None:
    if q.kind == QuestionKind.CRITERION:
        return (False, True)
    if q.kind == QuestionKind.PAIRWISE and not q.options:
        return ("A", "B", "tie")
    if q.options and q.kind != QuestionKind.NUMBER:
        return tuple(q.option_values())
    return None


def _panel_rows(wide: Any, kind: str, cats: Any, opts: CIOptions, item_question: str,
                **extra: Any) -> list[dict[str, Any]]:
    """The panel's rows; ``item_question`` names the question of plain output-id items."""
    return _panel_rows_coded(wide, kind, cats, opts, item_question, **extra)[0]


def _panel_rows_coded(wide: Any, kind: str, cats: Any, opts: CIOptions, item_question: str,
                      **extra: Any) -> tuple[list[dict[str, Any]], Any]:
    """``_panel_rows`` and the table's codes against the declared categories (None when
    there are none or an answer is not one of them): the judge rows reuse them."""
    coded = None
    if wide is not None and not wide.empty:
        with contextlib.suppress(StatsError):  # the panel reports it in its rows
            coded = encode(wide, cats)
    split = Split.of(wide, cats, item_question, coded.codes if coded is not None else None)
    rows = [_row(res, key, split.for_statistic(key, res.n_items), **extra)
            for key, res in panel(wide, kind, cats, opts, coded)]
    annotate(rows, wide, kind, cats)
    return rows, (coded.codes if coded is not None and cats is not None else None)


def project_stats(ratings: Any, questions: Mapping[str, Question], gold: Any | None = None, *,
                  by: str | None = None, ci: bool = True, per_criterion: bool = False,
                  progress: Progress = no_progress,
                  token: CancelToken | None = None,
                  codes: AnswerCodes | None = None) -> ProjectStats:
    """All project tables; see the module docstring.

    Per-case criteria (HealthBench) are analysed pooled; ``per_criterion=True`` adds a row
    block for each criterion, as point estimates only: a criterion is rated on a handful of
    outputs, too few for a meaningful interval, and bootstrapping thousands of them would
    take minutes.

    ``codes``: the answers of ``ratings`` as codes (``storage.tables.ratings_coded``); the
    questions whose answers all fit their declared categories, or are plain numbers, are
    then computed from them (``stats.project_coded``: the same results, no object tables).
    """
    import numpy as np
    import pandas as pd

    if by not in (None, "model", "rater", "rater+model"):
        raise StatsError(f"by must be None, 'model', 'rater' or 'rater+model', got {by!r}",
                         item="by")
    check_long(ratings)
    full_opts = CIOptions(ci=ci)
    point_opts = CIOptions(ci=False)
    # Only the columns read below: every row filter copies each column kept.
    given = ratings
    ratings = ratings[[c for c in USED if c in ratings.columns]]
    # Question ids as integer codes, so selecting a question's rows is an integer look-up
    # (``isin`` on the string column hashes every row's string, per question).
    qcode, quniq = _question_codes(ratings["question_id"])
    coded = CodedRatings.make(given, codes, qcode, quniq)
    del given
    qpos = dict(zip(quniq.tolist(), range(len(quniq)), strict=True))
    is_phys = (ratings["rater_kind"] == "physician").to_numpy(dtype=bool, na_value=False)
    is_judge = (ratings["rater_kind"] == "judge").to_numpy(dtype=bool, na_value=False)
    scored = ratings
    ratings = _as_categories(ratings, qcode, quniq)
    rows_of = _RowsByQuestion(qcode, qpos)
    read = ["output_id", "question_id", "rater", "value"]
    phys_cols = [c for c in ratings.columns
                 if c in read or (c == "model" and by in ("model", "rater+model"))]
    judge_cols = [c for c in ratings.columns if c in read or c == "confidence"]

    def wanted(ids: list[str]) -> Any:
        """Per question code, whether it is one of ``ids`` (index with codes: row masks)."""
        want = np.zeros(len(quniq) + 1, dtype=bool)  # last entry: a missing question id
        if ids is case_crit and crit_block is not None:  # (one run of the sorted ids)
            want[crit_block[0]:crit_block[1]] = True
        else:
            want[[qpos[q] for q in ids if q in qpos]] = True
        return want

    # Work units: each question present, then the pooled per-case criteria.
    # (C-level map/filter/compress: 1M judgments have 469,488 question ids)
    qids = list(filter(qpos.__contains__, questions))
    is_case = list(map(str.startswith, qids, repeat(CASE_CRITERION_PREFIX)))
    case_crit = list(compress(qids, is_case))
    # The criteria present are one run of the sorted ids; when every one of them is a
    # declared question, the pooled unit's mask is that run (no look-up per criterion).
    crit_block = _prefix_block(quniq, CASE_CRITERION_PREFIX) if case_crit else None
    if crit_block is not None and crit_block[1] - crit_block[0] != len(case_crit):
        crit_block = None
    units: list[tuple[str, list[str]]] = [
        (q, [q]) for q in (qids if per_criterion else compress(qids, map(not_, is_case)))
    ]
    if case_crit:
        units.append((POOLED_CRITERIA, case_crit))
    agree_rows: list[dict[str, Any]] = []
    judge_rows: list[dict[str, Any]] = []
    ceil_rows: list[dict[str, Any]] = []
    cal_rows: list[dict[str, Any]] = []
    err_rows: list[dict[str, Any]] = []
    total = len(units)
    for step, (label, ids) in enumerate(units):
        if token is not None:
            token.raise_if_cancelled()
        progress(step, total, f"statistics: {label}")
        q = questions[ids[0]]
        single_criterion = label.startswith(CASE_CRITERION_PREFIX) and label != POOLED_CRITERIA
        opts = point_opts if single_criterion else full_opts
        pos = rows_of(ids, wanted)
        kind = _kind(q)
        cats = _cats(q)
        jkind: Kind = "binary" if q.kind == QuestionKind.CRITERION else _as_kind(kind or "")
        unit = coded.unit(pos, is_phys, is_judge, kind, cats) \
            if coded is not None and kind is not None else None
        if coded is not None and unit is not None:  # the answers' codes (project_coded)
            unit_rows(coded, unit, label=label, ids=ids, kind=str(kind), jkind=jkind,
                      cats=cats, gold=gold, by=by, opts=opts, agree_rows=agree_rows,
                      judge_rows=judge_rows, ceil_rows=ceil_rows, cal_rows=cal_rows)
            continue
        # (no copy of all physician rows up front; only the columns the panels read)
        sub = ratings[phys_cols].take(pos[is_phys[pos]])
        index: Any = "output_id" if len(ids) == 1 else ["output_id", "question_id"]
        if q.kind == QuestionKind.ERROR:
            _error_rows(sub, q, opts, err_rows)
            continue
        if q.kind == QuestionKind.MULTI_CHOICE:
            for opt in q.option_values():
                s2 = sub.assign(value=presence(sub["value"], str(opt)))
                agree_rows += _panel_rows(to_wide(s2), "nominal", (False, True), opts, q.id,
                                          question_id=f"{label}[{opt}]", scope="physicians",
                                          group="")
            continue
        if kind is None:
            continue
        wide = to_wide(sub, index)
        rows, wide_codes = _panel_rows_coded(wide, kind, cats, opts, label, question_id=label,
                                             scope="physicians", group="")
        agree_rows += rows
        if by in ("model", "rater+model"):
            for model, msub in sub.groupby("model"):
                agree_rows += _panel_rows(to_wide(msub, index), kind, cats, opts, label,
                                          question_id=label, scope="model", group=str(model))
        if by in ("rater", "rater+model") and not wide.empty:
            split = Split.of(wide, cats, label)
            col = {c: i for i, c in enumerate(wide.columns)}
            for a, b, key, res in pair_panel(wide, kind, cats, opts):
                agree_rows.append(_row(res, key, split.pair(col[a], col[b], res.n_items),
                                       question_id=label, scope="rater_pair",
                                       group=f"{a} | {b}"))
        for jname, jsub in ratings[judge_cols].take(pos[is_judge[pos]]).groupby("rater"):
            _judge_block(str(jname), jsub, wide, index, jkind, cats, gold, ids, label, opts,
                         judge_rows, ceil_rows, cal_rows,
                         wide_codes if kind != "numeric" else None)
    pos = unit = None  # (the last unit's rows: freed before the scores table is made)
    progress(total, total, "statistics: all questions")
    clear_outputs()  # (a cache miss at worst for a run in another thread)
    clear_cache()  # the resample counts: hundreds of MB on big projects
    scores = _scores(scored, questions, coded.floats() if coded is not None else None)
    del coded
    judge_cols = ["question_id", "judge", "reference", "variant", *CORE, "note"]
    return ProjectStats(
        agreement=pd.DataFrame(agree_rows, columns=["question_id", "scope", "group", *CORE,
                                                    "method", "ci_method", "missing_rule",
                                                    "note", "paradox"]),
        judge=pd.DataFrame(judge_rows, columns=judge_cols),
        ceiling=pd.DataFrame(ceil_rows, columns=["question_id", "judge", "statistic",
                                                 "judge_value", "physician_mean",
                                                 "physician_min", "physician_max",
                                                 "n_items", "n_physicians"]),
        calibration=pd.DataFrame(cal_rows, columns=["question_id", "judge", "bin", "lower",
                                                    "upper", "count", "mean_confidence",
                                                    "observed_rate"]),
        errors=pd.DataFrame(err_rows, columns=["question_id", "category", "prevalence",
                                               *CORE, "method", "ci_method", "missing_rule",
                                               "note", "paradox"]),
        scores=scores,
        meta={"ci": ci, "seed": full_opts.seed, "n_resamples": full_opts.n_resamples, "by": by,
              "n_outputs": int(ratings["output_id"].nunique()),
              "n_physicians": int(ratings["rater"][is_phys].nunique()),
              "n_judges": int(ratings["rater"][is_judge].nunique())},
    )


def _question_codes(qid: Any) -> tuple[Any, Any]:
    """``pd.factorize(qid, sort=True)``: a categorical's own codes when its categories are
    sorted and all present (``storage.ratings_read``'s), no hash pass and no int64 copy."""
    import numpy as np
    import pandas as pd

    if isinstance(qid.dtype, pd.CategoricalDtype):
        cats = qid.cat.categories
        codes = qid.array.codes  # (a view: ``cat.codes`` copies 8M codes)
        if cats.is_monotonic_increasing and cats.is_unique and len(cats) and \
                bool(np.bincount(codes[codes >= 0], minlength=len(cats)).all()):
            return codes, cats
    factorized: tuple[Any, Any] = pd.factorize(qid, sort=True, use_na_sentinel=True)
    return factorized


_MASK_CALLS = 8  # units selected by one pass over the codes before sorting pays


class _RowsByQuestion:
    """The row positions (ascending) of a unit's questions. One question's rows are a slice
    of the rows sorted by question code (sorted once, when there are many units: per
    criterion); several questions' rows (the pooled criteria) one pass over the codes."""

    def __init__(self, qcode: Any, qpos: Mapping[str, int]) -> None:
        self._qcode, self._qpos = qcode, qpos
        self._order: Any = None
        self._starts: Any = None
        self._calls = 0

    def __call__(self, ids: list[str], wanted: Any) -> Any:
        import numpy as np

        self._calls += 1
        if len(ids) != 1 or ids[0] not in self._qpos or self._calls <= _MASK_CALLS:
            return np.flatnonzero(wanted(ids)[self._qcode])
        if self._order is None:  # many single questions: sort the rows by question once
            self._order = np.argsort(self._qcode, kind="stable")
            self._starts = np.searchsorted(self._qcode[self._order],
                                           np.arange(len(self._qpos) + 1))
        c = self._qpos[ids[0]]
        return self._order[self._starts[c]:self._starts[c + 1]]


def _as_categories(ratings: Any, qcode: Any, quniq: Any) -> Any:
    """The text columns as categoricals with sorted categories (the order ``pivot`` and
    ``groupby`` give), so the many row selections copy integer codes instead of strings.
    Only for object answers: other value columns go through ``pivot``, which would show
    unobserved categories."""
    import pandas as pd

    if ratings["value"].dtype != object or ratings["question_id"].dtype == "category":
        return ratings
    cols = {"question_id": pd.Categorical.from_codes(qcode, categories=quniq)}
    for c in ("model", "rater", "rater_kind"):
        if c in ratings.columns and ratings[c].dtype != "category":
            codes, uniq = pd.factorize(ratings[c], sort=True)
            cols[c] = pd.Categorical.from_codes(codes, categories=uniq)
    return ratings.assign(**cols)


def _as_kind(kind: str) -> Kind:
    return "ordinal" if kind == "ordinal" else "numeric" if kind == "numeric" else "nominal"


def _error_rows(sub: Any, q: Question, opts: CIOptions, rows: list[dict[str, Any]]) -> None:
    for cat in q.categories:
        s2 = sub.assign(value=presence(sub["value"], cat.id))
        vals = [v for v in s2["value"] if v is not None]
        prev = sum(bool(v) for v in vals) / len(vals) if vals else math.nan
        rows += _panel_rows(to_wide(s2), "nominal", (False, True), opts, q.id,
                            question_id=q.id, category=cat.id, prevalence=prev)


def _judge_block(jname: str, jsub: Any, wide: Any, index: Any, kind: Kind, cats: Any,
                 gold: Any, ids: list[str], label: str, opts: CIOptions,
                 judge_rows: list[dict[str, Any]], ceil_rows: list[dict[str, Any]],
                 cal_rows: list[dict[str, Any]], wide_codes: Any = None) -> None:
    """The judge's rows against the physicians' table ``wide``; ``wide_codes``: its codes
    against the declared categories ``cats``, if made (then only the judge's are made)."""
    import numpy as np

    jw = to_wide(jsub, index)
    if jw.empty or wide.empty:
        return
    jcol = jw.iloc[:, 0]
    common = wide.index.intersection(jcol.index)
    if len(common) == 0:
        return
    at = wide.index.get_indexer(common)
    h = wide.take(at)  # (= wide.loc[common])
    jv = jcol.loc[common]
    both: Coded | None = None  # the judge's codes beside the physicians', if declared
    if wide_codes is not None:
        with contextlib.suppress(StatsError):  # (judge_agreement reports it)
            judge_codes = encode(jv.to_numpy(dtype=object)[:, None], cats).codes
            both = declared(np.column_stack([judge_codes, wide_codes[at]]), cats)
    base = {"question_id": label, "judge": jname}
    common_keys = KeyCache(common, label)  # the rows' item lists share their key objects
    jctx = JudgeContext(base, label, kind, cats, opts, common, common_keys, judge_rows)
    coded_all: list[Any] = []  # the codes of the judge beside every physician, for calibration
    majority_all: list[Any] = []  # and the physicians' strict majority of those codes

    def emit(ref: str, human: Any, judge: Any, keys: Any,
             variants: tuple[str, ...] | None, coded: Coded | None = None) -> None:
        res = emit_judge_rows(jctx, ref, human, judge, keys, variants, coded)
        if res is not None and ref == "physicians":
            coded_all.append(res.codes)
            majority_all.append(res.majority)

    emit("physicians", h, jv, common, None, both)
    # Declared categories: each physician's codes are columns of the codes just made.
    all_coded = (declared(coded_all[0], cats)
                 if coded_all and cats is not None and kind != "numeric" else None)
    for i, col in enumerate(h.columns):
        emit(f"physician:{col}", h[[col]], jv, common, ("pooled",),
             all_coded.select_raters([0, i + 1]) if all_coded is not None else None)
    if gold is not None and not gold.empty:
        g = gold[gold["question_id"].isin(ids)]
        if not g.empty:
            gw = g.assign(rater="gold").pipe(to_wide, index)
            gc = gw.index.intersection(common)
            if len(gc):
                emit("gold", gw.loc[gc], jv.loc[gc], gc, ("pooled",))
    try:
        ceil = judge_vs_ceiling(h, jv.to_numpy(), kind, categories=cats, coded=all_coded)
        for r in ceil.rename(columns={"judge": "judge_value"}).to_dict("records"):
            ceil_rows.append({**base, **r})
    except StatsError:
        pass  # fewer than two physicians per item: no ceiling to show
    conf = jsub.set_index(index)["confidence"] if "confidence" in jsub else None
    if conf is not None and kind != "numeric":
        _calibration_rows(h, jv, conf.reindex(common), cats, label, base, judge_rows, cal_rows,
                          coded_all[0] if coded_all else None, common_keys,
                          majority_all[0] if majority_all else None)


def _scores(ratings: Any, questions: Mapping[str, Question], floats: Any = None) -> Any:
    """Numeric answers per (model, question, rater kind) for score-distribution plots;
    ``floats``: every row's answer as ``_as_floats`` converts it, if made already."""
    import numpy as np
    import pandas as pd

    numeric_kinds = {QuestionKind.CRITERION, QuestionKind.ORDINAL, QuestionKind.NUMBER}
    # (``q.kind in numeric_kinds`` once per distinct kind object, then by identity in C: an
    # Enum hashes in Python, and 1M judgments have 469,488 questions)
    kinds = list(map(attrgetter("kind"), questions.values()))
    distinct = dict(zip(map(id, kinds), kinds, strict=True))
    numeric_of = {i: k in numeric_kinds for i, k in distinct.items()}
    keep = list(compress(questions.keys(), map(numeric_of.__getitem__, map(id, kinds))))
    del kinds
    qid_col = ratings["question_id"]
    if isinstance(qid_col.dtype, pd.CategoricalDtype):  # its own codes: no hash pass
        qcode, quniq = qid_col.cat.codes.to_numpy(), qid_col.cat.categories
    else:
        qcode, quniq = pd.factorize(qid_col)
    # (one set look-up per distinct id: ``isin`` on Arrow strings converted each of the
    # 469,488 ids of 1M judgments to an Arrow scalar, 2-4 s; last entry: a missing id)
    keep_set = set(keep)
    want = np.append(np.fromiter(map(keep_set.__contains__, quniq.tolist()), dtype=bool,
                                 count=len(quniq)), False)
    keep_rows = want[qcode]
    every = bool(keep_rows.all())
    # The four columns kept, then their rows (no copy of every row; a copy of the whole table's
    # selected rows peaked at 1.7 GB over the table at 1M judgments)
    sub = ratings[["model", "question_id", "rater_kind", "output_id"]]
    if every:
        vals = floats if floats is not None else \
            _as_floats(ratings["value"].to_numpy(dtype=object))
    else:
        sub = sub[keep_rows]
        vals = floats[keep_rows] if floats is not None else \
            _as_floats(ratings["value"].to_numpy(dtype=object)[keep_rows])
    out = sub.assign(value=vals)
    numbers = ~np.isnan(vals)
    if not numbers.all():  # (all numbers: the columns stay the ratings' own, no copy)
        out = out[numbers]
    out = out.reset_index(drop=True)  # (no 8M-row index kept)
    qid = out["question_id"]
    if isinstance(qid.dtype, pd.CategoricalDtype):  # (storage.ratings_read): by category
        return out.assign(question_id=_pooled_categories(qid))
    is_case = qid.str.startswith(CASE_CRITERION_PREFIX)
    return out.assign(question_id=qid.where(~is_case, POOLED_CRITERIA))


def _pooled_categories(qid: Any) -> Any:
    """Categorical question ids with every per-case criterion as ``POOLED_CRITERIA``: the
    categories recoded (sorted, as given), not one string per row."""
    import numpy as np
    import pandas as pd

    cats = qid.cat.categories
    block = _prefix_block(cats, CASE_CRITERION_PREFIX)
    if block is not None:  # sorted: the criteria are one run, replaced by the pooled id
        lo, hi = block
        head, tail = cats[:lo].tolist(), cats[hi:].tolist()
        new = [*head, POOLED_CRITERIA, *tail] if hi > lo else head + tail
        lut = np.concatenate([np.arange(lo), np.full(hi - lo, lo),
                              np.arange(len(tail)) + lo + (hi > lo), [-1]]).astype(np.int32)
    else:
        old = [str(c) for c in cats]
        new = sorted({POOLED_CRITERIA if c.startswith(CASE_CRITERION_PREFIX) else c
                      for c in old})
        pos = {c: i for i, c in enumerate(new)}
        lut = np.array([pos[POOLED_CRITERIA if c.startswith(CASE_CRITERION_PREFIX) else c]
                        for c in old] + [-1], dtype=np.int32)  # last: a missing id stays
    return pd.Series(pd.Categorical.from_codes(lut.take(qid.cat.codes.to_numpy()),
                                               categories=pd.Index(new)), index=qid.index)


def _prefix_block(cats: Any, prefix: str) -> tuple[int, int] | None:
    """``(lo, hi)``: the categories starting with ``prefix`` are ``cats[lo:hi]``, found by
    two binary searches (in sorted text they are the run from ``prefix`` up to, excluding,
    ``prefix`` with its last character incremented); None unless ``cats`` are distinct
    strings in increasing order."""
    if not prefix or cats.inferred_type != "string" or not cats.is_unique \
            or not cats.is_monotonic_increasing:
        return None
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    # (``bisect`` reads ~20 entries; ``Index.searchsorted`` on Arrow strings converted all
    # 469,488 ids of 1M judgments to objects first: 0.17 s)
    return bisect.bisect_left(cats, prefix), bisect.bisect_left(cats, end)


def _as_floats(values: Any) -> Any:
    """``float(v)`` for bool, int and float answers, NaN for the rest (text, lists, None).

    Classified by type, once per distinct type (``isinstance`` is ``issubclass`` of the
    value's type), then converted by numpy: no Python step per answer."""
    import numpy as np

    out = np.full(values.shape[0], np.nan)
    if not values.size:
        return out
    present = set(map(type, values))
    if present <= {bool, int, float}:  # every answer a number: one conversion, no copies
        with contextlib.suppress(OverflowError, TypeError, ValueError):
            converted: Any = values.astype(np.float64)
            return converted
    if present <= {bool, int, float, type(None)}:  # the usual answers: one C pass each
        mask = values != None  # noqa: E711 (elementwise)
        try:
            out[mask] = values[mask].astype(np.float64)
            return out
        except (OverflowError, TypeError, ValueError):
            pass
    types = np.frompyfunc(type, 1, 1)(values)
    number = {t: issubclass(t, (bool, int, float)) for t in set(types)}
    mask = np.frompyfunc(number.__getitem__, 1, 1)(types).astype(bool)
    try:
        out[mask] = values[mask].astype(np.float64)
    except (OverflowError, TypeError, ValueError):  # e.g. an int beyond float: one by one
        out[mask] = [_float_or_nan(v) for v in values[mask]]
    return out


def _float_or_nan(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer answer beyond float range: no score to plot
        return math.nan
