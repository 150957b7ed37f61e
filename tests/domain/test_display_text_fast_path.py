"""The C-speed fast path of ``visible_text_with_map`` and ``answer_html`` gives exactly what the
per-character policy gives, for any text (hidden characters, CR, "&", invisible letters)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from medreview.domain import display_text as dt

# Characters around every edge of the policy, mixed into arbitrary text.
EDGES = [*"\n\t\r &<>*_#`", "\u00a0", "\u200b", "\u202e", "\u2028", "\u2029", "\ue000",
         "\ue001", "\ufeff", "\x00", "\x7f", "\u3000", "\U0001f600", "é", "µ", "°",
         *sorted(dt._EXTRA_HIDDEN)]
TEXT = st.lists(st.one_of(st.sampled_from(EDGES), st.characters(blacklist_categories=("Cs",))),
                max_size=60).map("".join)


def _slow_map(text: str) -> tuple[str, list[int]]:
    """The per-character policy, as the module wrote it before the fast path."""
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
            out.append("\n")
            where.append(i)
            i += 2
            continue
        shown = dt.marker(ch) if dt.is_hidden(ch) or ch == "\r" else ch
        out.append(shown)
        where.extend([i] * len(shown))
        i += 1
    where.append(n)
    return "".join(out), where


def _slow_protect(text: str) -> str:
    return "".join(f"{dt._OPEN}{ord(ch):04X}{dt._CLOSE}"
                   if dt.is_hidden(ch) or ch in "\r&" else ch
                   for ch in text.replace("\r\n", "\n"))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_fast_path_equals_the_per_character_policy(text: str) -> None:
    assert dt.visible_text_with_map(text) == _slow_map(text)
    assert dt._protect(text) == _slow_protect(text)


def test_fast_path_is_taken_only_when_nothing_is_hidden() -> None:
    assert dt._all_shown("Dose: 5 mg & rest\n\tµg, 37 °C — ok")
    for hidden in ("\u202e", "\u200b", "\r", "\u00a0", "\u3164", "\ue000", "\x00"):
        assert not dt._all_shown("a" + hidden + "b")
