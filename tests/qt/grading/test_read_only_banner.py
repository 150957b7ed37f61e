"""A project that cannot be written opens read-only, with a plain-text banner saying so."""

from __future__ import annotations

import pytest

from tests.qt.grading.helpers import open_and_wait


def test_read_only_project_shows_a_banner_and_browses(  # type: ignore[no-untyped-def]
    qtbot, make_window, project_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    assert w.read_only_banner.isHidden()
    w.close_to_welcome()
    monkeypatch.setenv("MEDREVIEW_READ_ONLY", "1")
    open_and_wait(qtbot, w, project_path)  # the queue and the first item load as usual
    banner = w.read_only_banner
    assert banner.isVisible()
    assert banner.text().startswith("Read-only project: opened read-only on request.")
    assert "cannot be saved" in banner.text()
    assert len(w.queue.model.rows) == 6
    w.close_to_welcome()
    assert banner.isHidden()


def test_read_only_open_leaves_the_database_file_as_it_was(  # type: ignore[no-untyped-def]
    qtbot, make_window, project_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = project_path / "project.sqlite"
    before = db.read_bytes()
    monkeypatch.setenv("MEDREVIEW_READ_ONLY", "1")
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    w.close_to_welcome()
    assert db.read_bytes() == before
