"""A server project whose shared media folder is not reachable on this computer opens for
grading with one line above everything saying so (the line itself comes from
``services.projects.media_problem``, tested against a real server in
tests/postgres/test_media_folder.py)."""

from __future__ import annotations

import pytest

from tests.qt.grading.helpers import open_and_wait

LINE = ("shared media folder /mnt/share/study is not reachable on this computer; set "
        "MEDREVIEW_MEDIA_FOLDER to where it is mounted here")


def test_an_unreachable_media_folder_is_said_once_and_grading_still_works(  # type: ignore[no-untyped-def]
    qtbot, make_window, project_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medreview.services import projects

    w = make_window()
    open_and_wait(qtbot, w, project_path)
    assert w.media_banner.isHidden()  # a folder project's media are its own
    w.close_to_welcome()
    monkeypatch.setattr(projects, "media_problem", lambda _project: LINE)
    open_and_wait(qtbot, w, project_path)
    assert w.media_banner.isVisible()
    assert w.media_banner.text() == f"Images cannot be shown: {LINE}"
    assert len(w.queue.model.rows) == 6 and w.controller is not None  # grading goes on
    w.close_to_welcome()
    assert w.media_banner.isHidden()
