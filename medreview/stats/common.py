"""Shared plumbing for the agreement functions: input checks, result assembly, CI options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medreview.errors import StatsError
from medreview.stats.bootstrap import Finalize, bootstrap_ci
from medreview.stats.coding import Coded, FloatArray, encode
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult

NO_VARIATION = "undefined: no variation (every rating falls in one category, chance agreement = 1)"


@dataclass(frozen=True)
class CIOptions:
    ci: bool = True
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    level: float = 0.95

    def __post_init__(self) -> None:
        if not 0.5 < self.level < 1.0:
            raise StatsError(f"confidence level must be in (0.5, 1), got {self.level}",
                             item="level")
        if self.n_resamples < 1:
            raise StatsError("n_resamples must be positive", item="n_resamples")


def prepare(ratings: Any, categories: Sequence[Any] | None, *, what: str,
            min_raters: int = 2) -> Coded:
    """Encode and check that at least one item has two ratings."""
    coded = encode(ratings, categories)
    if coded.codes.shape[1] < min_raters:
        raise StatsError(f"{what} needs at least {min_raters} raters, got "
                         f"{coded.codes.shape[1]}", item="ratings")
    if coded.codes.shape[0] == 0:
        raise StatsError(f"{what}: the ratings table has no items", item="ratings")
    per_item = (coded.codes >= 0).sum(axis=1)
    if not np.any(per_item >= 2):
        raise StatsError(f"{what}: no item has ratings from two or more raters "
                         "(all missing or a single rater)", item="ratings")
    return coded


def active_raters(coded: Coded) -> int:
    return int(np.count_nonzero(coded.rated_raters()))


def boot_fields(features: FloatArray, finalize: Finalize, opts: CIOptions
                ) -> dict[str, Any]:
    """CI-related result fields from a bootstrap (or a note when none is possible)."""
    b = bootstrap_ci(features, finalize, n_resamples=opts.n_resamples, seed=opts.seed,
                     level=opts.level)
    if b is None:
        return {"ci": None, "ci_method": None,
                "note_ci": "no CI: fewer than 2 items or no defined bootstrap replicate"}
    return {"ci": (b.low, b.high), "ci_method": b.method, "seed": b.seed,
            "n_resamples": b.n_resamples, "dropped_resamples": b.dropped}


def make_result(*, value: float, coded: Coded, method: str, missing_rule: str, n_items: int,
                note: str = "", ci_fields: Mapping[str, Any] | None = None,
                se: float | None = None, details: Mapping[str, float] | None = None
                ) -> AgreementResult:
    f = dict(ci_fields or {})
    notes = [n for n in (note, f.pop("note_ci", "")) if n]
    if coded.inferred:
        cats = list(coded.categories)
        # A numeric scale can have hundreds of distinct values: name the range, not each one.
        shown = (f"{cats}" if len(cats) <= 12
                 else f"{len(cats)} distinct values, {cats[0]} to {cats[-1]}")
        notes.append(f"categories inferred from data: {shown}")
    return AgreementResult(
        value=float(value),
        ci=f.get("ci"),
        n_items=n_items,
        n_raters=active_raters(coded),
        method=method,
        ci_method=f.get("ci_method"),
        missing_rule=missing_rule,
        note="; ".join(notes),
        se=se,
        categories=coded.categories,
        categories_source=coded.categories_source,
        seed=f.get("seed"),
        n_resamples=f.get("n_resamples"),
        dropped_resamples=int(f.get("dropped_resamples", 0)),
        details=dict(details or {}),
    )
