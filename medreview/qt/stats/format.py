"""Display names and number formatting shared by the statistics screens (no widgets here)."""

from __future__ import annotations

import math
from typing import Any

# Statistic keys from medreview.stats -> names a methods section would use. Unknown keys fall
# back to a readable form of the key, so new statistics show up without a change here.
STATISTIC_NAMES = {
    "percent_agreement": "Percent agreement",
    "fleiss_kappa": "Fleiss' κ",
    "gwet_ac1": "Gwet's AC1",
    "gwet_ac2_ordinal": "Gwet's AC2 (ordinal)",
    "gwet_ac2_quadratic": "Gwet's AC2 (quadratic)",
    "brennan_prediger": "Brennan–Prediger",
    "krippendorff_alpha_nominal": "Krippendorff's α (nominal)",
    "krippendorff_alpha_ordinal": "Krippendorff's α (ordinal)",
    "krippendorff_alpha_interval": "Krippendorff's α (interval)",
    "cohen_kappa": "Cohen's κ",
    "cohen_kappa_quadratic": "Cohen's κ (quadratic)",
    "conger_kappa": "Conger's κ",
    "light_kappa": "Light's κ",
    "icc_a1": "ICC(A,1)",
    "icc_1": "ICC(1)",
    "icc_a1_reml": "ICC(A,1) REML",
    "accuracy": "Accuracy",
    "macro_f1": "Macro F1",
    "pabak": "PABAK",
    "prevalence_index": "Prevalence index",
    "bias_index": "Bias index",
    "spearman_rho": "Spearman ρ",
    "kendall_tau_b": "Kendall τ-b",
    "mean_signed_difference": "Mean signed difference",
    "mean_absolute_difference": "Mean absolute difference",
    "bland_altman_bias": "Bland–Altman bias",
    "bland_altman_loa_low": "Bland–Altman lower LoA",
    "bland_altman_loa_high": "Bland–Altman upper LoA",
    "ece": "ECE",
    "mce": "MCE",
    "brier": "Brier score",
    "agreement": "Agreement",
}

VARIANT_NAMES = {
    "pooled": "pooled pairs",
    "majority": "vs strict majority",
    "per_physician_mean": "mean over physicians",
    "physician_mean": "vs physician mean",
    "calibration": "calibration",
}


def statistic_name(key: Any) -> str:
    k = str(key)
    if k in STATISTIC_NAMES:
        return STATISTIC_NAMES[k]
    for prefix in ("precision_", "recall_", "f1_"):
        if k.startswith(prefix):
            head = {"precision_": "Precision", "recall_": "Recall", "f1_": "F1"}[prefix]
            return f"{head} ({k[len(prefix):]})"
    return k.replace("_", " ").capitalize()


def variant_name(key: Any) -> str:
    return VARIANT_NAMES.get(str(key), str(key).replace("_", " "))


def reference_name(key: Any) -> str:
    """``physician:Dr. X`` -> ``Dr. X``; ``physicians`` -> ``all physicians``."""
    k = str(key)
    if k.startswith("physician:"):
        return k.split(":", 1)[1]
    return {"physicians": "all physicians",
            "physician_majority": "physician majority (more than half)",
            "majority": "physician majority (more than half)", "gold": "gold labels"}.get(k, k)


def question_name(qid: Any) -> str:
    q = str(qid)
    if q == "criterion:*":
        return "All criteria (pooled)"
    if q == "score":
        return "Rubric score"
    return q


def is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def number(v: Any, digits: int = 3) -> str:
    """A statistic for display: fixed decimals, an en dash when missing."""
    if is_missing(v):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return f"{float(v):.{digits}f}"


def interval(low: Any, high: Any, digits: int = 3) -> str:
    if is_missing(low) or is_missing(high):
        return "–"
    return f"[{float(low):.{digits}f}, {float(high):.{digits}f}]"


def value_text(v: Any) -> str:
    """An answer value (bool, number, label, list) in a table cell."""
    if is_missing(v):
        return "–"
    if isinstance(v, bool):
        return "met" if v else "not met"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "(none)"
    return str(v)


def items_label(parts: list[str], n: int) -> str:
    """The label sent with the items to open: ``question · comparison · N items``."""
    noun = "item" if n == 1 else "items"
    return " · ".join([p for p in parts if p] + [f"{n} {noun}"])
