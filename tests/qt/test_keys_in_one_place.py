"""Every key of the app lives in ``medreview/qt/keys.py``, and the cheat sheet lists them all.

The scan reads the source of ``medreview/qt`` (no import needed) and refuses a key written as a
literal anywhere else: a ``QShortcut``/``QKeySequence``/``setShortcut`` made from a string, a
``Qt.Key`` or a ``QKeySequence.StandardKey``, and any string that is a key combination by itself
("Ctrl+Shift+D"), such as one handed to a helper that makes the shortcut later.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path
from typing import Any

import pytest

import medreview.qt as qt_package

QT_DIR = Path(qt_package.__file__).parent
KEY_CALLS = {"QShortcut", "QKeySequence", "setShortcut", "setShortcuts"}
# A key combination with a modifier ("F1" alone is also a statistic's name).
COMBO = re.compile(r"(?:(?:Ctrl|Alt|Shift|Meta|Cmd)\+)+\S+")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _literal_key(node: ast.AST) -> bool:
    """A key written out: a string or number, ``Qt.Key...``, ``QKeySequence.StandardKey...``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) \
            and not isinstance(node.value, bool):
        return True
    name = _dotted(node)
    return ".Key." in f".{name}." or ".StandardKey." in f".{name}." or "Key_" in name


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` writes a key itself, as "file:line: what"."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else _dotted(func)
            if name in KEY_CALLS:
                args = [*node.args, *(k.value for k in node.keywords)]
                if any(_literal_key(a) for a in args):
                    out.append(f"{filename}:{node.lineno}: {name}(…) from a literal key")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and COMBO.fullmatch(node.value):
            out.append(f"{filename}:{node.lineno}: key {node.value!r} written outside keys.py")
    return out


def test_no_key_is_written_outside_keys_py() -> None:
    found: list[str] = []
    scanned = 0
    for path in sorted(QT_DIR.rglob("*.py")):
        if path == QT_DIR / "keys.py":
            continue
        scanned += 1
        found += violations(path.read_text(encoding="utf-8"), str(path.relative_to(QT_DIR)))
    assert scanned > 50  # the walk did see the package
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("snippet", [
    'QShortcut(QKeySequence("Ctrl+W"), self).activated.connect(self.close)',
    "QShortcut(QKeySequence(Qt.Key.Key_Escape), self)",
    "QShortcut(QKeySequence.StandardKey.Save, self, self.save)",
    'act.setShortcut("F5")',
    'add(menu, "Quit", self.close, "Ctrl+Q")',
    'KEYS = {"refresh": "Ctrl+R"}',
    'button.setToolTip("Alt+Up")',
])
def test_the_scan_sees_a_key_written_elsewhere(snippet: str) -> None:
    assert violations(snippet)


@pytest.mark.parametrize("snippet", [
    "QShortcut(QKeySequence(key), window)",
    'open_act.setShortcut(QKeySequence(menu_key("open_project")))',
    'label = QLabel("Press Ctrl+Enter to save")',
    'QAction("Refresh (F5)", self)',
])
def test_the_scan_lets_keys_from_the_table_pass(snippet: str) -> None:
    assert violations(snippet) == []


def test_the_cheat_sheet_lists_every_table_of_keys_py() -> None:
    from medreview.qt import keys
    from medreview.qt.cheatsheet import cheatsheet_html

    page = cheatsheet_html()
    tables = [value for value in vars(keys).values()
              if isinstance(value, tuple) and value
              and all(isinstance(b, keys.KeyBinding) for b in value)]
    assert len(tables) >= 6  # grading, viewer, adjudication, statistics, form editor ×2
    for table in tables:  # a new table not added to OTHER_KEYMAPS fails here
        for b in table:
            assert html.escape(b.label) in page, b
            for key in b.keys:
                assert f"<b>{html.escape(key)}</b>" in page, (b.action, key)
    for group in (keys.STATS_GROUP, keys.FORM_EDITOR_GROUP, keys.ADJUDICATION_GROUP):
        assert f"<h3>{group}</h3>" in page


def test_every_menu_key_is_on_a_menu_command_and_in_the_cheat_sheet(
        qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtGui import QAction, QKeySequence

    from medreview.qt.app import make_app
    from medreview.qt.cheatsheet import cheatsheet_html
    from medreview.qt.keys import MENU_KEYS
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    on_menus = dict(w.menu_keys())
    toolbar = {a.shortcut().toString() for a in w.findChildren(QAction)}
    page = cheatsheet_html(w.menu_keys())
    for command, key in MENU_KEYS.items():
        shown = QKeySequence(key).toString()
        assert shown in on_menus or shown in toolbar, command
        if shown in on_menus:
            assert f"<b>{shown}</b>" in page, command
    w.close()


def test_the_statistics_windows_take_their_keys_from_the_table(qtbot: Any) -> None:
    from PySide6.QtGui import QKeySequence

    from medreview.qt.app import make_app
    from medreview.qt.keys import STATS_KEYS
    from medreview.qt.stats.window import StatsWindow

    make_app()
    refreshed: list[bool] = []

    class Probe(StatsWindow):
        def refresh(self) -> None:
            refreshed.append(True)

    class Job:  # what closing asks of the statistics job
        cancelled = False

        def cancel(self, quiet: bool = False) -> None:
            self.cancelled = True

    job = Job()
    w = Probe()
    w.job = job  # type: ignore[assignment]
    qtbot.addWidget(w)
    made = {action: sorted(sc.key().toString() for sc in shortcuts)
            for action, shortcuts in w.shortcuts.items()}
    assert made == {b.action: sorted(QKeySequence(k).toString() for k in b.keys)
                    for b in STATS_KEYS}
    w.show()
    assert refreshed == [True]  # computed on first show
    refreshed.clear()
    w.shortcuts["refresh"][0].activated.emit()
    assert refreshed == [True] and w.isVisible()
    w.shortcuts["close"][-1].activated.emit()  # Escape
    assert not w.isVisible() and job.cancelled
