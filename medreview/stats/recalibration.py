"""Recalibrating a judge's confidence: isotonic regression (pool adjacent violators) and Platt
scaling (logistic regression on the logit of the confidence, Newton iterations). Numpy only.

Both are fitted on one set of (confidence, correct) pairs and applied to another; the judge
development loop fits on the training split and reports ECE and Brier on the test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.coding import FloatArray

Method = Literal["isotonic", "platt"]
_EPS = 1e-6


def _pairs(confidence: Any, correct: Any) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(confidence, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise StatsError(f"{x.size} confidences but {y.size} outcomes", item="calibration")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        raise StatsError("fewer than 2 confidences to fit a calibration map on",
                         item="calibration")
    if ((x < 0) | (x > 1)).any() or ((y < 0) | (y > 1)).any():
        raise StatsError("confidences and outcomes must lie in [0, 1]", item="calibration")
    return x, y


@dataclass(frozen=True)
class IsotonicMap:
    """A non-decreasing step function: ``x`` thresholds (ascending), ``y`` fitted values;
    between thresholds the value is interpolated linearly, outside them held constant."""

    x: FloatArray
    y: FloatArray

    def __call__(self, confidence: Any) -> FloatArray:
        c = np.asarray(confidence, dtype=np.float64)
        out: FloatArray = np.interp(c, self.x, self.y)
        return out


def pav(y: FloatArray, w: FloatArray) -> FloatArray:
    """Pool adjacent violators: the weighted least-squares non-decreasing fit to ``y``."""
    n = y.size
    means = np.empty(n)
    weights = np.empty(n)
    sizes = np.empty(n, dtype=np.int64)
    top = -1
    for i in range(n):  # a stack of blocks; each new value merges back while it violates order
        top += 1
        means[top], weights[top], sizes[top] = y[i], w[i], 1
        while top > 0 and means[top - 1] >= means[top]:
            wsum = weights[top - 1] + weights[top]
            means[top - 1] = (means[top - 1] * weights[top - 1]
                              + means[top] * weights[top]) / wsum
            weights[top - 1] = wsum
            sizes[top - 1] += sizes[top]
            top -= 1
    fitted: FloatArray = np.repeat(means[: top + 1], sizes[: top + 1])
    return fitted


def fit_isotonic(confidence: Any, correct: Any) -> IsotonicMap:
    """Isotonic regression of ``correct`` on ``confidence`` (ties pooled first)."""
    x, y = _pairs(confidence, correct)
    ux, inverse = np.unique(x, return_inverse=True)
    w = np.bincount(inverse).astype(np.float64)
    ym = np.bincount(inverse, weights=y) / w
    fitted = pav(ym, w)
    return IsotonicMap(ux, fitted)


@dataclass(frozen=True)
class PlattMap:
    """p = sigmoid(a * logit(confidence) + b)."""

    a: float
    b: float

    def __call__(self, confidence: Any) -> FloatArray:
        c = np.clip(np.asarray(confidence, dtype=np.float64), _EPS, 1 - _EPS)
        z = self.a * np.log(c / (1 - c)) + self.b
        out: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return out


def fit_platt(confidence: Any, correct: Any, *, max_iter: int = 100,
              tol: float = 1e-10) -> PlattMap:
    """Logistic regression of ``correct`` on logit(confidence) by Newton-Raphson.

    Platt's smoothed targets ((n+ + 1)/(n+ + 2), 1/(n- + 2)) keep the fit finite when the
    training pairs are separable; a tiny ridge keeps the Hessian invertible.
    """
    x, y = _pairs(confidence, correct)
    pos = float(y.sum())
    neg = float(y.size - pos)
    t = y * (pos + 1) / (pos + 2) + (1 - y) / (neg + 2)
    c = np.clip(x, _EPS, 1 - _EPS)
    f = np.log(c / (1 - c))
    design = np.column_stack([f, np.ones_like(f)])
    beta = np.array([1.0, 0.0])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (p - t)
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        beta = beta - step
        if not np.all(np.isfinite(beta)):
            raise StatsError("Platt scaling did not converge", item="calibration")
        if float(np.abs(step).max()) < tol:
            break
    a, b = float(beta[0]), float(beta[1])
    if not (math.isfinite(a) and math.isfinite(b)):
        raise StatsError("Platt scaling did not converge", item="calibration")
    return PlattMap(a, b)


def fit(method: Method, confidence: Any, correct: Any) -> IsotonicMap | PlattMap:
    if method == "isotonic":
        return fit_isotonic(confidence, correct)
    if method == "platt":
        return fit_platt(confidence, correct)
    raise StatsError(f"unknown calibration method {method!r}; choose isotonic or platt",
                     item="method")
