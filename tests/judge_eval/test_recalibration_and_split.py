"""Isotonic (PAV) and Platt fits against scikit-learn; the seeded case-level split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from medreview.domain.split import (
    SplitSpec,
    assign_split,
    cases_in,
    check_train_only,
    part_of,
)
from medreview.errors import InputError, StatsError
from medreview.stats.recalibration import fit_isotonic, fit_platt, pav


def test_isotonic_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(0.3, 1.0, 400), 2)  # ties, as stated confidences have
    y = (rng.uniform(size=400) < x**2).astype(float)
    ours = fit_isotonic(x, y)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(x, y)
    grid = np.linspace(0, 1, 101)
    assert np.allclose(ours(grid), ref.predict(grid), atol=1e-12)
    assert np.all(np.diff(ours(grid)) >= -1e-15)


def test_pav_pools_violators() -> None:
    fitted = pav(np.array([1.0, 3.0, 2.0, 4.0]), np.ones(4))
    assert fitted.tolist() == [1.0, 2.5, 2.5, 4.0]


def test_platt_matches_unpenalised_logistic_regression_on_smoothed_targets() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0.05, 0.95, 500)
    y = (rng.uniform(size=500) < 0.2 + 0.6 * x).astype(float)
    m = fit_platt(x, y)
    # Platt's targets are soft; sklearn takes them as weights on duplicated rows.
    pos, neg = y.sum(), (1 - y).sum()
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    f = np.log(x / (1 - x))[:, None]
    xx = np.vstack([f, f])
    yy = np.r_[np.ones(500), np.zeros(500)]
    ww = np.r_[t, 1 - t]
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(xx, yy,
                                                                          sample_weight=ww)
    assert m.a == pytest.approx(ref.coef_[0, 0], abs=1e-5)
    assert m.b == pytest.approx(ref.intercept_[0], abs=1e-5)


def test_fits_refuse_bad_input() -> None:
    with pytest.raises(StatsError, match="fewer than 2"):
        fit_isotonic([0.5], [1])
    with pytest.raises(StatsError, match=r"\[0, 1\]"):
        fit_platt([0.5, 1.5], [1, 0])


def test_split_puts_every_case_in_one_part_and_is_stable_when_cases_are_added() -> None:
    spec = SplitSpec(seed=11, test_fraction=0.3, dev_fraction=0.1)
    keys = [f"case-{i}" for i in range(2000)]
    split = assign_split(keys, spec)
    assert set(split) == set(keys)
    parts = [cases_in(split, p) for p in ("train", "dev", "test")]
    assert sum(len(p) for p in parts) == len(keys)
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert abs(len(parts[2]) / 2000 - 0.3) < 0.04 and abs(len(parts[1]) / 2000 - 0.1) < 0.03
    grown = assign_split([*keys, *(f"new-{i}" for i in range(500))], spec)
    assert all(grown[k] == split[k] for k in keys)  # adding cases moves nobody
    other = assign_split(keys, SplitSpec(seed=12, test_fraction=0.3, dev_fraction=0.1))
    assert other != split  # the seed matters


def test_split_spec_refuses_hostile_values_in_one_line() -> None:
    for raw in ({"seed": "x"}, {"seed": True}, {"test_fraction": 1.5}, {"test_fraction": "a"},
                {"test_fraction": 0.6, "dev_fraction": 0.5}, {"seed": -1}, [1, 2]):
        with pytest.raises(InputError) as err:
            SplitSpec.from_dict(raw)
        assert "\n" not in str(err.value)
    assert part_of("a", SplitSpec.from_dict({"seed": 3})) in ("train", "test")


def test_check_train_only_names_the_leak() -> None:
    split = {"a": "train", "b": "test"}
    check_train_only(["a"], split, "x")
    with pytest.raises(InputError, match=r"outside the training split.*first: b"):
        check_train_only(["a", "b"], split, "the few-shot examples")
    with pytest.raises(InputError):
        check_train_only(["unknown"], split, "x")
