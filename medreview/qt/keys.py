"""The single keymap table: key → action id. It feeds the shortcuts and the "?" cheat sheet.

Every key of the app is written here and nowhere else (``tests/qt/test_keys_in_one_place.py``
fails on a key literal elsewhere in ``medreview/qt``): the grading keys, the image viewer's,
the adjudication, statistics and form-editor windows', and the main window's menu commands.

Single letters and digits are ordinary ``QShortcut``s: a focused text field accepts the
ShortcutOverride for printable keys, so typing a rationale never triggers them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyBinding:
    action: str
    keys: tuple[str, ...]
    label: str
    group: str


def _scale(n: int) -> KeyBinding:
    return KeyBinding(f"digit_{n}", (str(n),), f"Choose option {n} of the current question",
                      "Answer")


KEYMAP: tuple[KeyBinding, ...] = (
    *(_scale(n) for n in range(1, 10)),
    KeyBinding("clear", ("0", "Backspace"), "Clear the current answer", "Answer"),
    KeyBinding("yes", ("Y",), "Criterion met", "Answer"),
    KeyBinding("no", ("N",), "Criterion not met", "Answer"),
    KeyBinding("not_applicable", ("X",), "Not applicable (N/A) to this case, where the "
               "question allows it / undo N/A", "Answer"),
    KeyBinding("edit", ("I",), "Type into the current question (number, text)", "Answer"),
    KeyBinding("tag_span", ("E",), "Tag the selected answer text as an error", "Answer"),
    KeyBinding("rationale", ("R",), "Write the rationale", "Answer"),
    KeyBinding("confidence_up", ("Alt+Up", "]"), "More confident", "Answer"),
    KeyBinding("confidence_down", ("Alt+Down", "["), "Less confident", "Answer"),
    KeyBinding("flag", ("F",), "Flag / unflag the item", "Answer"),
    KeyBinding("next_question", ("J", "Down"), "Next question", "Move"),
    KeyBinding("prev_question", ("K", "Up"), "Previous question", "Move"),
    KeyBinding("focus_answer", ("A",), "Move into the answer text (select with Shift+arrows)",
               "Move"),
    KeyBinding("raw_source", ("V",), "Show the answer's raw source (exactly as stored) / rendered",
               "Move"),
    KeyBinding("back_to_panel", ("Escape",), "Back to the grading panel", "Move"),
    KeyBinding("save_next", ("Ctrl+Return", "Ctrl+Enter", "Return", "Enter"),
               "Save as done and open the next item", "Item"),
    KeyBinding("skip", ("S",), "Skip this item and open the next", "Item"),
    KeyBinding("cannot_assess", ("C",), "Cannot assess this item… (with a reason; counts as "
               "done, rated nothing)", "Item"),
    KeyBinding("next_item", ("Ctrl+Down", "PgDown"), "Next item (saves first)", "Item"),
    KeyBinding("prev_item", ("Ctrl+Up", "PgUp"), "Previous item (saves first)", "Item"),
    KeyBinding("undo", ("Ctrl+Z",), "Undo the last save of this item", "Item"),
    KeyBinding("history", ("Ctrl+H",), "Show this item's revision history", "Item"),
    KeyBinding("comments", ("O",), "Other raters' comments on this item (once you have "
               "submitted yours)", "Item"),
    KeyBinding("search", ("Ctrl+F",), "Search the queue", "Window"),
    KeyBinding("bigger", ("Ctrl+=", "Ctrl++"), "Larger text", "Window"),
    KeyBinding("smaller", ("Ctrl+-",), "Smaller text", "Window"),
    KeyBinding("theme", ("Ctrl+Shift+T",), "Switch light / dark theme", "Window"),
    KeyBinding("cheatsheet", ("?", "F1"), "Show this cheat sheet", "Window"),
    KeyBinding("maximise_image", ("M",), "Image pane fills the window / back", "Window"),
    KeyBinding("guidelines", ("G",), "Show / hide the grading guidelines (rubric, error "
               "taxonomy) beside the panel", "Window"),
)

# Keys of the image viewer: they act while the image has focus (click it), where they take
# precedence over the grading keys above. Handled by ``qt/imaging/slice_view.py`` itself,
# listed here only for the cheat sheet.
VIEWER_GROUP = "Image viewer (click the image first)"
VIEWER_KEYS: tuple[KeyBinding, ...] = tuple(
    KeyBinding(f"viewer_{n}", keys, label, VIEWER_GROUP) for n, (keys, label) in enumerate((
        (("Up", "Down", "Wheel"), "Previous / next slice"),
        (("PgUp", "PgDown"), "10 slices back / on"),
        (("Home", "End"), "First / last slice"),
        (("C",), "Cine play / pause (speed in the toolbar)"),
        (("0",), "The file's own window"),
        (("1-9",), "Window presets (brain, soft tissue, lung, bone, ..., subdural, stroke)"),
        (("W", "Right-drag"), "Window/level tool: drag right = wider, down = higher level"),
        (("N",), "Pan tool"),
        (("R", "E", "P"), "Mark a rectangle / ellipse (with ROI statistics) / point"),
        (("L",), "Measure a length (drag)"),
        (("A",), "Measure an angle (click arm, vertex, arm)"),
        (("D",), "ROI statistics in an ellipse (mean/SD/min/max/area), without a mark"),
        (("X",), "Clear measurements"),
        (("I",), "Invert grey levels"),
        (("F", "O", "Ctrl+Wheel"), "Fit / one image pixel per screen pixel / zoom"),
        (("H",), "Hide patient details"),
        (("V",), "Show the file's overlay graphics"),
        (("M",), "Image pane fills the window / back"),
    ))
)


# Keys of the adjudication window (a window of its own: the grading keys above never fire
# there). Created by ``qt/study/adjudication.py`` from this table, listed in the cheat sheet.
ADJUDICATION_GROUP = "Adjudication window"
ADJUDICATION_KEYS: tuple[KeyBinding, ...] = tuple(
    KeyBinding(action, keys, label, ADJUDICATION_GROUP) for action, keys, label in (
        ("majority", ("M",), "Accept the physicians' majority as gold"),
        ("save", ("Return", "Enter", "Ctrl+Return", "Ctrl+Enter"),
         "Save the gold answer and go to the next disagreement"),
        *((f"digit_{n}", (str(n),), f"Choose option {n} of the gold answer")
          for n in range(1, 10)),
        ("clear", ("0", "Backspace"), "Clear the gold answer"),
        ("yes", ("Y",), "Gold: criterion met"),
        ("no", ("N",), "Gold: criterion not met"),
        ("edit", ("I",), "Type into the gold answer (number, text)"),
        ("rationale", ("R",), "Write the adjudication rationale"),
        ("next_question", ("J",), "Next question of this item"),
        ("prev_question", ("K",), "Previous question of this item"),
        ("next", ("PgDown", "Ctrl+Down"), "Next disagreement"),
        ("prev", ("PgUp", "Ctrl+Up"), "Previous disagreement"),
        ("names", ("Ctrl+H",), "Hide / show rater names"),
        ("refresh", ("F5",), "Reload the disagreements"),
        ("leave", ("Escape",), "Back to the list; from the list, close the window"),
    )
)


# Keys of the statistics dashboard and the judge calibration window (top-level windows of
# their own). Created by ``qt/stats/window.py`` from this table, listed in the cheat sheet.
STATS_GROUP = "Statistics and judge calibration windows"
STATS_KEYS: tuple[KeyBinding, ...] = (
    KeyBinding("refresh", ("F5",), "Recompute from the project", STATS_GROUP),
    KeyBinding("close", ("Ctrl+W", "Escape"),
               "Close the window (the keys go back to the grading window)", STATS_GROUP),
)

# Keys of the rubric and taxonomy editor (``qt/form_editor/dialog.py``).
FORM_EDITOR_GROUP = "Rubric and taxonomy editor"
FORM_EDITOR_KEYS: tuple[KeyBinding, ...] = (
    KeyBinding("save", ("Ctrl+S",), "Save the form (a new version once it has grades)",
               FORM_EDITOR_GROUP),
    KeyBinding("add", ("Ctrl+N",), "Add a question or a category", FORM_EDITOR_GROUP),
)
# Handled by the editor's question list itself (its event filter), listed for the cheat sheet
# and the buttons' tooltips.
FORM_LIST_KEYS: tuple[KeyBinding, ...] = (
    KeyBinding("move_up", ("Alt+Up",), "Move the selected question up", FORM_EDITOR_GROUP),
    KeyBinding("move_down", ("Alt+Down",), "Move the selected question down",
               FORM_EDITOR_GROUP),
    KeyBinding("remove", ("Delete",), "Remove the selected question", FORM_EDITOR_GROUP),
)

# The tables of the other windows, in the cheat sheet's order after the grading keys.
OTHER_KEYMAPS: tuple[tuple[str, tuple[KeyBinding, ...]], ...] = (
    (VIEWER_GROUP, VIEWER_KEYS),
    (ADJUDICATION_GROUP, ADJUDICATION_KEYS),
    (STATS_GROUP, STATS_KEYS),
    (FORM_EDITOR_GROUP, FORM_EDITOR_KEYS + FORM_LIST_KEYS),
)

# Keys of the main window's menu commands, by command id (``qt/main_window.py`` puts them on
# its actions; the cheat sheet lists them from those actions, named as in the menus). One line
# per command: a new menu command with a key adds its line here.
MENU_KEYS: dict[str, str] = {
    "open_project": "Ctrl+O",
    "new_project": "Ctrl+N",
    "import": "Ctrl+I",
    "export": "Ctrl+E",
    "quit": "Ctrl+Q",
    "adjudicate": "Ctrl+Shift+A",
    "dashboard": "Ctrl+Shift+D",
    "judge_run": "Ctrl+Shift+J",
    "calibration": "Ctrl+Shift+K",
    "judge_eval": "Ctrl+Shift+E",
}


def menu_key(command: str) -> str:
    """The key of a main-window menu command (KeyError: a command not in ``MENU_KEYS``)."""
    return MENU_KEYS[command]


def keys_text(table: tuple[KeyBinding, ...], action: str) -> str:
    """The keys of ``action`` in ``table`` as the cheat sheet writes them (for a tooltip)."""
    return " / ".join(next(b.keys for b in table if b.action == action))


def binding(action: str) -> KeyBinding:
    for b in KEYMAP:
        if b.action == action:
            return b
    raise KeyError(action)


def groups() -> dict[str, list[KeyBinding]]:
    out: dict[str, list[KeyBinding]] = {}
    for b in KEYMAP:
        out.setdefault(b.group, []).append(b)
    return out
