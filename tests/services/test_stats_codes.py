"""The app's statistics (``services.dashboard``: ``medreview stats`` and the dashboard) read the
answers' codes made while reading the project (``storage.tables.ratings_coded``), and give the
same tables as without them, on a real project with odd answers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from medreview.services import dashboard
from medreview.stats.value_codes import MISSING, OTHER
from medreview.storage.project import create_project, open_project
from medreview.storage.tables import ratings_coded, ratings_long
from tests.storage.test_ratings_read import demo  # noqa: F401 (the odd demo project fixture)


def test_coded_frame_is_ratings_long_with_codes(demo: Path) -> None:  # noqa: F811
    project = open_project(demo)
    try:
        frame, codes = ratings_coded(project)
        pd.testing.assert_frame_equal(frame, ratings_long(project), check_exact=True)
    finally:
        project.close()
    assert codes.of(frame) and len(codes.codes) == len(frame) > 100
    kinds = set()
    for v, c in zip(frame["value"], codes.codes.tolist(), strict=True):
        if c == MISSING:
            assert v is None or v != v
        elif c == OTHER:  # lists and dicts: unhashable
            assert isinstance(v, (list, dict))
        else:
            assert codes.uniques[c] == v
        kinds.add(c if c < 0 else 0)
    assert {OTHER, 0} <= kinds  # (the odd answers: lists and dicts beside coded ones)


def test_empty_project_has_no_codes(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "empty")
    try:
        frame, codes = ratings_coded(project)
    finally:
        project.close()
    assert frame.empty and len(codes.codes) == 0


@pytest.mark.parametrize("dash", [False, True])
def test_statistics_take_the_codes_and_give_the_same_tables(
        demo: Path, monkeypatch: pytest.MonkeyPatch, dash: bool) -> None:  # noqa: F811
    project = open_project(demo)
    try:
        inputs = dashboard.load_inputs(project)
    finally:
        project.close()
    assert inputs.codes is not None and inputs.codes.of(inputs.ratings)
    seen: list[str] = []
    from medreview.stats import project as stats_project

    real = stats_project.unit_rows

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["label"])
        real(*args, **kwargs)

    monkeypatch.setattr(stats_project, "unit_rows", spy)

    def run(i: dashboard.StatsInputs) -> str:
        if dash:
            return dashboard.compute_dashboard(i, ci=False).to_json()
        return dashboard.compute(i, ci=False).to_json()

    got = run(inputs)
    assert seen, "no question took the codes' path"
    seen.clear()
    want = run(dataclasses.replace(inputs, codes=None))
    assert not seen
    assert got == want
