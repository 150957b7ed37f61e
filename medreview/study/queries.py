"""The storage reads the study modules share, under the names they have always had here.

The queries themselves live in ``medreview.storage.assignments`` (storage is the one package
that knows SQL); these return plain values.
"""

from __future__ import annotations

from medreview.storage.assignments import (
    OutputInfo,
    find_rater,
    output_infos,
    outputs_info,
    rater_by_name,
)

__all__ = ["OutputInfo", "find_rater", "output_infos", "outputs_info",
           "rater_by_name"]
