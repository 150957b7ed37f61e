"""The rows of ``project_stats``' tables that both its paths (object tables and answer codes,
``stats.project_coded``) emit: an agreement row with its disagreeing items and outputs, and
the judge's calibration rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from medreview.errors import StatsError
from medreview.stats.calibration import calibration
from medreview.stats.coding import Coded
from medreview.stats.common import CIOptions
from medreview.stats.disagreement import (
    Item,
    KeyCache,
    item_codes,
    item_keys,
    judge_splits,
    output_ids_of,
    select,
    variant_mask,
)
from medreview.stats.judge import JudgeAgreement, Kind, judge_agreement
from medreview.stats.majority import strict_majority
from medreview.stats.results import AgreementResult

_OUTPUTS: dict[int, tuple[list[Item], list[int]]] = {}
_OUTPUT_LISTS = 4


def outputs(items: list[Item]) -> list[int]:
    """The outputs of ``items``; rows sharing one items list share one outputs list."""
    hit = _OUTPUTS.get(id(items))
    if hit is None or hit[0] is not items:
        if len(_OUTPUTS) >= _OUTPUT_LISTS:  # the latest few lists: rows come table by table
            _OUTPUTS.clear()               # (a judge's variants alternate between two)
        hit = _OUTPUTS[id(items)] = (items, output_ids_of(items))
    return hit[1]


def agreement_row(res: AgreementResult, key: str, items: list[Item],
                  **extra: Any) -> dict[str, Any]:
    """One agreement-table row; ``items`` are the items this statistic's raters disagree on."""
    return {**extra, "statistic": key, "method": res.method, "value": res.value,
            "ci_low": res.ci_low, "ci_high": res.ci_high, "n_items": res.n_items,
            "n_raters": res.n_raters, "ci_method": res.ci_method or "",
            "missing_rule": res.missing_rule, "note": res.note,
            "disagreeing_output_ids": outputs(items), "disagreeing_items": items}


def clear_outputs() -> None:
    _OUTPUTS.clear()


def calibration_rows(h: Any, jv: Any, conf: Any, cats: Any, label: str, base: dict[str, Any],
                     judge_rows: list[dict[str, Any]], cal_rows: list[dict[str, Any]],
                     codes: Any = None, keys: KeyCache | None = None,
                     majority: Any = None) -> None:
    """Judge confidence in its own answer vs agreement with the physicians' strict majority
    (items without one, without a judge answer or a confidence are left out). ``codes``: the
    judge's and the physicians' answers as coded for the judge rows, when there are some;
    ``keys``: the item keys of ``h``'s index, shared with the judge rows; ``majority``: the
    physicians' strict majority of ``codes``, if counted already (the judge rows')."""
    import numpy as np

    if codes is None:
        codes = item_codes(np.column_stack([jv.to_numpy(dtype=object),
                                            h.to_numpy(dtype=object)]), cats)
    jc, hc = codes[:, 0], codes[:, 1:]
    if majority is not None and len(majority[0]) == codes.shape[0]:
        maj, has = majority  # (the same per item whatever the category count)
    else:
        maj, has = strict_majority(hc, int(codes.max()) + 1 if codes.size else 1)
    c = np.asarray(conf, dtype=np.float64)
    sel = has & (jc >= 0) & ~np.isnan(c)
    if not sel.any():
        return
    right = jc[sel] == maj[sel]
    cal = calibration(c[sel], right.astype(np.float64))
    wrong_mask = np.zeros(len(sel), dtype=bool)
    wrong_mask[np.flatnonzero(sel)[~right]] = True
    wrong = (keys or KeyCache(h.index, label)).pick(wrong_mask)
    for stat in ("ece", "mce", "brier"):
        judge_rows.append({**base, "reference": "physician_majority", "variant": "calibration",
                           "statistic": stat, "value": getattr(cal, stat), "ci_low": math.nan,
                           "ci_high": math.nan, "n_items": cal.n, "n_raters": h.shape[1],
                           "note": "confidence that the judge's answer is correct (the "
                                   "physicians' strict majority); 10 equal-width bins",
                           "disagreeing_output_ids": output_ids_of(wrong),
                           "disagreeing_items": wrong})
    for r in cal.bins.to_dict("records"):
        cal_rows.append({**base, **r})


@dataclass(frozen=True)
class JudgeContext:
    """What every judge row of one judge and one question (unit) shares."""

    base: dict[str, Any]  # question_id and judge
    label: str
    kind: Kind
    cats: Any
    opts: CIOptions
    common: Any  # the items judged and answered by physicians (a pandas index)
    common_keys: KeyCache  # their item keys, shared by the rows' item lists
    judge_rows: list[dict[str, Any]]


def emit_judge_rows(ctx: JudgeContext, ref: str, human: Any, judge: Any, keys: Any,
                    variants: tuple[str, ...] | None, coded: Coded | None = None,
                    floats: Any = None) -> JudgeAgreement | None:
    """The judge's rows against ``human`` (reference ``ref``; only ``variants`` if given),
    their disagreeing items picked from ``keys`` (the items of ``human``'s rows); ``coded`` /
    ``floats``: the table as ``judge_agreement`` takes them. Returns the agreement, None if
    it is undefined (then one error row says why)."""
    try:
        res = judge_agreement(human, judge, ctx.kind, categories=ctx.cats, ci=ctx.opts.ci,
                              n_resamples=ctx.opts.n_resamples, seed=ctx.opts.seed,
                              coded=coded, floats=floats)
    except StatsError as e:
        ctx.judge_rows.append({**ctx.base, "reference": ref, "variant": "",
                               "statistic": "error", "value": math.nan,
                               "note": f"undefined: {e}", "disagreeing_output_ids": [],
                               "disagreeing_items": []})
        return None
    splits = judge_splits(judge, human, ctx.kind, ctx.cats, res.codes, res.majority,
                          floats=floats)
    per_mask: dict[int, list[Item]] = {}  # variants measuring one split share its list
    label = ctx.label
    picker = ctx.common_keys.pick if keys is ctx.common else (
        lambda mask: item_keys(select(keys, mask), label))
    for r in res.table.to_dict("records"):
        if variants is None or r["variant"] in variants:
            mask = variant_mask(splits, str(r["variant"]))
            if id(mask) not in per_mask:
                per_mask[id(mask)] = picker(mask)
            dis = per_mask[id(mask)]
            ctx.judge_rows.append({**ctx.base, "reference": ref, **r,
                                   "n_raters": human.shape[1],
                                   "disagreeing_output_ids": outputs(dis),
                                   "disagreeing_items": dis})
    return res
