"""``project_stats`` gives the recorded answers: every table, row order, CI and item list.

The answers in ``data/golden_project_stats.json.gz`` were recorded from the row-at-a-time
implementation (see ``golden_cases``); point estimates and CIs must match to 1e-12, everything
else exactly.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import pytest

from tests.stats.golden_cases import DATA, compute_all

TOL = 1e-12


def _diff(want: Any, got: Any, where: str) -> str | None:
    """The first difference between two parsed JSON values, or None."""
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(want, (int, float)) and isinstance(got, (int, float)) \
                and not isinstance(want, bool) and not isinstance(got, bool) \
                and math.isclose(want, got, rel_tol=TOL, abs_tol=TOL):
            return None
        return f"{where}: {want!r} != {got!r}"
    if isinstance(want, dict) and isinstance(got, dict):
        if list(want) != list(got):
            return f"{where}: keys {list(want)} != {list(got)}"
        for k in want:
            d = _diff(want[k], got[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{where}: length {len(want)} != {len(got)}"
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            d = _diff(a, b, f"{where}[{i}]")
            if d:
                return d
        return None
    if type(want) is not type(got) or want != got:
        return f"{where}: {want!r} != {got!r}"
    return None


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        out: dict[str, Any] = json.load(f)
    return out


def test_project_stats_equal_the_recorded_answers(recorded: dict[str, Any]) -> None:
    seen = []
    for name, got in compute_all():
        seen.append(name)
        want = recorded[name]
        # Rows in a stable order and table by table, so a failure names the first bad cell.
        for table in want:
            d = _diff(want[table], got.get(table), f"{name}:{table}")
            assert d is None, d
        assert sorted(got) == sorted(want), name
    assert sorted(seen) == sorted(recorded)


def test_the_comparison_can_fail() -> None:
    assert _diff({"a": [1.0, 2]}, {"a": [1.0 + 1e-9, 2]}, "x") is not None
    assert _diff({"a": [1.0, 2]}, {"a": [1.0 + 1e-14, 2]}, "x") is None
    assert _diff([True], [1], "x") is not None
    assert _diff({"a": None}, {"a": 0.0}, "x") is not None
    assert _diff([[1, "criterion:*"]], [[1, "criterion:k1"]], "x") is not None
