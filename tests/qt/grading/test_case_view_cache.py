"""The case view renders a conversation once: the case's other answer keeps the document
(shown from its top again, nothing selected), a preloaded case is rendered ahead, another
case replaces it."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QTextCursor

from medreview.domain.records import ContextDocument, Message
from medreview.qt.grading.case_view import CaseView, conversation_html

LONG = "\n\n".join(f"Paragraph {i}: " + "the patient reports chest pain. " * 12
                   for i in range(60))


def test_same_case_keeps_its_document_from_the_top(qtbot: Any) -> None:
    v = CaseView()
    qtbot.addWidget(v)
    v.resize(500, 300)
    v.show()
    msgs = (Message("user", LONG), Message("assistant", "Noted."))
    v.show_case("Case 1", (), msgs, ())
    doc = v.conversation.document()
    first = doc.toPlainText()
    v.conversation.verticalScrollBar().setValue(v.conversation.verticalScrollBar().maximum())
    cur = QTextCursor(doc)
    cur.setPosition(10)
    cur.setPosition(40, QTextCursor.MoveMode.KeepAnchor)
    v.conversation.setTextCursor(cur)
    revision = doc.revision()
    v.show_case("Case 1", (), msgs, ())
    assert v.conversation.document().revision() == revision  # not rendered again
    assert v.conversation.toPlainText() == first
    assert v.conversation.verticalScrollBar().value() == 0
    assert not v.conversation.textCursor().hasSelection()
    v.show_case("Case 2", (), (Message("user", "Something else <b>entirely</b>"),), ())
    assert "Something else <b>entirely</b>" in v.conversation.toPlainText()
    assert "chest pain" not in v.conversation.toPlainText()


def test_a_prepared_case_is_shown_from_the_cache(qtbot: Any) -> None:
    v = CaseView()
    qtbot.addWidget(v)
    msgs = (Message("user", "Prepared case " + LONG[:200]),)
    ctx = (ContextDocument("Note", "line one\nline two\u202e"),)
    v.prepare(msgs, ctx)
    hits = conversation_html.cache_info().hits
    v.show_case("P", (), msgs, ctx)
    assert conversation_html.cache_info().hits == hits + 1
    assert v.sections[0].body.text() == "line one line two⟦U+202E⟧"  # reflowed, marked
