"""The frozen result object every agreement statistic returns.

A result is a number plus everything a methods section needs to state about it: the method's
unambiguous name, the CI and how it was obtained, the missing-data rule, how many items and
raters were used, and where the category list came from. ``value`` may be NaN only together
with a ``note`` saying why (an explicit "undefined" state, never a silent NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SEED = 20240601
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class AgreementResult:
    """One coefficient with its provenance. ``float(result) == result.value``."""

    value: float
    ci: tuple[float, float] | None
    n_items: int
    n_raters: int
    method: str
    ci_method: str | None
    missing_rule: str
    note: str = ""
    se: float | None = None
    categories: tuple[Any, ...] = ()
    categories_source: str = "declared"
    seed: int | None = None
    n_resamples: int | None = None
    dropped_resamples: int = 0
    details: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The one invariant the UI relies on: a NaN always comes with its reason.
        if math.isnan(self.value) and not self.note:
            raise ValueError(f"{self.method}: NaN result without an explanatory note")

    def __float__(self) -> float:
        return self.value

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)

    @property
    def ci_low(self) -> float:
        return self.ci[0] if self.ci is not None else math.nan

    @property
    def ci_high(self) -> float:
        return self.ci[1] if self.ci is not None else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (NaN becomes None)."""

        def clean(x: float | None) -> float | None:
            return None if x is None or math.isnan(x) else float(x)

        return {
            "value": clean(self.value),
            "ci": None if self.ci is None else [clean(self.ci[0]), clean(self.ci[1])],
            "se": clean(self.se),
            "n_items": self.n_items,
            "n_raters": self.n_raters,
            "method": self.method,
            "ci_method": self.ci_method,
            "missing_rule": self.missing_rule,
            "note": self.note,
            "categories": [c if isinstance(c, (str, int, float, bool)) else str(c)
                           for c in self.categories],
            "categories_source": self.categories_source,
            "seed": self.seed,
            "n_resamples": self.n_resamples,
            "dropped_resamples": self.dropped_resamples,
            "details": {k: clean(v) for k, v in self.details.items()},
        }
