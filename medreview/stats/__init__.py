"""Inter-rater agreement and judge-calibration statistics (Qt-free, DB-free).

Import from the submodules (``medreview.stats.agreement``, ``.judge``, ``.calibration``,
``.project``, ``.report``); this package root stays import-light on purpose.
"""
