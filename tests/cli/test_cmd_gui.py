"""``medreview gui PROJECT``: a folder arrives as a Path, a server URL as the text typed (a
Path would fold ``postgresql://`` into ``postgresql:/``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import medreview.cli.cmd_gui as cmd_gui
from medreview.cli.main import main


@pytest.mark.parametrize(("arg", "expected"), [
    ("postgresql://dr_a@db.hospital.example:5432/stroke?sslmode=verify-full",
     "postgresql://dr_a@db.hospital.example:5432/stroke?sslmode=verify-full"),
    ("postgres://dr_a@db/stroke", "postgres://dr_a@db/stroke"),
])
def test_gui_passes_a_folder_as_a_path_and_a_server_url_as_text(
        monkeypatch: pytest.MonkeyPatch, arg: str, expected: object) -> None:
    opened: list[object] = []
    monkeypatch.setattr(cmd_gui, "launch", lambda project: opened.append(project) or 0)
    assert main(["gui", arg]) == 0
    assert opened == [expected] and type(opened[0]) is type(expected)


def test_gui_opens_a_project_folder_as_a_path(monkeypatch: pytest.MonkeyPatch,
                                             empty_project: object, project_path: Path) -> None:
    opened: list[object] = []
    monkeypatch.setattr(cmd_gui, "launch", lambda project: opened.append(project) or 0)
    assert main(["gui", str(project_path)]) == 0
    assert opened == [project_path] and isinstance(opened[0], Path)
