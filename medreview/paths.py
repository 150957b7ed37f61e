"""The one module that knows where things live: user folders, bundled ui/ and resources/.

``MEDREVIEW_HOME`` overrides every user folder (tests point it at a temporary directory).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

APP_NAME = "medreview"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle (``dist/medreview``), where there is no checkout."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _home_override() -> Path | None:
    home = os.environ.get("MEDREVIEW_HOME")
    return Path(home) if home else None


def user_data_dir() -> Path:
    override = _home_override()
    if override is not None:
        path = override / "data"
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_config_dir() -> Path:
    override = _home_override()
    if override is not None:
        path = override / "config"
    else:
        import platformdirs

        path = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    override = _home_override()
    if override is not None:
        path = override / "cache"
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """``MEDREVIEW_LOG_DIR``, else ``$MEDREVIEW_HOME/logs``, else the system's user log folder
    (``~/.local/state/medreview/log``, ``%LOCALAPPDATA%\\medreview\\Logs``,
    ``~/Library/Logs/medreview``). Not created here: only a writer of a log creates it."""
    override = os.environ.get("MEDREVIEW_LOG_DIR")
    if override:
        return Path(override)
    home = _home_override()
    if home is not None:
        return home / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def demo_project_dir() -> Path:
    return user_data_dir() / "demo-project"


def _bundled(name: str) -> Path:
    """A top-level folder of the repo (checkout), its copy inside the wheel (``_name``) or,
    frozen, the same ``medreview/_name`` folder under the bundle's ``sys._MEIPASS``."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS")) / "medreview" / f"_{name}"  # noqa: B009
    packaged = Path(str(resources.files("medreview"))) / f"_{name}"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / name
    return checkout


def resources_dir() -> Path:
    return _bundled("resources")


def ui_dir() -> Path:
    return _bundled("ui")


def rubric_templates_dir() -> Path:
    return resources_dir() / "rubrics"
