"""The one rendering policy for text that comes from data (cases, notes, titles, criteria,
question prompts, model answers, rationales, rater and model names).

What a physician sees must be what was written, because the judge and the statistics get the
stored text. So:

- Markdown is rendered WITHOUT raw HTML: tags, comments and entities show as literal text
  (``<h1>``, ``<!-- … -->``, ``&lt;`` appear exactly as typed); nothing can set a colour, a size
  or ``display:none``.
- Links and images are not made: ``[x](url)`` and ``![x](url)`` show their literal source, so
  nothing is loaded and nothing is clickable. Constructs that would drop text from the page
  (reference-link definitions, abbreviations, attribute lists, footnotes) are not enabled.
- Characters that hide or reorder text (zero-width, bidirectional controls, other format and
  control characters except newline and tab) are shown as a visible marker ``⟦U+202E⟧``.

Pure: Python-Markdown only, no Qt. ``medreview.qt`` shows ``answer_html`` in a text browser
that loads no resources, and ``visible_text`` in plain-text labels.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator

import markdown

# Invisible letters and fillers that are not format characters but hide text all the same.
_EXTRA_HIDDEN = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u2800"
                          "\u3164\uffa0")
_KEEP = frozenset("\n\t")
# Markers survive the Markdown step as private-use sentinels (never markup), then become a
# styled span. A private-use character in the data is itself shown as a marker, so data
# cannot forge a sentinel.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SENTINEL = re.compile(f"{_OPEN}([0-9A-F]{{4,6}}){_CLOSE}")
MARKER_FG, MARKER_BG = "#b00020", "#ffe3e3"
MARKER_STYLE = f"color:{MARKER_FG}; background-color:{MARKER_BG}; font-weight:600"


def is_hidden(ch: str) -> bool:
    """True for a character that hides or reorders text, or is invisible on screen."""
    if ch in _KEEP:
        return False
    if ch == "\r":  # Windows line ends are line ends; a lone CR is dealt with by the caller
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp") or ch in _EXTRA_HIDDEN


def _all_shown(text: str) -> bool:
    """True when no character is hidden or a CR, checked at C speed (the common case; the
    per-character loop costs milliseconds per answer on the grading screen). ``isprintable``
    is False for every Other and Separator category but the space, a superset of what
    ``is_hidden`` marks; the invisible letters are checked apart."""
    rest = text.replace("\n", "").replace("\t", "")
    return rest.isprintable() and _EXTRA_HIDDEN.isdisjoint(rest)


def marker(ch: str) -> str:
    return f"⟦U+{ord(ch):04X}⟧"


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n")


def visible_text(text: str) -> str:
    """``text`` for a plain-text widget: hidden characters become ``⟦U+XXXX⟧`` markers."""
    return visible_text_with_map(text)[0]


def visible_text_with_map(text: str) -> tuple[str, list[int]]:
    """The visible text and, for each of its characters plus one past the end, the offset in
    ``text`` it comes from (so a selection in the raw view maps back to source offsets)."""
    if _all_shown(text):
        return text, list(range(len(text) + 1))
    out: list[str] = []
    where: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
            out.append("\n")
            where.append(i)
            i += 2
            continue
        shown = marker(ch) if is_hidden(ch) or ch == "\r" else ch
        out.append(shown)
        where.extend([i] * len(shown))
        i += 1
    where.append(n)
    return "".join(out), where


MARKER_RE = re.compile(r"⟦U\+([0-9A-F]{4,6})⟧")
_MARKER_TEXT = MARKER_RE


def unmark(shown: str) -> str:
    """Undo ``visible_text``: markers back to the characters they stand for."""
    def back(m: re.Match[str]) -> str:
        cp = int(m.group(1), 16)
        return chr(cp) if (cp <= 0x10FFFF and is_hidden(chr(cp))) or cp == 0x0D else m.group(0)
    return _MARKER_TEXT.sub(back, shown)


def has_hidden(text: str) -> bool:
    return any(is_hidden(ch) for ch in text)


def _protect(text: str) -> str:
    # "&" too: Python-Markdown leaves "&lt;" alone, so a written "&lt;" would show as "<".
    if _all_shown(text):  # nothing hidden, no CR: only "&" is protected
        return text.replace("&", f"{_OPEN}0026{_CLOSE}")
    return "".join(f"{_OPEN}{ord(ch):04X}{_CLOSE}" if is_hidden(ch) or ch in "\r&" else ch
                   for ch in _normalise_newlines(text))


def _restore(m: re.Match[str]) -> str:
    if m.group(1) == "0026":
        return "&amp;"
    return f'<span style="{MARKER_STYLE}">⟦U+{m.group(1)}⟧</span>'


def _markers_html(text_html: str) -> str:
    return _SENTINEL.sub(_restore, text_html)


def escaped_html(text: str) -> str:
    """Plain text as HTML (for rich widgets that must show data literally): escaped, line
    breaks kept, hidden characters as styled markers."""
    return _markers_html(html.escape(_protect(text)).replace("\n", "<br>"))


def tooltip_text(text: str) -> str:
    """A tooltip that Qt shows literally: tooltips are rich text whenever they look like HTML,
    so data goes in escaped inside an explicit rich-text wrapper."""
    if not text:
        return ""
    return f"<qt>{html.escape(visible_text(text)).replace(chr(10), '<br>')}</qt>"


# --- Markdown ----------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+\S")

# Python-Markdown parts that pass HTML through, load or link something, or drop text.
_NO_PREPROCESSORS = ("html_block",)
_NO_BLOCKPROCESSORS = ("reference",)
_NO_INLINE = ("html", "entity", "autolink", "automail", "link", "image_link",
              "image_reference", "reference", "short_reference", "short_image_ref")


def _loosen_lists(text: str) -> str:
    """Python-Markdown needs a blank line before a list; model answers often omit it."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and out[-1].strip() and _LIST_ITEM.match(line) and not _LIST_ITEM.match(out[-1]):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _build() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])
    for name in _NO_PREPROCESSORS:
        if name in md.preprocessors:
            md.preprocessors.deregister(name)
    for name in _NO_BLOCKPROCESSORS:
        if name in md.parser.blockprocessors:
            md.parser.blockprocessors.deregister(name)
    for name in _NO_INLINE:
        if name in md.inlinePatterns:
            md.inlinePatterns.deregister(name)
    return md


_MD: markdown.Markdown | None = None


def answer_html(text: str) -> str:
    """A model answer (or any Markdown from data) as HTML that shows exactly what was written:
    Markdown structure (emphasis, lists, headings, tables, code) but every tag, comment,
    entity, link and image as literal text, and hidden characters as styled markers."""
    global _MD
    if _MD is None:  # building the converter costs more than converting an answer
        _MD = _build()
    body = _MD.reset().convert(_loosen_lists(_protect(text)))
    return _markers_html(body)


def hidden_characters(text: str) -> Iterator[tuple[int, str]]:
    """(offset, marker) for every hidden character in ``text``."""
    for i, ch in enumerate(text):
        if is_hidden(ch):
            yield i, marker(ch)
