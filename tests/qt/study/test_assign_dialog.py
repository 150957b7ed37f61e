"""The assignment dialog: a live preview that writes nothing, then assignments in the database
exactly as previewed, the design and seed recorded, and Changes on the bus."""

from __future__ import annotations

from PySide6.QtCore import Qt

from medreview.qt.study.assign_dialog import AssignDialog
from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import list_raters


def _dialog(qtbot, opened):  # type: ignore[no-untyped-def]
    dlg = AssignDialog(opened.project, opened.db, opened.bus)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.rater_list.count() == 1, timeout=10000)  # "Dr Lead"
    return dlg


def _add(qtbot, dlg, name: str) -> None:  # type: ignore[no-untyped-def]
    dlg.new_name.setText(name)
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)


def _wait_preview(qtbot, dlg) -> svc.AssignmentPreview:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: dlg.preview is not None
                    and dlg.preview.summary.design == dlg.design(), timeout=10000)
    return dlg.preview


def test_preview_then_assign_writes_the_previewed_design(qtbot, app, opened) -> None:
    dlg = _dialog(qtbot, opened)
    dlg.set_checked(set())  # not the lead
    for name in ("Dr A", "Dr B", "Dr C"):
        _add(qtbot, dlg, name)
    assert dlg.rater_names() == ["Dr A", "Dr B", "Dr C"]
    dlg.per_output.setValue(2)
    dlg.share_mode.setChecked(True)
    dlg.overlap_pct.setValue(50)
    dlg.grouping.setCurrentIndex(dlg.grouping.findData("together"))
    dlg.seed.setValue(4242)
    preview = _wait_preview(qtbot, dlg)
    s = preview.summary
    assert s.design.overlap == 0.5 and s.design.case_grouping == "together"
    assert s.created_raters == ("Dr A", "Dr B", "Dr C")
    # 6 cases kept together, half of them double-rated: 3 cases x 3 models = 9 outputs.
    assert s.multi_rated_outputs == 9 and s.added == 18 + 9
    assert f"{s.multi_rated_outputs} of 18 outputs" in dlg.headline.text()
    table = {dlg.table.item(r, 0).text(): dlg.table.item(r, 3).text()
             for r in range(dlg.table.rowCount())}
    assert table == {n: str(v) for n, v in s.per_rater.items()}
    # Previewing wrote nothing: no new raters, no assignments.
    assert {r.name for r in opened.call(list_raters, opened.project)} == {"Dr Lead"}
    assert dlg.assign_button.isEnabled()

    qtbot.mouseClick(dlg.assign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.summary is not None, timeout=10000)
    assert dlg.summary.per_rater == s.per_rater and dlg.summary.added == s.added
    assert opened.emitted and opened.emitted[-1].raters
    ov = opened.call(svc.assignment_overview, opened.project)
    assert {r.name: r.assigned for r in ov.raters if r.assigned} == s.per_rater
    (design,) = ov.designs
    assert (design["seed"], design["overlap"], design["per_output"]) == (4242, 0.5, 2)
    assert design["raters"] == ["Dr A", "Dr B", "Dr C"]
    # "together": a rater's queue holds each case's answers one after another.
    a = next(r for r in opened.call(list_raters, opened.project) if r.name == "Dr A")
    cases = [row.case_id for row in opened.call(grading.load_queue, opened.project, a.id)]
    assert cases == sorted(cases, key=cases.index) and len(cases) == s.per_rater["Dr A"]
    assert "Saved" in dlg.note.text() and not dlg.assign_button.isVisible()
    assert dlg.close_button.text() == "Close"


def test_an_impossible_design_is_explained_and_cannot_be_assigned(qtbot, app, opened) -> None:
    dlg = _dialog(qtbot, opened)
    _add(qtbot, dlg, "Dr A")
    dlg.share_mode.setChecked(True)
    dlg.per_output.setValue(1)
    qtbot.waitUntil(lambda: "2 or more raters per output" in dlg.note.text(), timeout=5000)
    assert not dlg.assign_button.isEnabled()
    dlg.per_output.setValue(2)
    preview = _wait_preview(qtbot, dlg)
    assert preview.summary.added > 0 and dlg.assign_button.isEnabled()
    assert dlg.note.text() == ""
    dlg.set_checked(set())
    qtbot.waitUntil(lambda: dlg.note.text() == "Choose at least one rater.", timeout=5000)
    assert not dlg.assign_button.isEnabled()
    assert opened.call(svc.assignment_overview, opened.project).designs == ()
