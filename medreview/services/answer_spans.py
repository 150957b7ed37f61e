"""Map text selected in the *rendered* answer back to characters of the Markdown source, and
find a stored span again in the rendered text (to highlight it).

The answer is stored as Markdown but shown rendered (``domain.display_text.answer_html``: tags,
entities, links and images literal; hidden characters as ``⟦U+XXXX⟧`` markers), so a
selection's offsets are not source offsets: the selected words, markers turned back into the
characters they stand for, are searched in the source allowing Markdown markup (emphasis, list
numbers, quote marks) wherever the rendering had white space. The stored span is always a slice
of the source, the text the judge receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medreview.domain.display_text import unmark, visible_text

# What may sit between two words in the source when the rendering showed only white space.
_SEP = r"(?:[\s*_`#>|~]|\d+[.)](?=\s)|(?<=\s)[-+](?=\s))+"
_INLINE = r"[*_`~]*"
_MARKUP = re.compile(r"[#>|]+")
_EMPHASIS = re.compile(r"[*_`~]+")
_LIST_MARKER = re.compile(r"(?m)^\s*(?:\d+[.)]|[-+*])\s+")


@dataclass(frozen=True)
class SourceSpan:
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, int | str]:
        return {"start": self.start, "end": self.end, "text": self.text}


def _words(text: str, *, shown: bool = False) -> list[str]:
    """The words of ``text`` without Markdown markup. In ``shown`` (rendered) text the
    characters ``# > |`` are literal (headings, quotes and table rules are not rendered as
    characters, and HTML shows as typed), so they stay part of the words."""
    # List markers and emphasis never appear in the rendering.
    text = _EMPHASIS.sub("", _LIST_MARKER.sub(" ", text))
    return [w for w in (text if shown else _MARKUP.sub(" ", text)).split() if w]


def _word(word: str) -> str:
    # Emphasis may open or close inside what renders as one word ("**pneumonia**.").
    return _INLINE.join(re.escape(c) for c in word)


def _pattern(words: list[str]) -> re.Pattern[str]:
    return re.compile(_SEP.join(_word(w) for w in words))


def locate_in_source(source: str, selected: str, near: float = 0.0) -> SourceSpan | None:
    """The source span whose words are ``selected``; of several, the one nearest ``near``
    (a fraction 0..1 of the way through the text, from where the selection was made)."""
    words = _words(unmark(selected), shown=True)
    if not words:
        return None
    matches = list(_pattern(words).finditer(source))
    if not matches:
        return None
    target = near * len(source)
    best = min(matches, key=lambda m: abs(m.start() - target))
    return SourceSpan(best.start(), best.end(), source[best.start():best.end()])


def locate_in_rendered(rendered: str, span_text: str) -> tuple[int, int] | None:
    """Where a stored span's words appear in the rendered plain text, or None.

    Markup characters that ``_words`` drops may still be shown literally (``<b>`` is text now),
    so they are allowed between and inside the words."""
    shown = visible_text(span_text)
    for words in (_words(shown, shown=True), _words(shown)):  # literal first, then as markup
        if words:
            m = re.compile(_SHOWN_SEP.join(_word(w) for w in words)).search(rendered)
            if m:
                return m.start(), m.end()
    return None


_SHOWN_SEP = r"[\s#>|*_`~]+"
