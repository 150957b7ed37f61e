"""Timings for medreview.stats at 100,000 items x 5 raters, 5 categories, 30% missing.

Prints: krippendorff_alpha(ci=False) vs the `krippendorff` package at each level (and the
ratio; the two are timed alternately, best of 7, so machine load hits both alike), Conger's
and Light's kappa, the REML ICC, the full agreement panel, and a 1,000-resample bootstrap CI.
Run:
    python bench/bench_stats.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from medreview.stats.agreement import conger_kappa, icc_reml, krippendorff_alpha, light_kappa
from medreview.stats.common import CIOptions
from medreview.stats.panels import panel

CATS = [1, 2, 3, 4, 5]


def data(seed: int = 20240601, n: int = 100_000) -> np.ndarray:
    """The notes' §4.1 synthetic set: latent prevalence, rater bias, noise, 30% MCAR."""
    rng = np.random.default_rng(seed)
    latent = rng.choice(5, n, p=[0.10, 0.20, 0.30, 0.25, 0.15])
    bias = np.array([0.0, 0.3, -0.2, 0.1, -0.4])
    x = np.clip(np.rint(latent[:, None] + bias + rng.normal(0, 0.8, (n, 5))), 0, 4) + 1
    x[rng.random((n, 5)) < 0.30] = np.nan
    out: np.ndarray = x
    return out


def best(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    import krippendorff
    import pandas as pd

    x = data()
    print(f"data: {x.shape[0]:,} items x {x.shape[1]} raters, "
          f"{np.isnan(x).mean():.1%} missing")
    krippendorff_alpha(x, categories=CATS, ci=False)  # warm-up (imports)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        ours_ts, ref_ts = [], []
        for _ in range(7):
            t, ours = best(partial(krippendorff_alpha, x, level, categories=CATS, ci=False), 1)
            ours_ts.append(t)
            t, ref = best(partial(krippendorff.alpha, reliability_data=x.T,
                                  level_of_measurement=level, value_domain=CATS), 1)
            ref_ts.append(t)
        ours_t, ref_t = min(ours_ts), min(ref_ts)
        print(f"alpha {level:9s} medreview {ours_t:.4f}s  krippendorff {ref_t:.4f}s  "
              f"ratio {ours_t / ref_t:.2f}  |diff| {abs(ours.value - ref):.1e}")
    for name, fn in (("conger_kappa", conger_kappa), ("light_kappa", light_kappa)):
        t, r = best(partial(fn, x, categories=CATS, ci=False), repeat=3)
        print(f"{name} (no CI): {t:.3f}s  value {r.value:.6f}")
    t, r = best(partial(conger_kappa, x, categories=CATS), repeat=1)
    print(f"conger_kappa with linearisation SE: {t:.3f}s  SE {r.se:.6f}")
    t, r = best(partial(icc_reml, x, "ICC2", ci=False), repeat=1)
    print(f"icc_reml ICC(A,1), all {int((~np.isnan(x)).sum()):,} ratings: {t:.3f}s  "
          f"value {r.value:.6f}")
    t, r = best(partial(icc_reml, x[:2000], "ICC2", n_resamples=1000), repeat=1)
    print(f"icc_reml ICC(A,1) on 2,000 items, bootstrap B=1000: {t:.2f}s  CI {r.ci}")
    wide = pd.DataFrame(x)
    for kind in ("nominal", "ordinal"):
        t, res = best(partial(panel, wide, kind, CATS, CIOptions(ci=False)), repeat=3)
        names = ", ".join(key for key, _ in res)
        print(f"full {kind} panel (no CIs, from a DataFrame): {t:.3f}s  [{names}]")
    t, r = best(lambda: krippendorff_alpha(x, "nominal", categories=CATS, n_resamples=1000),
                repeat=1)
    print(f"bootstrap CI alpha nominal, B=1000: {t:.2f}s  CI {r.ci}")
    t, r = best(lambda: krippendorff_alpha(x, "ordinal", categories=CATS, n_resamples=1000),
                repeat=1)
    print(f"bootstrap CI alpha ordinal, B=1000: {t:.2f}s  CI {r.ci}")


if __name__ == "__main__":
    main()
