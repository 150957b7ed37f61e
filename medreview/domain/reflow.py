"""Reflow hard-wrapped text (clinical notes, case prompts) into paragraphs for display.

Notes exported from records are often wrapped at a fixed column; shown as-is in a pane of
another width they read as ragged half-lines. For display only (the stored text, which the
judge and the exports get, is never changed):

- a blank line separates paragraphs (runs of blank lines become one);
- inside a paragraph a single line break becomes a space;
- a break is kept before a list item (``-``, ``*``, ``+``, ``•``, ``1.``, ``2)``), before a
  labelled line (``BP: 90/60``, ``Plan:``), around a heading-like line (short, ending in ``:``
  or in capitals), around table-like lines (``|`` or a tab), and after a short line that ends
  a sentence (the writer ended the line there, not the wrapping);
- indentation of a kept line is kept; nothing but the joined line breaks and the spaces
  around them is removed, so every visible character of the source stays in view.

Pure and Qt-free: callers still pass the result through ``display_text.visible_text`` (plain
text labels) or ``escaped_html``; characters that hide text are not touched here.
"""

from __future__ import annotations

import re

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•‣◦▪–]\s+|\d{1,3}[.)]\s+|[a-z][.)]\s+)")
_LABEL = re.compile(r"^\s*[A-Z][A-Za-z0-9 /&()'#+-]{0,30}:(?:\s|$)")
_TABLE = re.compile(r"\||\t")
HEADING_MAX = 60
SHORT_FRACTION = 0.6  # a sentence ending this far short of the block's width ended there


def _is_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > HEADING_MAX:
        return False
    if s.endswith(":"):
        return True
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 2 and s.upper() == s and not _LIST_ITEM.match(s)


def _stands_alone(line: str) -> bool:
    """A line that must not have the next line joined to it, nor be joined to the last."""
    return _is_heading(line) or bool(_TABLE.search(line))


def _starts_new_line(line: str) -> bool:
    return bool(_LIST_ITEM.match(line) or _LABEL.match(line)) or _stands_alone(line)


def _reflow_block(lines: list[str]) -> list[str]:
    width = max(len(x.rstrip()) for x in lines)
    out: list[str] = []
    last = ""  # the previous source line (``out[-1]`` may be several joined)
    for line in lines:
        if out:
            src = last.rstrip()
            ended_short = src.endswith((".", "!", "?", ":", ";")) and len(src) < (
                SHORT_FRACTION * width)
            if not (_starts_new_line(line) or _stands_alone(last) or ended_short):
                out[-1] = f"{out[-1].rstrip()} {line.strip()}"
                last = line
                continue
        out.append(line.rstrip())
        last = line
    return out


def reflow_text(text: str) -> str:
    """``text`` with hard-wrapped lines joined into paragraphs (see the module notes)."""
    lines = text.replace("\r\n", "\n").split("\n")
    paragraphs: list[list[str]] = []
    block: list[str] = []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            paragraphs.append(block)
            block = []
    if block:
        paragraphs.append(block)
    return "\n\n".join("\n".join(_reflow_block(b)) for b in paragraphs)
