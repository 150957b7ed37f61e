"""The judge against one reference at a time (the judge calibration view), from plain tables.

For one judge and one question: the judge against each physician, the physicians' strict
majority (or mean, for numbers) and gold labels, each with its agreement table, confusion
matrix, leniency (mean signed difference judge - reference, bootstrapped over outputs) and
calibration (the judge's confidence against "its answer matches the reference"), next to the
physician-versus-physician ceiling on the same items.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from medreview.domain.rubric import CASE_CRITERION_PREFIX, QuestionKind
from medreview.progress import CancelToken, Progress, no_progress
from medreview.stats.reference import (
    answer_kind,
    answers,
    differs,
    question_label,
    question_rows,
    reference_labels,
)
from medreview.stats.tables import POOLED_CRITERIA, RatingTables


def judge_raters(tables: RatingTables) -> list[str]:
    """Names of the judge raters that have answers in the project."""
    r = tables.ratings
    return sorted(str(x) for x in r.loc[r["rater_kind"] == "judge", "rater"].unique())


def judge_kind(tables: RatingTables, question_id: str
               ) -> tuple[str, tuple[Any, ...] | None] | None:
    """(kind for stats.judge, declared categories) or None for unsupported question kinds."""
    if question_id == POOLED_CRITERIA:
        return "binary", (False, True)
    q = tables.questions.get(question_id)
    if q is None:
        return None
    if q.kind == QuestionKind.CRITERION:
        return "binary", (False, True)
    if q.kind == QuestionKind.NUMBER:
        return "numeric", None
    cats = tuple(q.option_values()) or None
    if q.kind == QuestionKind.ORDINAL:
        return "ordinal", cats
    if q.kind == QuestionKind.SINGLE_CHOICE:
        return "nominal", cats
    if q.kind == QuestionKind.PAIRWISE:
        return "nominal", cats or ("A", "B", "tie")
    return None


def calibration_questions(tables: RatingTables, judge: str) -> list[str]:
    """Questions the judge answered that a calibration view can compare (rubric order), with
    the per-case criteria pooled into ``criterion:*``."""
    r = tables.ratings
    answered = set(r.loc[r["rater"] == judge, "question_id"])
    out: list[str] = []
    pooled = False
    for qid in tables.questions:
        if qid not in answered:
            continue
        if qid.startswith(CASE_CRITERION_PREFIX):
            pooled = True
        elif judge_kind(tables, qid) is not None:
            out.append(qid)
    return ([POOLED_CRITERIA] if pooled else []) + out


@dataclass(frozen=True)
class ReferenceComparison:
    """The judge against one reference (a physician, the physicians' majority, gold)."""

    reference: str  # physician:<name> | majority | gold
    label: str
    agreement: Any  # DataFrame from stats.judge (statistic, variant, value, ci_low, ci_high, ...)
    confusion: Any  # DataFrame (rows = reference label, columns = judge label) or None
    leniency: float  # mean signed difference judge - reference (booleans as 0/1); NaN if n/a
    leniency_ci: tuple[float, float]
    calibration: Any  # stats.calibration.Calibration or None
    items: Any  # DataFrame: output_id, question_id, case_external_id, model, judge, reference,
    #             confidence, agree
    note: str = ""

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def disagreeing_items(self) -> list[tuple[int, str]]:
        """(output id, question id) of the items where the judge differs from the reference
        (the unit of ``n_items``)."""
        it = self.items
        if not len(it):
            return []
        bad = it.loc[~it["agree"]]
        return [(int(o), str(q)) for o, q in zip(bad["output_id"], bad["question_id"],
                                                  strict=True)]

    @property
    def disagreeing_output_ids(self) -> list[int]:
        it = self.items
        return sorted({int(o) for o in it.loc[~it["agree"], "output_id"]}) if len(it) else []

    def value(self, statistic: str, variant: str = "pooled") -> float:
        t = self.agreement
        if t is None or t.empty:
            return float("nan")
        hit = t[(t["statistic"] == statistic) & (t["variant"] == variant)]
        return float(hit["value"].iloc[0]) if len(hit) else float("nan")


@dataclass(frozen=True)
class JudgeCalibration:
    judge: str
    question_id: str
    question_label: str
    kind: str  # binary | ordinal | nominal | numeric
    references: tuple[ReferenceComparison, ...]
    ceiling: Any  # DataFrame from stats.judge.judge_vs_ceiling (may be empty)
    physicians: tuple[str, ...]
    note: str = ""

    def reference(self, name: str) -> ReferenceComparison:
        for r in self.references:
            if r.reference == name:
                return r
        raise KeyError(name)


def _as_number(v: Any) -> float:
    if isinstance(v, (bool, int, float)):
        return float(v)
    return float("nan")


def leniency(items: Any, seed: int, n_resamples: int) -> tuple[float, tuple[float, float]]:
    """Mean signed difference judge - reference, with a percentile bootstrap over outputs
    (``stats.bootstrap``: an output's criteria move together)."""
    import numpy as np

    from medreview.stats.bootstrap import bootstrap_ci

    nan = float("nan")
    d = np.array([_as_number(j) - _as_number(r) for j, r in
                  zip(items["judge"], items["reference"], strict=True)], dtype=float)
    ok = ~np.isnan(d)
    if not ok.any():
        return nan, (nan, nan)
    _, inv = np.unique(items["output_id"].to_numpy()[ok], return_inverse=True)
    # Per output: (sum of differences, number of differences).
    feats = np.column_stack([np.bincount(inv, weights=d[ok]),
                             np.bincount(inv).astype(float)])
    value = float(feats[:, 0].sum() / feats[:, 1].sum())
    ci = bootstrap_ci(feats, lambda s: s[:, 0] / s[:, 1], n_resamples=n_resamples, seed=seed)
    return value, ((ci.low, ci.high) if ci is not None else (nan, nan))


ITEM_COLUMNS = ["output_id", "question_id", "case_external_id", "model", "judge", "reference",
                "confidence", "agree"]


def comparison(tables: RatingTables, question_id: str, judge_rows: Any, reference: str,
               label: str, kind: str, cats: tuple[Any, ...] | None,
               ci: bool) -> ReferenceComparison:
    """The judge's answers (``judge_rows``) against one reference."""
    import pandas as pd

    from medreview.errors import StatsError
    from medreview.stats.calibration import calibration
    from medreview.stats.judge import judge_agreement
    from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED

    numeric = kind == "numeric"
    qkind = answer_kind(tables, question_id)
    ref = reference_labels(tables, question_id, reference)
    jr = judge_rows
    meta = {(int(o), str(q)): (c, m, float(conf)) for o, q, c, m, conf in zip(
        jr["output_id"], jr["question_id"], jr["case_external_id"], jr["model"],
        jr["confidence"], strict=True)}
    rows = []
    for key, j in answers(judge_rows):
        r = ref.get(key)
        if r is None:
            continue
        case, model, conf = meta[key]
        rows.append({"output_id": key[0], "question_id": key[1], "case_external_id": case,
                     "model": model, "judge": j, "reference": r, "confidence": conf,
                     "agree": not differs(j, r, numeric, qkind)})
    items = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    empty = pd.DataFrame()
    nan = float("nan")
    if items.empty:
        return ReferenceComparison(reference, label, empty, None, nan, (nan, nan), None, items,
                                   "no output has both a judge answer and this reference")
    note = ""
    try:
        res = judge_agreement(items[["reference"]], items["judge"].to_numpy(dtype=object),
                              kind, categories=cats, ci=ci)  # type: ignore[arg-type]
        table, confusion = res.table, res.confusion
        if confusion is not None:
            confusion = confusion.rename(index=lambda s: s.replace("physician=", ""),
                                         columns=lambda s: s.replace("judge=", ""))
    except StatsError as e:
        table, confusion, note = empty, None, f"undefined: {e}"
    lenient, lenient_ci = leniency(items, DEFAULT_SEED, DEFAULT_RESAMPLES if ci else 0)
    cal = None
    if not numeric:
        conf = items[items["confidence"].notna()]
        if len(conf):
            cal = calibration(conf["confidence"].to_numpy(float),
                              conf["agree"].to_numpy(float))
    return ReferenceComparison(reference, label, table, confusion, lenient, lenient_ci, cal,
                               items, note)


def judge_calibration(
    tables: RatingTables,
    judge: str,
    question_id: str,
    *,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> JudgeCalibration:
    """The judge against each physician, the physicians' strict majority and gold (if any),
    with the physician-versus-physician ceiling on the same items.

    Calibration: the judge's confidence in its own answer against whether that answer matches
    the reference (10 equal-width bins), as in ``stats.project``.
    """
    import pandas as pd

    from medreview.errors import StatsError
    from medreview.stats.judge import judge_vs_ceiling
    from medreview.stats.tables import to_wide

    label = question_label(tables, question_id)
    spec = judge_kind(tables, question_id)
    ratings = question_rows(tables.ratings, question_id)
    phys_rows = ratings[ratings["rater_kind"] == "physician"]
    physicians = tuple(sorted(str(x) for x in phys_rows["rater"].unique()))
    judge_rows = ratings[ratings["rater"] == judge]
    if spec is None or judge_rows.empty:
        why = ("this question kind has no judge comparison" if spec is None
               else f"{judge} has not answered this question")
        return JudgeCalibration(judge, question_id, label, spec[0] if spec else "", (),
                                pd.DataFrame(), physicians, why)
    kind, cats = spec
    majority = ("Physician mean" if kind == "numeric"
                else "Physician majority (more than half)")
    refs = [(f"physician:{p}", p) for p in physicians] + [("majority", majority)]
    if tables.gold is not None and not question_rows(tables.gold, question_id).empty:
        refs.append(("gold", "Gold labels"))
    out: list[ReferenceComparison] = []
    for step, (ref, ref_label) in enumerate(refs):
        if token is not None:
            token.raise_if_cancelled()
        progress(step, len(refs) + 1, f"judge vs {ref_label}")
        out.append(comparison(tables, question_id, judge_rows, ref, ref_label, kind, cats, ci))
    progress(len(refs), len(refs) + 1, "physician ceiling")
    ceiling = pd.DataFrame()
    index = ["output_id", "question_id"]
    wide = to_wide(phys_rows, index)
    jw = to_wide(judge_rows, index)
    if not wide.empty and not jw.empty:
        common = wide.index.intersection(jw.index)
        # Fewer than two physicians on every item: no ceiling to show.
        with contextlib.suppress(StatsError):
            ceiling = judge_vs_ceiling(wide.loc[common], jw.iloc[:, 0].loc[common].to_numpy(),
                                       kind, categories=cats)  # type: ignore[arg-type]
    progress(len(refs) + 1, len(refs) + 1, "compared")
    return JudgeCalibration(judge, question_id, label, kind, tuple(out), ceiling, physicians)
