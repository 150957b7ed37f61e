"""An unpacked package folder's manifest is read with the same caps as a zip's, by both readers
(the folder summary and sealing), and refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.errors import PackageError
from medreview.services import study as svc
from medreview.study.package import seal_package
from medreview.study.package_zip import MANIFEST, MAX_MANIFEST_BYTES


def _folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "graded"
    folder.mkdir()
    (folder / MANIFEST).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("read", [svc.package_folder_summary,
                                  lambda f: seal_package(f, f.parent / "out.mrpkg")])
def test_an_oversized_folder_manifest_is_refused_before_it_is_read(tmp_path: Path,
                                                                  read: object) -> None:
    folder = _folder(tmp_path, "{" + " " * MAX_MANIFEST_BYTES + "}")
    with pytest.raises(PackageError, match="larger than 8 MB") as exc:
        read(folder)  # type: ignore[operator]
    assert "\n" not in str(exc.value) and str(folder / MANIFEST) in str(exc.value)
    assert not (tmp_path / "out.mrpkg").exists()


@pytest.mark.parametrize("text", ["[1, 2]", "not json", "[" * 100_000])
def test_a_folder_manifest_that_is_not_a_mapping_is_one_line(tmp_path: Path, text: str) -> None:
    folder = _folder(tmp_path, text)
    with pytest.raises(PackageError, match="unreadable package manifest") as exc:
        svc.package_folder_summary(folder)
    assert "\n" not in str(exc.value)


def test_a_manifest_whose_rater_is_not_a_mapping_names_no_rater(tmp_path: Path) -> None:
    from medreview.storage.project import create_project

    folder = tmp_path / "graded"
    create_project(folder, "p").close()
    (folder / MANIFEST).write_text('{"rater": "Dr X", "project_name": "p"}', encoding="utf-8")
    summary = svc.package_folder_summary(folder)
    assert (summary.rater, summary.project_name, summary.items) == ("", "p", 0)
