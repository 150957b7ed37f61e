"""The viewer inside the grading window: opens at the case's key slice, M maximises the image
pane and back, and the viewer's own keys win over the grading keys only while it has focus."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from medreview.domain.records import CaseRecord, Located
from medreview.services.projects import add_form, add_rater, create_project
from medreview.services.sample_project import (
    make_dicom_series,
    sample_records,
    sample_rubric,
    sample_taxonomy,
)
from medreview.storage.ingest import ingest
from tests.qt.grading.helpers import open_and_wait


@pytest.fixture
def key_slice_project(tmp_path: Path) -> Path:
    path = tmp_path / "keyslice"
    project = create_project(path, "Key slice")
    add_form(project, sample_rubric(False))
    add_form(project, sample_taxonomy())
    add_rater(project, "Dr Example")
    files = make_dicom_series(tmp_path / "dcm", slices=6)

    def with_key(loc: Located) -> Located:
        if isinstance(loc.record, CaseRecord):
            rec = dataclasses.replace(loc.record, metadata={"key_slice": 4})
            return Located(rec, loc.source, loc.line)
        return loc

    ingest(project, [with_key(x) for x in sample_records(1, 2, files)], source="sample",
           importer="sample")  # fmt: skip
    project.close()
    return path


def test_opens_at_key_slice_maximises_and_keeps_keys_apart(qtbot, make_window,
                                                           key_slice_project: Path) -> None:  # type: ignore[no-untyped-def]
    w = make_window()
    open_and_wait(qtbot, w, key_slice_project)
    pane = w.view.image_pane
    viewer = pane.viewer
    assert pane.external
    qtbot.waitUntil(lambda: viewer.current_frame() is not None, timeout=15000)
    assert viewer.slice_count() == 6
    assert viewer.current_index() == 3  # key_slice 4 (1-based) from the case metadata
    assert "Slice 4/6" in viewer.overlay_text()

    # M from the grading panel: the image pane takes the window, then gives it back
    w.view.panel.setFocus()
    before = pane.width() * pane.height()
    qtbot.keyClick(w.view.panel, "m")
    assert pane.is_maximised()
    assert not w.view.panel.isVisible() and not w.view.answer_view.isVisible()
    qtbot.waitUntil(lambda: pane.width() * pane.height() > 2 * before, timeout=3000)
    assert w.menuBar().isVisible()
    qtbot.keyClick(viewer, "m")  # and from the viewer itself (it has focus now)
    assert not pane.is_maximised()
    assert w.view.panel.isVisible() and w.view.answer_view.isVisible()

    # While the image has focus, I inverts the image instead of editing the answer...
    viewer.setFocus()
    qtbot.keyClick(viewer, "i")
    assert viewer.is_inverted()
    assert viewer.hasFocus()
    # ...and the grading keys are back once the panel has focus
    w.view.panel.setFocus()
    qtbot.keyClick(w.view.panel, "f")
    qtbot.waitUntil(lambda: w.controller.draft.flagged, timeout=3000)
    assert viewer.is_inverted()  # untouched by the grading key
