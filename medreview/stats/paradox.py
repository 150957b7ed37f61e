"""Notes on paradoxical κ/α: high observed agreement, yet a low chance-corrected coefficient.

κ and α subtract the agreement expected by chance from the raters' pooled answers. When one
answer dominates (prevalence: "no error" on 95 % of items) or the answers use a narrow part of
an ordinal scale (restricted range), chance agreement is itself high and κ/α fall near zero or
below even though the raters almost always agree (Feinstein & Cicchetti 1990; Krippendorff's
reply in fast-krippendorff#11). Gwet's AC1/AC2 estimate chance agreement differently and stay
close to the observed agreement there, so the note names its value beside κ/α.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

HIGH_AGREEMENT = 0.80  # percent agreement at or above this is "high"
LOW_COEFFICIENT = 0.40  # κ/α below this is at most "fair" (Landis & Koch)
DOMINANT_SHARE = 0.80  # one answer this common is a skewed prevalence
CHANCE_CORRECTED = {
    "fleiss_kappa": "Fleiss' κ",
    "cohen_kappa": "Cohen's κ",
    "cohen_kappa_quadratic": "Cohen's κ (quadratic)",
    "conger_kappa": "Conger's κ",
    "conger_kappa_quadratic": "Conger's κ (quadratic)",
    "light_kappa": "Light's κ",
    "light_kappa_quadratic": "Light's κ (quadratic)",
    "krippendorff_alpha_nominal": "Krippendorff's α (nominal)",
    "krippendorff_alpha_ordinal": "Krippendorff's α (ordinal)",
    "krippendorff_alpha_interval": "Krippendorff's α (interval)",
}
GWET = {"gwet_ac1": "Gwet's AC1", "gwet_ac2_ordinal": "Gwet's AC2 (ordinal)"}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(float(v))


def answer_spread(wide: Any, values: Any = None) -> tuple[Any, float, int]:
    """(most common answer, its share of all answers, number of distinct answers used);
    ``values``: the table's answers as a flat object array instead (missing ones or not)."""
    import pandas as pd

    flat = pd.Series(values if values is not None else wide.to_numpy(dtype=object).ravel())
    flat = flat[flat.map(lambda v: v is not None and not (isinstance(v, float) and v != v))]
    if flat.empty:
        return None, math.nan, 0
    counts = flat.map(str).value_counts()
    top = counts.index[0]
    return top, float(counts.iloc[0]) / float(counts.sum()), int(counts.size)


def cause(kind: str, top: Any, share: float, used: int, declared: Sequence[Any] | None) -> str:
    """Why chance agreement is high here, in words."""
    if math.isfinite(share) and share >= DOMINANT_SHARE:
        return (f"{share:.0%} of all answers are {top!s} (skewed prevalence), so agreement "
                "expected by chance is high")
    q = len(declared) if declared else 0
    if kind == "ordinal" and q and used <= max(2, q // 2):
        return (f"the answers use only {used} of the {q} scale points (restricted range), so "
                "agreement expected by chance is high")
    return "the raters' answer distributions make agreement expected by chance high"


def annotate(rows: list[dict[str, Any]], wide: Any, kind: str,
             categories: Sequence[Any] | None, values: Callable[[], Any] | None = None) -> None:
    """Set ``paradox`` on the κ/α rows of one panel (rows of one table of answers);
    ``values``: gives the table's answers flat, when ``wide`` holds codes, not answers."""
    by_stat = {str(r["statistic"]): r for r in rows}
    for r in rows:
        r.setdefault("paradox", "")
    pa_value: Any = by_stat.get("percent_agreement", {}).get("value")
    if not _finite(pa_value) or float(pa_value) < HIGH_AGREEMENT:
        return
    pa = float(pa_value)
    gwet = next(((name, by_stat[k]["value"]) for k, name in GWET.items()
                 if k in by_stat and _finite(by_stat[k]["value"])), None)
    # An undefined κ/α (every answer the same: no variation) already says so in its note.
    low = [r for r in rows if str(r["statistic"]) in CHANCE_CORRECTED and _finite(r["value"])
           and float(r["value"]) < LOW_COEFFICIENT]
    if not low:
        return
    top, share, used = answer_spread(wide, values() if values is not None else None)
    why = cause(kind, top, share, used, categories)
    for r in low:
        name = CHANCE_CORRECTED[str(r["statistic"])]
        value = f"{float(r['value']):.2f}"
        beside = (f" {gwet[0]} = {float(gwet[1]):.2f}, which corrects for chance differently, "
                  "stays close to the observed agreement.") if gwet else ""
        r["paradox"] = (f"Paradox: percent agreement {pa:.2f} but {name} {value}: "
                        f"{why}.{beside}")
