"""Qt-only state: window geometry, splitter sizes, recent projects, theme and font size.

Stored with QSettings in an INI file under ``medreview.paths.user_config_dir()`` so tests (which
point ``MEDREVIEW_HOME`` at a temporary folder) never touch the user's settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from medreview.paths import user_config_dir

MAX_RECENT = 10
DEFAULT_FONT_PT = 10


class UiSettings:
    """Typed accessors over one QSettings file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_config_dir() / "qt-state.ini"
        self._s = QSettings(str(self.path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._s.sync()

    # recent projects --------------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        value = self._s.value("recent/projects", [])
        if isinstance(value, str):  # QSettings returns a bare string for a one-item list
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent(self, path: Path | str) -> None:
        """A folder, or a server project's URL as shown (never with a password)."""
        items = [p for p in self.recent_projects() if p != str(path)]
        self._s.setValue("recent/projects", [str(path), *items][:MAX_RECENT])

    # rater per project ------------------------------------------------------------------------
    def last_rater(self, project_uid: str) -> int | None:
        value = self._s.value(f"rater/{project_uid}")
        return int(str(value)) if value not in (None, "") else None

    def set_last_rater(self, project_uid: str, rater_id: int) -> None:
        self._s.setValue(f"rater/{project_uid}", rater_id)

    # appearance -------------------------------------------------------------------------------
    def theme(self) -> str:
        return str(self._s.value("ui/theme", "light"))

    def set_theme(self, name: str) -> None:
        self._s.setValue("ui/theme", name)

    def font_pt(self) -> int:
        return int(str(self._s.value("ui/font_pt", DEFAULT_FONT_PT)))

    def set_font_pt(self, pt: int) -> None:
        self._s.setValue("ui/font_pt", max(7, min(24, pt)))

    # layout -----------------------------------------------------------------------------------
    def bytes(self, key: str) -> QByteArray | None:
        value = self._s.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self._s.setValue(f"layout/{key}", value)
