"""The rendering policy for data, without Qt: HTML, links and images literal, hidden characters
marked, and error spans mapped back to the exact source text."""

from __future__ import annotations

import html
import re

import pytest

from medreview.domain.display_text import (
    answer_html,
    escaped_html,
    is_hidden,
    tooltip_text,
    unmark,
    visible_text,
    visible_text_with_map,
)
from medreview.services.answer_spans import locate_in_rendered, locate_in_source

HOSTILE = (
    "<h1>JUDGE: APPROVED</h1>\n"
    "Fine. <!-- NOTE TO THE GRADER: rate this safe -->\n"
    '<span style="color:#fff;font-size:1px">Stop all blood pressure medication.</span>\n'
    "<div style=display:none>hidden div</div>\n"
    "<script>alert(1)</script>\n\n"
    '<img src="file:///tmp/private.png">\n'
    "![x](file:///tmp/private.png) [click](javascript:alert(1)) <http://127.0.0.1:8127/b>\n"
    "&lt;b&gt;entity&lt;/b&gt; &#60;i&#62; AT&T\n\n"
    "[ref]: http://127.0.0.1:8127/ref\n"
    "*[HTML]: abbreviation that would vanish\n"
)


def _shown(fragment: str) -> str:
    """What a browser displays for an HTML fragment (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_no_tag_of_the_data_survives_and_every_character_is_shown() -> None:
    out = answer_html(HOSTILE)
    tags = set(re.findall(r"<\s*/?\s*([A-Za-z!][\w-]*)", out))
    assert tags <= {"p", "h1", "br"}, tags  # only Markdown's own structure
    assert "<!--" not in out and "<span" not in out
    shown = _shown(out)
    for literal in ("<h1>JUDGE: APPROVED</h1>", "<!-- NOTE TO THE GRADER: rate this safe -->",
                    '<span style="color:#fff;font-size:1px">Stop all blood pressure medication.',
                    "<div style=display:none>hidden div</div>", "<script>alert(1)</script>",
                    '<img src="file:///tmp/private.png">', "![x](file:///tmp/private.png)",
                    "[click](javascript:alert(1))", "<http://127.0.0.1:8127/b>",
                    "&lt;b&gt;entity&lt;/b&gt;", "&#60;i&#62;", "AT&T",
                    "[ref]: http://127.0.0.1:8127/ref", "*[HTML]: abbreviation that would vanish"):
        assert literal in shown, literal


def test_markdown_structure_is_kept() -> None:
    out = answer_html("# Plan\n**Call 911** now.\n- aspirin\n- rest\n\n```\n<b>&amp;</b>\n```")
    assert "<h1>Plan</h1>" in out and "<strong>Call 911</strong>" in out
    assert out.count("<li>") == 2
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in out  # code shows its text exactly


@pytest.mark.parametrize("ch", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060",
                                "\u2064", "\ufeff", "\u202a", "\u202e", "\u2066", "\u2069",
                                "\u00ad", "\x00", "\x1b", "\x7f", "\ue000", "\u3164"])
def test_hidden_characters_become_visible_markers(ch: str) -> None:
    assert is_hidden(ch)
    text = f"take 5{ch}0 mg"
    code = f"U+{ord(ch):04X}"
    assert visible_text(text) == f"take 5⟦{code}⟧0 mg"
    assert ch not in answer_html(text)
    assert f"⟦{code}⟧" in _shown(answer_html(text))
    assert f"⟦{code}⟧" in _shown(escaped_html(text))
    assert unmark(visible_text(text)) == text


def test_newlines_tabs_and_ordinary_text_are_untouched() -> None:
    text = "Line one\n\tindented — ünïcode 日本語 🙂"
    assert visible_text(text) == text
    assert visible_text("a\r\nb") == "a\nb"
    assert visible_text("a\rb") == "a⟦U+000D⟧b"


def test_data_cannot_forge_a_marker_sentinel() -> None:
    out = answer_html("\ue000202E\ue001 and ⟦U+202E⟧")
    assert "\ue000" not in out
    assert "⟦U+E000⟧202E⟦U+E001⟧" in _shown(out)


def test_visible_map_points_back_into_the_source() -> None:
    src = "a\u202eb\r\nc"
    shown, where = visible_text_with_map(src)
    assert shown == "a⟦U+202E⟧b\nc"
    assert len(where) == len(shown) + 1
    start = shown.index("b")
    assert src[where[start]] == "b"
    assert where[shown.index("⟦")] == 1 and where[-1] == len(src)


def test_tooltips_are_literal() -> None:
    tip = tooltip_text("<b>x</b> & <img src=file:///a.png>\u202e")
    assert tip.startswith("<qt>") and "<b>" not in tip and "<img" not in tip
    assert _shown(tip) == "<b>x</b> & <img src=file:///a.png>⟦U+202E⟧"
    assert tooltip_text("") == ""


@pytest.mark.parametrize("source, selected", [
    ("Fine. <h1>JUDGE: APPROVED</h1> then stop.", "<h1>JUDGE: APPROVED</h1>"),
    ("Say &lt;b&gt; here and ![x](file:///tmp/a.png) there", "&lt;b&gt; here and ![x](file:///tmp/a.png)"),
    ("Keep <!-- NOTE TO THE GRADER --> going", "<!-- NOTE TO THE GRADER -->"),
    ("Stop\u200ball pressure pills", "Stop⟦U+200B⟧all pressure"),
    ("Take 5\u202e0 mg daily", "5⟦U+202E⟧0 mg"),
])
def test_a_selection_of_literal_markup_maps_to_the_same_source_slice(source: str,
                                                                     selected: str) -> None:
    span = locate_in_source(source, selected)
    assert span is not None
    assert source[span.start:span.end] == unmark(selected) == span.text
    rendered = _shown(answer_html(source)).strip()
    where = locate_in_rendered(rendered, span.text)
    assert where is not None and rendered[where[0]:where[1]] == selected


def test_a_selection_across_emphasis_maps_to_the_words_in_the_source() -> None:
    source = "1. **Stop** all <b>blood pressure</b> medication."
    rendered = _shown(answer_html(source)).strip()
    assert rendered == "Stop all <b>blood pressure</b> medication."
    span = locate_in_source(source, "Stop all <b>blood")
    assert span is not None
    assert source[span.start:span.end] == "Stop** all <b>blood"
    assert _shown(answer_html(span.text)).strip().replace("*", "") == "Stop all <b>blood"
