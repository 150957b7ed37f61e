"""Agreement weight matrices, built from category *values* (not label positions).

``w[k, l]`` in [0, 1], ``w[k, k] = 1``. Linear, quadratic and ratio weights use the declared
numeric values and the declared range, so ``{1, 2, 5}`` is weighted by value (the defect of
``sklearn.cohen_kappa_score``, which uses label indices, is avoided). "ordinal" is Gwet's
rank-distance weighting (Gwet 2014, irrCAC), which is *not* Krippendorff's ordinal metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medreview.errors import StatsError
from medreview.stats.coding import FloatArray

WEIGHT_NAMES = ("identity", "linear", "quadratic", "ordinal", "ratio")

WEIGHT_LABELS = {
    "identity": "unweighted",
    "linear": "linear weights",
    "quadratic": "quadratic weights",
    "ordinal": "Gwet ordinal weights",
    "ratio": "ratio weights",
    "custom": "custom weights",
}


def weight_matrix(weights: Any, values: FloatArray) -> tuple[FloatArray, str]:
    """Return ``(w, name)`` for ``weights`` in None | a name | a q x q agreement matrix."""
    q = values.shape[0]
    if weights is None or (isinstance(weights, str) and weights == "identity"):
        return np.eye(q), "identity"
    if not isinstance(weights, str):
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (q, q):
            raise StatsError(f"custom weight matrix must be {q} x {q}, got {w.shape}",
                             item="weights")
        if not np.allclose(np.diag(w), 1.0) or np.any(w < 0) or np.any(w > 1):
            raise StatsError("custom agreement weights must lie in [0, 1] with 1 on the "
                             "diagonal", item="weights")
        return w, "custom"
    if weights not in WEIGHT_NAMES:
        raise StatsError(f"unknown weights {weights!r}; choose one of {WEIGHT_NAMES}",
                         item="weights")
    if q < 2:
        return np.eye(q), weights
    x = values
    span = float(x.max() - x.min())
    d = x[:, None] - x[None, :]
    if weights == "linear":
        return 1.0 - np.abs(d) / span, "linear"
    if weights == "quadratic":
        return 1.0 - d**2 / span**2, "quadratic"
    if weights == "ordinal":
        # Gwet: v_kl = C(|k-l|+1, 2) on ranks, rescaled to max 1.
        k = np.arange(q)
        m = np.abs(k[:, None] - k[None, :]) + 1
        v = m * (m - 1) / 2.0
        return 1.0 - v / v.max(), "ordinal"
    # ratio
    if np.any(x <= 0) and np.any(x >= 0) and np.any(x == 0):
        raise StatsError("ratio weights need categories that are all non-zero", item="weights")
    s = x[:, None] + x[None, :]
    v = (d / s) ** 2
    vmax = ((x.max() - x.min()) / (x.max() + x.min())) ** 2
    return 1.0 - v / vmax, "ratio"
