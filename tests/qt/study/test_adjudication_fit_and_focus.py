"""The adjudication window fits a 1366×768 screen with its Save button in view, and keys meant
for the gold answer never land in the rule fields."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from medreview.qt.study.adjudication import AdjudicationWindow


def _window(qtbot, opened, size=(1366, 768)):  # type: ignore[no-untyped-def]
    w = AdjudicationWindow(opened.project, opened.db, opened.bus)
    qtbot.addWidget(w)
    if size is not None:
        w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.queue.items != [] and w.item is not None
                    and w.editor.widget is not None, timeout=15000)
    return w


def _inside(w: QWidget, child: QWidget) -> bool:
    top_left = child.mapTo(w, QPoint(0, 0))
    return (child.isVisible() and top_left.x() >= 0 and top_left.y() >= 0
            and top_left.x() + child.width() <= w.width()
            and top_left.y() + child.height() <= w.height())


def _not_clipped(widget: QWidget) -> bool:
    hint = widget.minimumSizeHint()
    return widget.width() >= hint.width() and widget.height() >= hint.height()


def _rules(w):  # type: ignore[no-untyped-def]
    return (w.queue.ordinal.value(), w.queue.number.value(),
            tuple(box.isChecked() for box, _g in w.queue.kind_boxes),
            w.queue.question.currentIndex())


def _select(qtbot, w, output_id: int, question_id: str) -> None:  # type: ignore[no-untyped-def]
    row = w.queue.row_of((output_id, question_id))
    assert row is not None, (output_id, question_id)
    w.queue.select_row(row)
    qtbot.waitUntil(lambda: w.editor.question is not None
                    and w.editor.question.id == question_id
                    and w.item is not None and w.item.output_id == output_id, timeout=10000)


def test_fits_1366_by_768_with_save_in_view(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    _select(qtbot, w, 1, "overall")  # the case with CT images: the fullest screen
    hint = w.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768, hint
    assert (w.width(), w.height()) == (1366, 768)
    assert _inside(w, w.editor.save) and _inside(w, w.editor.accept)
    for part in (w.queue, w.editor, w.editor.save, w.table, w.queue.table, w.image_scroll):
        assert _not_clipped(part), (type(part).__name__, part.size(), part.minimumSizeHint())
    # The viewer's own toolbar is wider than the centre column here: it scrolls, not clips.
    assert w.image_scroll.widget() is w.image_pane


def test_opens_no_larger_than_the_screen(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed, size=None)
    free = w.screen().availableGeometry()
    assert w.width() <= free.width() and w.height() <= free.height()
    assert _inside(w, w.editor.save)


def test_digits_and_letters_answer_gold_and_never_touch_the_rules(
        qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    qtbot.waitUntil(lambda: w.queue.table.hasFocus(), timeout=5000)  # keys go to the queue
    rules = _rules(w)
    _select(qtbot, w, 1, "overall")
    for key, value in ((Qt.Key.Key_1, 1), (Qt.Key.Key_2, 2), (Qt.Key.Key_4, 4)):
        qtbot.keyClick(w.queue.table, key)
        assert w.editor.value() == value
        assert _rules(w) == rules
    _select(qtbot, w, 1, "criterion:dx")
    qtbot.keyClick(w.queue.table, Qt.Key.Key_Y)
    assert w.editor.value() is True
    qtbot.keyClick(w.queue.table, Qt.Key.Key_N)
    assert w.editor.value() is False
    assert _rules(w) == rules
    # The keyboard walk never lands in a rule field.
    w.queue.table.setFocus()
    rule_widgets = [w.queue.ordinal, w.queue.number, w.queue.question,
                    *(box for box, _g in w.queue.kind_boxes)]
    for _ in range(25):
        qtbot.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        assert not any(r is focus or r.isAncestorOf(focus) for r in rule_widgets), focus
    assert _rules(w) == rules


def test_the_wheel_changes_a_rule_only_once_clicked(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    spin = w.queue.ordinal
    before = spin.value()
    wheel = QWheelEvent(QPointF(5, 5), QPointF(spin.mapToGlobal(QPoint(5, 5))), QPoint(0, 0),
                        QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(spin, wheel)
    assert spin.value() == before and not spin.hasFocus()


def test_a_rule_that_empties_the_queue_says_so(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    for box, _g in w.queue.kind_boxes:  # deliberately: a click on each kind
        box.setChecked(False)
    qtbot.waitUntil(lambda: w.queue.items == [], timeout=10000)
    msg = w.statusBar().currentMessage()
    assert "No disagreements under these rules" in msg and "kinds: none" in msg
    assert "there were 3 before" in msg
    assert w.queue.count.text() == "No disagreements under these rules."


def test_typed_rule_counts_on_enter_and_gives_keys_back_to_the_queue(
        qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    spin = w.queue.ordinal
    qtbot.mouseClick(spin.lineEdit(), Qt.MouseButton.LeftButton)
    assert spin.hasFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "4")
    assert w.queue.rules().ordinal_threshold == 2.0  # not applied while typing
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert w.queue.rules().ordinal_threshold == 4.0
    assert w.queue.table.hasFocus()
    qtbot.waitUntil(lambda: (1, "overall") not in {(d.output_id, d.question_id)
                                                   for d in w.queue.items}, timeout=10000)


def test_escape_leaves_a_field_then_closes_the_window(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    w.editor.rationale.setFocus()
    qtbot.keyClick(w.editor.rationale, Qt.Key.Key_Escape)
    assert w.queue.table.hasFocus() and w.isVisible()
    qtbot.keyClick(w.queue.table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=3000)
