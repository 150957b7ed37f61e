"""Use-cases shared by the command line and the app. Results are frozen values, never ORM rows.

A use-case is named with the core's verb (``build_package``, ``merge_packages``, ``set_gold``),
adds what both front ends need beside the core result (a ``Changes`` value for the screens, a
readiness check), and reaches the database only through ``medreview.storage`` functions: no
module here imports SQLAlchemy. ``medreview.cli`` may not import the core packages that have a
use-case here (import-linter contract in ``pyproject.toml``).
"""
