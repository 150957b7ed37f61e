"""Project-level statistics from the long ratings table (DB-free).

``project_stats`` computes, per question (and for all per-case criteria pooled): the agreement
panel among physicians (items = outputs), optionally per model or per rater pair; each judge
against all physicians (pooled pairs, majority), each physician and gold, with the
physician ceiling and calibration; and agreement per error category. Every table has the
columns statistic, value, ci_low, ci_high, n_items, n_raters and ``disagreeing_output_ids``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medreview.domain.rubric import CASE_CRITERION_PREFIX, Question, QuestionKind
from medreview.errors import StatsError
from medreview.progress import CancelToken, Progress, no_progress
from medreview.stats.calibration import calibration
from medreview.stats.common import CIOptions
from medreview.stats.judge import Kind, judge_agreement, judge_vs_ceiling
from medreview.stats.panels import pair_panel, panel
from medreview.stats.results import AgreementResult
from medreview.stats.tables import check_long, disagreeing, output_ids, presence, to_wide

CORE = ["statistic", "value", "ci_low", "ci_high", "n_items", "n_raters",
        "disagreeing_output_ids"]
POOLED_CRITERIA = "criterion:*"


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

    def tables(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "judge": self.judge, "ceiling": self.ceiling,
                "calibration": self.calibration, "errors": self.errors, "scores": self.scores}

    def to_json(self) -> str:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
                return clean(v.item())
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        out: dict[str, Any] = {"meta": dict(self.meta)}
        for name, t in self.tables().items():
            out[name] = [{k: clean(v) for k, v in r.items()} for r in t.to_dict("records")]
        return json.dumps(out, default=str)

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
            lines.append("Judge vs physicians | pooled (judge, physician) pairs; majority "
                         "(ties excluded); per physician | percentile bootstrap over items")
        if not self.calibration.empty:
            lines.append("Calibration (ECE/MCE/Brier) | items with a judge confidence and a "
                         "physician majority | none (10 equal-width bins, count-weighted)")
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


def _disagreeing_ids(wide: Any) -> list[int]:
    return output_ids(disagreeing(wide)) if wide is not None and not wide.empty else []


def _row(res: AgreementResult, key: str, ids: list[int], **extra: Any) -> dict[str, Any]:
    """One agreement-table row; ``ids`` are the outputs whose raters disagree (computed once
    per table, not once per statistic)."""
    return {**extra, "statistic": key, "method": res.method, "value": res.value,
            "ci_low": res.ci_low, "ci_high": res.ci_high, "n_items": res.n_items,
            "n_raters": res.n_raters, "ci_method": res.ci_method or "",
            "missing_rule": res.missing_rule, "note": res.note,
            "disagreeing_output_ids": ids}


def project_stats(ratings: Any, questions: Mapping[str, Question], gold: Any | None = None, *,
                  by: str | None = None, ci: bool = True, per_criterion: bool = False,
                  progress: Progress = no_progress,
                  token: CancelToken | None = None) -> ProjectStats:
    """All project tables; see the module docstring.

    Per-case criteria (HealthBench) are analysed pooled; ``per_criterion=True`` adds a row
    block for each criterion, as point estimates only: a criterion is rated on a handful of
    outputs, too few for a meaningful interval, and bootstrapping thousands of them would
    take minutes.
    """
    import pandas as pd

    if by not in (None, "model", "rater"):
        raise StatsError(f"by must be None, 'model' or 'rater', got {by!r}", item="by")
    check_long(ratings)
    full_opts = CIOptions(ci=ci)
    point_opts = CIOptions(ci=False)
    phys = ratings[ratings["rater_kind"] == "physician"]
    judges = ratings[ratings["rater_kind"] == "judge"]
    # Work units: each question present, then the pooled per-case criteria.
    present = set(ratings["question_id"].unique())  # once: thousands of per-case criteria
    qids = [q for q in questions if q in present]
    case_crit = [q for q in qids if q.startswith(CASE_CRITERION_PREFIX)]
    units: list[tuple[str, list[str]]] = [
        (q, [q]) for q in qids if per_criterion or not q.startswith(CASE_CRITERION_PREFIX)
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
        sub = phys[phys["question_id"].isin(ids)]
        index: Any = "output_id" if len(ids) == 1 else ["output_id", "question_id"]
        if q.kind == QuestionKind.ERROR:
            _error_rows(sub, q, opts, err_rows)
            continue
        if q.kind == QuestionKind.MULTI_CHOICE:
            for opt in q.option_values():
                s2 = sub.assign(value=presence(sub["value"], str(opt)))
                w = to_wide(s2)
                w_ids = _disagreeing_ids(w)
                for key, res in panel(w, "nominal", (False, True), opts):
                    agree_rows.append(_row(res, key, w_ids, question_id=f"{label}[{opt}]",
                                           scope="physicians", group=""))
            continue
        kind = _kind(q)
        if kind is None:
            continue
        cats = _cats(q)
        wide = to_wide(sub, index)
        wide_ids = _disagreeing_ids(wide)
        for key, res in panel(wide, kind, cats, opts):
            agree_rows.append(_row(res, key, wide_ids, question_id=label, scope="physicians",
                                   group=""))
        if by == "model":
            for model, msub in sub.groupby("model"):
                w = to_wide(msub, index)
                w_ids = _disagreeing_ids(w)
                for key, res in panel(w, kind, cats, opts):
                    agree_rows.append(_row(res, key, w_ids, question_id=label, scope="model",
                                           group=str(model)))
        if by == "rater" and not wide.empty:
            for a, b, key, res in pair_panel(wide, kind, cats, opts):
                agree_rows.append(_row(res, key, _disagreeing_ids(wide[[a, b]]),
                                       question_id=label, scope="rater_pair",
                                       group=f"{a} | {b}"))
        jkind: Kind = "binary" if q.kind == QuestionKind.CRITERION else _as_kind(kind)
        for jname, jsub in judges[judges["question_id"].isin(ids)].groupby("rater"):
            _judge_block(str(jname), jsub, wide, index, jkind, cats, gold, ids, label, opts,
                         judge_rows, ceil_rows, cal_rows)
    progress(total, total, "statistics: done")
    scores = _scores(ratings, questions)
    judge_cols = ["question_id", "judge", "reference", "variant", *CORE, "note"]
    return ProjectStats(
        agreement=pd.DataFrame(agree_rows, columns=["question_id", "scope", "group", *CORE,
                                                    "method", "ci_method", "missing_rule",
                                                    "note"]),
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
                                               "note"]),
        scores=scores,
        meta={"ci": ci, "seed": full_opts.seed, "n_resamples": full_opts.n_resamples, "by": by,
              "n_outputs": int(ratings["output_id"].nunique()),
              "n_physicians": int(phys["rater"].nunique()),
              "n_judges": int(judges["rater"].nunique())},
    )


def _as_kind(kind: str) -> Kind:
    return "ordinal" if kind == "ordinal" else "numeric" if kind == "numeric" else "nominal"


def _error_rows(sub: Any, q: Question, opts: CIOptions, rows: list[dict[str, Any]]) -> None:
    for cat in q.categories:
        s2 = sub.assign(value=presence(sub["value"], cat.id))
        w = to_wide(s2)
        vals = [v for v in s2["value"] if v is not None]
        prev = sum(bool(v) for v in vals) / len(vals) if vals else math.nan
        w_ids = _disagreeing_ids(w)
        for key, res in panel(w, "nominal", (False, True), opts):
            rows.append(_row(res, key, w_ids, question_id=q.id, category=cat.id,
                             prevalence=prev))


def _judge_block(jname: str, jsub: Any, wide: Any, index: Any, kind: Kind, cats: Any,
                 gold: Any, ids: list[str], label: str, opts: CIOptions,
                 judge_rows: list[dict[str, Any]], ceil_rows: list[dict[str, Any]],
                 cal_rows: list[dict[str, Any]]) -> None:
    jw = to_wide(jsub, index)
    if jw.empty or wide.empty:
        return
    jcol = jw.iloc[:, 0]
    common = wide.index.intersection(jcol.index)
    if len(common) == 0:
        return
    h = wide.loc[common]
    jv = jcol.loc[common]
    base = {"question_id": label, "judge": jname}

    def emit(ref: str, human: Any, variants: tuple[str, ...] | None) -> None:
        try:
            res = judge_agreement(human, jv.to_numpy(), kind, categories=cats, ci=opts.ci,
                                  n_resamples=opts.n_resamples, seed=opts.seed)
        except StatsError as e:
            judge_rows.append({**base, "reference": ref, "variant": "", "statistic": "error",
                               "value": math.nan, "note": f"undefined: {e}",
                               "disagreeing_output_ids": []})
            return
        hv = human.to_numpy(dtype=object)
        dis = [k for k, j, row in zip(common, jv, hv, strict=True)
               if j is not None and any(x is not None and x != j for x in row)]
        ids_ = output_ids(dis)
        for r in res.table.to_dict("records"):
            if variants is None or r["variant"] in variants:
                judge_rows.append({**base, "reference": ref, **r, "n_raters": hv.shape[1],
                                   "disagreeing_output_ids": ids_})

    emit("physicians", h, None)
    for col in h.columns:
        emit(f"physician:{col}", h[[col]], ("pooled",))
    if gold is not None and not gold.empty:
        g = gold[gold["question_id"].isin(ids)]
        if not g.empty:
            gw = g.assign(rater="gold").pipe(to_wide, index)
            gc = gw.index.intersection(common)
            if len(gc):
                jv_all = jv
                jv = jv_all.loc[gc]
                common_all = common
                common = gc
                emit("gold", gw.loc[gc], ("pooled",))
                jv, common = jv_all, common_all
    try:
        ceil = judge_vs_ceiling(h, jv.to_numpy(), kind, categories=cats)
        for r in ceil.rename(columns={"judge": "judge_value"}).to_dict("records"):
            ceil_rows.append({**base, **r})
    except StatsError:
        pass  # fewer than two physicians per item: no ceiling to show
    conf = jsub.set_index(index)["confidence"] if "confidence" in jsub else None
    if conf is not None and kind != "numeric":
        _calibration_rows(h, jv, conf, base, judge_rows, cal_rows)


def _calibration_rows(h: Any, jv: Any, conf: Any, base: dict[str, Any],
                      judge_rows: list[dict[str, Any]], cal_rows: list[dict[str, Any]]) -> None:
    """Judge confidence in its own answer vs agreement with the physician majority."""
    import pandas as pd

    p, y = [], []
    conf_of = conf.to_dict()  # one hash lookup per item instead of an index search
    judge_of = jv.to_dict()
    for key, row in zip(h.index, h.itertuples(index=False, name=None), strict=True):
        c = conf_of.get(key)
        vals = [v for v in row if v is not None and not (isinstance(v, float) and math.isnan(v))]
        answer = judge_of.get(key)
        if c is None or pd.isna(c) or not vals or answer is None:
            continue
        top = Counter(vals).most_common(2)
        if len(top) > 1 and top[0][1] == top[1][1]:
            continue  # tied majority: no reference label
        p.append(float(c))
        y.append(float(top[0][0] == answer))
    if not p:
        return
    cal = calibration(p, y)
    for stat in ("ece", "mce", "brier"):
        judge_rows.append({**base, "reference": "physician_majority", "variant": "calibration",
                           "statistic": stat, "value": getattr(cal, stat), "ci_low": math.nan,
                           "ci_high": math.nan, "n_items": cal.n, "n_raters": h.shape[1],
                           "note": "confidence that the judge's answer is correct; 10 "
                                   "equal-width bins", "disagreeing_output_ids": []})
    for r in cal.bins.to_dict("records"):
        cal_rows.append({**base, **r})


def _scores(ratings: Any, questions: Mapping[str, Question]) -> Any:
    """Numeric answers per (model, question, rater kind) for score-distribution plots."""
    import pandas as pd

    numeric_kinds = {QuestionKind.CRITERION, QuestionKind.ORDINAL, QuestionKind.NUMBER}
    keep = [qid for qid, q in questions.items() if q.kind in numeric_kinds]
    sub = ratings[ratings["question_id"].isin(keep)]
    vals = pd.to_numeric(sub["value"].map(lambda v: float(v) if isinstance(
        v, (bool, int, float)) else math.nan), errors="coerce")
    out = sub[["model", "question_id", "rater_kind", "output_id"]].assign(value=vals)
    out = out.dropna(subset=["value"])
    is_case = out["question_id"].str.startswith(CASE_CRITERION_PREFIX)
    return out.assign(question_id=out["question_id"].where(~is_case, POOLED_CRITERIA))
