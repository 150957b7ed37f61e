"""The storage reads the study modules share, under the names they have always had here.

The queries themselves live in ``medreview.storage.assignments`` (storage is the one package
that knows SQL); they return plain values. ``rater_by_name`` takes a session of
``project.read()`` (tests use it); code outside storage calls ``find_rater(project, name)``.
"""

from __future__ import annotations

from medreview.storage.assignments import OutputInfo, find_rater, output_infos, rater_by_name

__all__ = ["OutputInfo", "find_rater", "output_infos", "rater_by_name"]
