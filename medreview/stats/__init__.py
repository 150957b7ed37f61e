"""Inter-rater agreement and judge-calibration statistics (Qt-free, DB-free).

Import from the submodules (``medreview.stats.agreement``, ``.judge``, ``.calibration``,
``.project``, ``.report``); this package root stays import-light on purpose. The dashboard's
statistics take plain tables (``tables.RatingTables``): the reference answer per item
(``.reference``), the strict physician majority (``.majority``), disagreements per statistic
row (``.disagreement``), the judge against one reference at a time (``.judge_reference``) and
notes on paradoxical κ/α (``.paradox``).
"""
