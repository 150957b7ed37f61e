"""The rubric's and the taxonomy's guideline versions share one integer per revision."""

from __future__ import annotations

import pytest

from medreview.domain.guideline_versions import (
    MAX_GUIDELINE_VERSION,
    TAXONOMY_STEP,
    recorded_versions,
    shown_versions,
)


@pytest.mark.parametrize(("rubric", "taxonomy", "recorded"), [
    (None, None, None), (1, None, 1), (5, 3, 300_005), (None, 2, 200_000),
    (MAX_GUIDELINE_VERSION, MAX_GUIDELINE_VERSION,
     MAX_GUIDELINE_VERSION * TAXONOMY_STEP + MAX_GUIDELINE_VERSION)])
def test_both_versions_round_trip(rubric: int | None, taxonomy: int | None,
                                  recorded: int | None) -> None:
    assert recorded_versions(rubric, taxonomy) == recorded
    assert shown_versions(recorded) == (rubric, taxonomy)


def test_the_largest_composite_fits_a_postgresql_integer() -> None:
    top = recorded_versions(MAX_GUIDELINE_VERSION, MAX_GUIDELINE_VERSION)
    assert top is not None and top <= 2**31 - 1


@pytest.mark.parametrize("bad", [0, -1, MAX_GUIDELINE_VERSION + 1, TAXONOMY_STEP])
def test_a_version_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        recorded_versions(bad, 1)
    with pytest.raises(ValueError):
        recorded_versions(1, bad)


def test_an_old_rubric_only_revision_reads_as_before() -> None:
    assert shown_versions(7) == (7, None)
    assert shown_versions(-3) == (None, None)
