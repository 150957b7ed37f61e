"""Rater packages in the app, in one place for the main window to wire in:

* ``open_package_dialog(parent) -> Path | None`` — extract a received package; the project
  folder to open;
* ``return_package_dialog(parent, project_folder) -> Path | None`` — write the graded file;
* ``MergeDialog(project, db, bus, parent)`` — merge returned packages (all or nothing);
* ``make_packages_dialog(parent, project, db) -> list[Path]`` — export packages for raters.
"""

from __future__ import annotations

from medreview.qt.study.make_packages import MakePackagesDialog, make_packages_dialog
from medreview.qt.study.merge_dialog import MergeDialog
from medreview.qt.study.package_files import (
    OpenPackageDialog,
    ReturnPackageDialog,
    open_package_dialog,
    return_package_dialog,
)

__all__ = [
    "MakePackagesDialog",
    "MergeDialog",
    "OpenPackageDialog",
    "ReturnPackageDialog",
    "make_packages_dialog",
    "open_package_dialog",
    "return_package_dialog",
]
