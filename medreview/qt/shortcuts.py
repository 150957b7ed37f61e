"""Keyboard shortcuts created from the one keymap in ``qt/keys.py``.

``install_keymap`` makes the shortcuts of any window from a table of bindings and handlers
(the adjudication window uses it too). For the main window, grading keys act only while an
item is open; window keys (search, zoom, theme, "?") always. The main window is described
by a protocol here, so this module and ``main_window`` do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from medreview.qt.grading.controller import GradingController
from medreview.qt.grading.grading_view import GradingView
from medreview.qt.grading.peer_comments import show_peer_comments
from medreview.qt.grading.queue_pane import QueuePane
from medreview.qt.keys import KEYMAP, KeyBinding


class MainWindow(Protocol):
    """What the grading keys need of the main window."""

    view: GradingView
    queue: QueuePane
    controller: GradingController | None

    def toggle_flag(self) -> None: ...
    def save_and_next(self) -> None: ...
    def skip_item(self) -> None: ...
    def step_item(self, step: int) -> None: ...
    def undo(self) -> None: ...
    def show_history(self) -> None: ...
    def change_font(self, step: int) -> None: ...
    def toggle_theme(self) -> None: ...
    def show_cheatsheet(self) -> None: ...
    def toggle_guidelines(self) -> None: ...
    def restore_grading_focus(self) -> None: ...

WINDOW_WIDE = frozenset({"search", "bigger", "smaller", "theme", "cheatsheet"})


def _digit(w: MainWindow, n: int) -> Callable[[], Any]:
    return lambda: w.view.panel.digit(n)


def _when_grading(w: MainWindow, fn: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        if w.controller is not None and w.controller.item is not None:
            fn()

    return run


def _cannot_assess(w: MainWindow) -> None:
    """C: the reason dialog, then the keys back on the panel (a modal dialog leaves no window
    active offscreen and on some window managers)."""
    w.view.ask_cannot_assess()
    w.restore_grading_focus()


def handlers(w: MainWindow) -> dict[str, Callable[[], Any]]:
    panel = w.view.panel
    return {
        **{f"digit_{n}": _digit(w, n) for n in range(1, 10)},
        "clear": panel.clear_current,
        "yes": lambda: panel.yes_no(True),
        "no": lambda: panel.yes_no(False),
        "not_applicable": panel.not_applicable,
        "cannot_assess": lambda: _cannot_assess(w),
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
        "comments": lambda: show_peer_comments(w),
        "search": w.queue.search.setFocus,
        "bigger": lambda: w.change_font(1),
        "smaller": lambda: w.change_font(-1),
        "theme": w.toggle_theme,
        "cheatsheet": w.show_cheatsheet,
        "maximise_image": w.view.image_pane.toggle_maximised,
        "guidelines": w.toggle_guidelines,
    }


def install_keymap(window: QWidget, bindings: Iterable[KeyBinding],
                   table: Mapping[str, Callable[[], Any]]) -> dict[str, list[QShortcut]]:
    """One window-wide QShortcut per key of every binding, calling ``table[action]``;
    returns them by action id. A binding without a handler is a programming error."""
    made: dict[str, list[QShortcut]] = {}
    for b in bindings:
        slot = table[b.action]
        for key in b.keys:
            sc = QShortcut(QKeySequence(key), window)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            made.setdefault(b.action, []).append(sc)
    return made


def install_shortcuts(w: MainWindow) -> dict[str, list[QShortcut]]:
    """The main window's shortcuts; returns them by action id."""
    table = handlers(w)
    guarded = {action: fn if action in WINDOW_WIDE else _when_grading(w, fn)
               for action, fn in table.items()}
    assert isinstance(w, QWidget)
    return install_keymap(w, KEYMAP, guarded)
