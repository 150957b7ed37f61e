"""From ``bootstrap.MULTINOMIAL_ITEMS`` items on, replicates are drawn as multinomial group
counts instead of item indices: the same distribution, other random numbers. On simulated
studies whose population values are known, both schemes' 95 % intervals cover them at the
nominal rate and their endpoints agree within Monte Carlo noise."""

from __future__ import annotations

import numpy as np
import pytest

from medreview.stats import bootstrap as bs
from medreview.stats.chance import gwet_family
from medreview.stats.coding import encode
from medreview.stats.common import CIOptions

P = 0.7
TRUTH = {"pa": P * P + (1 - P) * (1 - P), "fleiss": 0.0}  # three independent raters


def _intervals(scheme_items: int, kind: str, studies: int, n: int) -> np.ndarray:
    saved = bs.MULTINOMIAL_ITEMS
    bs.MULTINOMIAL_ITEMS = scheme_items
    try:
        out = []
        for s in range(studies):
            rng = np.random.default_rng(1000 + s)
            x = (rng.random((n, 3)) < P).astype(float)
            coded = encode(x, (0.0, 1.0))
            res = gwet_family(coded, kind, None, CIOptions(n_resamples=400, seed=s),  # type: ignore[arg-type]
                              "bootstrap")
            assert res.ci is not None
            out.append(res.ci)
        return np.asarray(out)
    finally:
        bs.MULTINOMIAL_ITEMS = saved
        bs.clear_cache()


@pytest.mark.parametrize("kind", ["pa", "fleiss"])
def test_multinomial_and_item_replicates_give_the_same_intervals(kind: str) -> None:
    studies, n = 160, 400
    by_items = _intervals(10**9, kind, studies, n)
    by_groups = _intervals(0, kind, studies, n)
    assert not np.array_equal(by_items, by_groups)  # other random numbers ...
    truth = TRUTH[kind]
    for ci in (by_items, by_groups):  # ... the same coverage, near the nominal 95 %
        cover = np.mean((ci[:, 0] <= truth) & (truth <= ci[:, 1]))
        assert 0.89 <= cover <= 0.995, cover
    width = np.mean(by_items[:, 1] - by_items[:, 0])
    # Endpoints differ only by resampling noise: no shift, widths alike.
    assert abs(np.mean(by_groups[:, 0] - by_items[:, 0])) < 0.05 * width
    assert abs(np.mean(by_groups[:, 1] - by_items[:, 1])) < 0.05 * width
    assert np.mean(by_groups[:, 1] - by_groups[:, 0]) == pytest.approx(width, rel=0.05)


def test_small_tables_keep_the_item_draws() -> None:
    rng = np.random.default_rng(3)
    f = rng.integers(0, 3, (500, 2)).astype(np.float64)
    assert f.shape[0] < bs.MULTINOMIAL_ITEMS
    saved = bs._groups
    bs._groups = lambda x: None  # type: ignore[assignment]
    try:
        plain = bs.resample_sums(f, 100, 4)
    finally:
        bs._groups = saved
    assert np.array_equal(bs.resample_sums(f, 100, 4), plain)
