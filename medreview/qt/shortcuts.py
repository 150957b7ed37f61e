"""Every keyboard shortcut of the main window, created from the one keymap in ``qt/keys.py``.

Grading keys act only while an item is open; window keys (search, zoom, theme, "?") always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from medreview.qt.keys import KEYMAP

if TYPE_CHECKING:
    from medreview.qt.main_window import MainWindow

WINDOW_WIDE = frozenset({"search", "bigger", "smaller", "theme", "cheatsheet"})


def _digit(w: MainWindow, n: int) -> Callable[[], Any]:
    return lambda: w.view.panel.digit(n)


def _when_grading(w: MainWindow, fn: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        if w.controller is not None and w.controller.item is not None:
            fn()

    return run


def handlers(w: MainWindow) -> dict[str, Callable[[], Any]]:
    panel = w.view.panel
    return {
        **{f"digit_{n}": _digit(w, n) for n in range(1, 10)},
        "clear": panel.clear_current,
        "yes": lambda: panel.yes_no(True),
        "no": lambda: panel.yes_no(False),
        "edit": panel.edit_current,
        "tag_span": w.view.tag_selection,
        "rationale": panel.rationale.setFocus,
        "confidence_up": lambda: panel.step_confidence(1),
        "confidence_down": lambda: panel.step_confidence(-1),
        "flag": w.toggle_flag,
        "next_question": lambda: panel.step_question(1),
        "prev_question": lambda: panel.step_question(-1),
        "focus_answer": w.view.answer_view.focus_text,
        "raw_source": w.view.toggle_raw,
        "back_to_panel": panel.setFocus,
        "save_next": w.save_and_next,
        "skip": w.skip_item,
        "next_item": lambda: w.step_item(1),
        "prev_item": lambda: w.step_item(-1),
        "undo": w.undo,
        "history": w.show_history,
        "search": w.queue.search.setFocus,
        "bigger": lambda: w.change_font(1),
        "smaller": lambda: w.change_font(-1),
        "theme": w.toggle_theme,
        "cheatsheet": w.show_cheatsheet,
        "maximise_image": w.view.image_pane.toggle_maximised,
    }


def install_shortcuts(w: MainWindow) -> dict[str, list[QShortcut]]:
    """One QShortcut per key of every binding; returns them by action id."""
    table = handlers(w)
    made: dict[str, list[QShortcut]] = {}
    for b in KEYMAP:
        fn = table[b.action]
        slot = fn if b.action in WINDOW_WIDE else _when_grading(w, fn)
        for key in b.keys:
            sc = QShortcut(QKeySequence(key), w)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            made.setdefault(b.action, []).append(sc)
    return made
