"""The adjudication window: the queue by the rules, ratings side by side with names hidden, M to
accept the majority and Enter to set a gold value with rationale — gold labels in the database
with their provenance, Changes on the bus, and shortcuts that stay in this window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from medreview.qt.study.adjudication import AdjudicationWindow
from medreview.services import study as svc
from tests.qt.study.helpers import RATERS


def _window(qtbot, opened, parent=None):  # type: ignore[no-untyped-def]
    w = AdjudicationWindow(opened.project, opened.db, opened.bus, parent)
    if parent is None:  # a child window is deleted with its parent
        qtbot.addWidget(w)
    w.resize(1500, 900)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.queue.items != [] and w.item is not None
                    and w.editor.widget is not None, timeout=15000)
    return w


def _select(qtbot, w, output_id: int, question_id: str) -> None:  # type: ignore[no-untyped-def]
    row = w.queue.row_of((output_id, question_id))
    assert row is not None, (output_id, question_id)
    w.queue.select_row(row)
    qtbot.waitUntil(lambda: w.current == (output_id, question_id) and w.item is not None
                    and w.item.output_id == output_id and w.editor.question is not None
                    and w.editor.question.id == question_id, timeout=10000)


def _key(qtbot, w, key: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(w.queue.table, key, mods)


def _gold(opened, output_id: int):  # type: ignore[no-untyped-def]
    return opened.call(svc.output_ratings, opened.project, output_id).gold


def test_queue_follows_the_rules_and_hides_rater_names(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    keys = {(d.output_id, d.question_id) for d in w.queue.items}
    assert keys == {(1, "criterion:dx"), (1, "overall"), (2, "errors")}
    scores = [d.score for d in w.queue.shown]
    assert scores == sorted(scores, reverse=True)
    _select(qtbot, w, 1, "overall")
    assert w.image_pane.isVisible()  # case-00001 carries the CT series
    assert w.answer_view.source and w.case_view.title.text().endswith("case-00001")
    heads = w.table.header_texts()
    assert heads == ["Question", "Rater 1", "Rater 2", "Rater 3", "Majority", "Gold"]
    texts = "\n".join(w.visible_texts())
    assert not any(name in texts for name in RATERS)
    assert "4 · Good" in texts and "1 · Unacceptable" in texts
    # Ctrl+H shows the names, in the same columns, and keeps what was typed.
    w.editor.rationale.setPlainText("half-written")
    _key(qtbot, w, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert w.editor.rationale_text() == "half-written"
    assert not w.hide_names.isChecked()
    assert w.table.header_texts()[1:4] == list(RATERS)
    w.hide_names.setChecked(True)
    assert not any(name in "\n".join(w.visible_texts()) for name in RATERS)
    # A stricter scale rule: spread 3 is no longer a disagreement.
    w.queue.ordinal.setValue(4)
    qtbot.waitUntil(lambda: (1, "overall") not in {(d.output_id, d.question_id)
                                                   for d in w.queue.items}, timeout=10000)
    w.queue.question.setCurrentIndex(w.queue.question.findData("errors"))
    assert [(d.output_id, d.question_id) for d in w.queue.shown] == [(2, "errors")]


def test_m_accepts_the_majority_and_enter_saves_a_gold_value_with_rationale(
        qtbot, app, disputed) -> None:
    disputed.call(svc.auto_gold, disputed.project)  # criterion:dx gets a "majority" label
    w = _window(qtbot, disputed)
    w.adjudicator.setCurrentText("Dr Lead")
    _select(qtbot, w, 1, "criterion:dx")
    assert "majority" in w.editor.existing.text() and "Met" in w.editor.existing.text()
    assert w.editor.majority.text() == "Majority: Met"
    _key(qtbot, w, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: _gold(disputed, 1)["criterion:dx"].provenance == "adjudicated",
                    timeout=10000)
    g = _gold(disputed, 1)["criterion:dx"]
    assert (g.value, g.adjudicator, g.revision_no) == (True, "Dr Lead", 2)
    qtbot.waitUntil(lambda: any(c.gold == frozenset({1}) for c in disputed.emitted),
                    timeout=10000)
    # Resolved items leave the queue, and the next disagreement is up.
    qtbot.waitUntil(lambda: w.current is not None and w.current != (1, "criterion:dx"),
                    timeout=10000)
    assert (1, "criterion:dx") not in {(d.output_id, d.question_id) for d in w.queue.items}

    _select(qtbot, w, 1, "overall")
    _key(qtbot, w, Qt.Key.Key_3)  # "3 · Acceptable"
    assert w.editor.value() == 3
    _key(qtbot, w, Qt.Key.Key_Return)  # no rationale yet: refused, nothing written
    assert "rationale" in w.statusBar().currentMessage()
    assert "overall" not in _gold(disputed, 1)
    assert w.editor.rationale.hasFocus()
    qtbot.keyClicks(w.editor.rationale, "Meets the standard; dose advice is incomplete.")
    assert w.editor.value() == 3  # typing letters into the rationale did not answer anything
    qtbot.keyClick(w.editor.rationale, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "overall" in _gold(disputed, 1), timeout=10000)
    g = _gold(disputed, 1)["overall"]
    assert (g.value, g.provenance, g.adjudicator) == (3, "adjudicated", "Dr Lead")
    assert g.rationale == "Meets the standard; dose advice is incomplete."
    qtbot.waitUntil(lambda: w.current == (2, "errors"), timeout=10000)
    # No strict majority on the errors: M explains and writes nothing.
    _key(qtbot, w, Qt.Key.Key_M)
    assert "no strict majority" in w.statusBar().currentMessage()
    assert "errors" not in _gold(disputed, 2)


def test_show_resolved_lists_settled_items_with_their_provenance(qtbot, app, disputed) -> None:
    w = _window(qtbot, disputed)
    assert (1, "overall") in {(d.output_id, d.question_id) for d in w.queue.items}
    # Another screen settles an item: the change on the bus refreshes this queue.
    _label, changes = disputed.call(svc.set_gold, disputed.project, 1, "overall", 4,
                                    rationale="agreed", adjudicator="Dr Lead")
    disputed.bus.emit(changes, None)
    qtbot.waitUntil(lambda: (1, "overall") not in {(d.output_id, d.question_id)
                                                   for d in w.queue.items}, timeout=10000)
    w.show_resolved.setChecked(True)
    qtbot.waitUntil(lambda: w.queue.row_of((1, "overall")) is not None, timeout=10000)
    row = w.queue.row_of((1, "overall"))
    assert w.queue.table.item(row, 3).text() == "adjudicated"
    _select(qtbot, w, 1, "overall")
    assert "adjudicated by Dr Lead" in w.editor.existing.text()
    assert "“agreed”" in w.editor.existing.text() and w.editor.value() == 4


def test_the_main_windows_single_keys_never_fire_here(qtbot, app, disputed) -> None:
    main = QWidget()
    qtbot.addWidget(main)
    fired: list[str] = []
    sc = QShortcut(QKeySequence("M"), main)
    sc.setContext(Qt.ShortcutContext.WindowShortcut)
    sc.activated.connect(lambda: fired.append("main"))
    main.show()
    w = _window(qtbot, disputed, parent=main)
    assert w.isWindow() and w.window() is not main
    _select(qtbot, w, 2, "errors")
    _key(qtbot, w, Qt.Key.Key_M)
    assert fired == []
    assert "no strict majority" in w.statusBar().currentMessage()


def test_every_adjudication_key_comes_from_the_keymap_and_is_in_the_cheat_sheet(
        qtbot, app, disputed) -> None:  # type: ignore[no-untyped-def]
    import html

    from medreview.qt.cheatsheet import cheatsheet_html
    from medreview.qt.keys import ADJUDICATION_GROUP, ADJUDICATION_KEYS

    w = _window(qtbot, disputed)
    made = {sc.key().toString() for sc in w.findChildren(QShortcut)}
    sheet = cheatsheet_html()
    assert html.escape(ADJUDICATION_GROUP) in sheet
    for b in ADJUDICATION_KEYS:
        assert len(w.shortcuts[b.action]) == len(b.keys)
        assert all(QKeySequence(k).toString() in made for k in b.keys), b
        assert html.escape(b.label) in sheet
    # Nothing in the window has a key that is not in the table.
    listed = {QKeySequence(k).toString() for b in ADJUDICATION_KEYS for k in b.keys}
    assert made <= listed
