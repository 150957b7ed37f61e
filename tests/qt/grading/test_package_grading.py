"""The physician's side of an offline study, in the real main window: open the package the
lead sent, grade from the keyboard, return it; the lead's merge then holds that judgment."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import list_raters, open_project
from medreview.study.assign import AssignmentDesign
from tests.qt.grading.helpers import open_and_wait, press, wait_saved
from tests.study.helpers import study_project


def test_grade_inside_a_package_in_the_app_and_merge_it_back(qtbot, make_window,
                                                             tmp_path: Path) -> None:
    lead = study_project(tmp_path / "study", n_cases=6)
    svc.assign(lead, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=5))
    pkg = svc.build_package(lead, "Dr A", tmp_path / "dr-a.mrpkg").path
    folder = svc.unpack_package(pkg, tmp_path / "dr-a")

    w = make_window()
    open_and_wait(qtbot, w, folder)
    assert w.rater is not None and w.rater.name == "Dr A"
    assert [r.name for r in w.raters] == ["Dr A"]  # nobody else's work travels
    queued = {r.output_id for r in w.queue.model.rows}
    c, panel = w.controller, w.view.panel
    first = c.item.output_id
    graded_key = (c.item.case.external_id, c.item.answer)
    assert c.item.model.startswith("Response ")  # blinded inside the package
    assert first in queued
    for _ in range(40):  # answer what is required, from the keyboard
        missing = c.missing()
        if not missing:
            break
        panel.show_first_missing(missing)
        press(qtbot, "y" if missing[0].startswith("criterion:") else "1", panel)
    assert c.missing() == []
    qtbot.keyClick(panel, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id != first, timeout=10000)
    wait_saved(qtbot, w)
    w.close()

    returned = svc.seal_package(folder, tmp_path / "dr-a-graded.mrpkg").path
    report, _changes = svc.merge_packages(lead, [returned])
    assert report.added >= 1 and not report.conflicts
    dr_a = next(r for r in list_raters(lead) if r.name == "Dr A")
    # Output ids are the package's own and model names are blinded in it: the one answer
    # Dr A finished in the lead's project must be the same case with the same text.
    (lead_id,) = [r.output_id for r in grading.load_queue(lead, dr_a.id) if r.status == "done"]
    item = grading.load_item(lead, dr_a.id, lead_id)
    assert item.status == "done" and item.draft is not None and item.draft.answers
    assert (item.case.external_id, item.answer) == graded_key
    lead.close()
    # Merging the same file again changes nothing.
    again = open_project(tmp_path / "study")
    report2, _ = svc.merge_packages(again, [returned])
    assert report2.added == 0
    again.close()
