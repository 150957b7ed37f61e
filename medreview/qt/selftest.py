"""``medreview --self-test REPORT.json`` and ``--startup-probe``: the Qt half.

The self-test creates the QApplication (platform plugin), runs the Qt-free checks of
``medreview.services.selftest`` and then opens the real main window on the demo project until
the first item is on screen. Everything runs in a scratch folder and a scratch settings home,
so a rater's recent projects and settings are never touched. A watchdog ends a hung run (a
modal dialog nobody can click offscreen, a deadlocked worker) with a failed report.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from medreview.services.selftest import SCRATCH_PREFIX, Check, SelfTestReport, environment_info

WINDOW_TIMEOUT_S = 60.0
WATCHDOG_S = 300.0
# The platform plugin each system's users run on, besides offscreen (used by CI).
_EXPECTED_PLATFORMS = {"linux": ("xcb", "offscreen"), "win32": ("windows", "offscreen"),
                       "darwin": ("cocoa", "offscreen")}


def default_platform() -> None:
    """Offscreen when there is no display at all (CI, ssh); an explicit setting is kept."""
    if "QT_QPA_PLATFORM" in os.environ or not sys.platform.startswith("linux"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _check_qt(check: Check) -> Any:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtGui import QGuiApplication, QImageReader

    from medreview.qt.app import make_app

    app = make_app(["medreview"])
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    found = sorted(p.name for p in plugins.iterdir()) if plugins.is_dir() else []
    check.detail.update(
        pyside6=pyside_version,
        platform=QGuiApplication.platformName(),
        platform_plugins=found,
        image_formats=sorted(bytes(f.data()).decode() for f in
                             QImageReader.supportedImageFormats()),
    )
    key = next((k for k in _EXPECTED_PLATFORMS if sys.platform.startswith(k)), "")
    missing = [name for name in _EXPECTED_PLATFORMS.get(key, ())
               if not any(name in f for f in found)]
    if missing:
        raise RuntimeError(f"Qt platform plugins missing from {plugins}: {', '.join(missing)}")
    return app


def _check_imports(check: Check) -> None:
    """Import every medreview module: a bundle that lacks a lazily imported dependency fails
    here by name, not when a physician first opens that dialog."""
    import importlib
    import pkgutil

    import medreview

    failed: dict[str, str] = {}
    names = [m.name for m in pkgutil.walk_packages(medreview.__path__, "medreview.")
             if ".migrations" not in m.name and not m.name.endswith("__main__")]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure to import is what this check reports
            failed[name] = f"{type(exc).__name__}: {exc}"
    check.detail.update(modules=len(names), failed=failed)
    if len(names) < 50:
        raise RuntimeError(f"only {len(names)} medreview modules found in the bundle")
    if failed:
        raise RuntimeError("; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))[:2000])


def _check_worker_process(folder: Path) -> Any:
    """Decode a JPEG 2000 slice the way the viewer does: in a "spawn" worker process, which in
    a bundle is this executable started again (it needs ``freeze_support`` in the entry)."""

    def run(check: Check) -> None:
        import numpy as np

        from medreview.qt.imaging.loader import decode_routed
        from medreview.services.selftest import write_codec_file

        path, pixels = write_codec_file(folder / "worker", "1.2.840.10008.1.2.4.90")
        decoded = decode_routed(path, 0)
        same = np.array_equal(np.asarray(decoded.pixels), pixels)
        check.detail.update(shape=list(decoded.pixels.shape), identical=same)
        if not same:
            raise RuntimeError("the worker process decoded different pixels")

    return run


def open_window_on(project: Path, settings_file: Path, timeout: float = WINDOW_TIMEOUT_S,
                   ) -> tuple[Any, float]:
    """Show the main window on ``project`` and wait until its first item is loaded.

    Returns the window and the seconds it took; RuntimeError if it did not get there."""
    from PySide6.QtWidgets import QApplication

    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    t0 = time.perf_counter()
    window = MainWindow(UiSettings(settings_file))
    window.show()
    if not window.open_project(project):
        raise RuntimeError(f"the window could not open {project}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        modal = QApplication.activeModalWidget()
        if modal is not None:  # nobody can answer it offscreen: fail instead of hanging
            title = modal.windowTitle()
            modal.close()
            raise RuntimeError(f"a dialog appeared instead of the grading screen: {title!r}")
        controller = window.controller
        if controller is not None and controller.item is not None and window.isVisible():
            return window, time.perf_counter() - t0
        time.sleep(0.005)
    raise RuntimeError(f"no item was on screen after {timeout:.0f} s")


def _check_window(project: Path, settings_file: Path) -> Any:
    def run(check: Check) -> None:
        window, seconds = open_window_on(project, settings_file)
        try:
            check.detail.update(title=window.windowTitle(),
                                queue_rows=window.queue.model.rowCount(),
                                seconds_to_first_item=round(seconds, 3))
            if window.queue.model.rowCount() == 0:
                raise RuntimeError("the grading queue is empty")
        finally:
            window.close()
            window.deleteLater()

    return run


def _watchdog(report_path: Path, report: SelfTestReport) -> threading.Timer:
    def expire() -> None:
        data = report.to_dict()
        data["ok"] = False
        data["error"] = f"the self-test did not finish within {WATCHDOG_S:.0f} s"
        _write(report_path, data)
        sys.stderr.write(f"medreview --self-test: {data['error']}\n")
        os._exit(1)

    timer = threading.Timer(WATCHDOG_S, expire)
    timer.daemon = True
    timer.start()
    return timer


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def run_self_test(report_path: Path) -> int:
    """Run every check, write ``report_path``; 0 when all passed, 1 otherwise."""
    default_platform()
    report_path = Path(report_path).absolute()
    report = SelfTestReport()
    report.info.update(environment_info())
    report.info["qt_qpa_platform"] = os.environ.get("QT_QPA_PLATFORM", "")
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    previous_home = os.environ.get("MEDREVIEW_HOME")
    os.environ["MEDREVIEW_HOME"] = str(scratch / "home")  # settings and logs stay in scratch
    timer = _watchdog(report_path, report)
    try:
        from medreview.demo import build_demo_project

        app = report.run("qt_platform", _check_qt)
        report.run("imports", _check_imports)
        demo = _core_checks(report, scratch, build_demo_project)
        report.run("dicom_worker_process", _check_worker_process(scratch))
        if app is not None and demo is not None:
            report.run("main_window", _check_window(demo, scratch / "home" / "qt-state.ini"))
        else:
            report.checks.append(Check("main_window", False, 0.0,
                                       "skipped: no Qt application or no demo project"))
    finally:
        timer.cancel()
        if previous_home is None:
            os.environ.pop("MEDREVIEW_HOME", None)
        else:
            os.environ["MEDREVIEW_HOME"] = previous_home
    data = report.to_dict()
    if report.ok:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        data["scratch_folder"] = str(scratch)  # kept for whoever reads the failure
    _write(report_path, data)
    for c in report.checks:
        state = "ok  " if c.ok else "FAIL"
        why = f": {c.error}" if c.error else ""
        sys.stderr.write(f"{state} {c.name} ({c.seconds:.2f} s){why}\n")
    sys.stderr.write(f"medreview --self-test: {'passed' if report.ok else 'FAILED'} in "
                     f"{data['seconds']:.1f} s, report {report_path}\n")
    return 0 if report.ok else 1


def _core_checks(report: SelfTestReport, scratch: Path, build_demo: Any) -> Path | None:
    from medreview.services.selftest import run_core_checks

    return run_core_checks(report, scratch, build_demo)


def run_startup_probe(project: Path) -> int:
    """Open the window on ``project``, print seconds to the first item (JSON), exit."""
    default_platform()
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    os.environ["MEDREVIEW_HOME"] = str(scratch / "home")
    try:
        from medreview.qt.app import make_app

        t0 = time.perf_counter()
        make_app(["medreview"])
        window, seconds = open_window_on(Path(project), scratch / "qt-state.ini")
        shown = time.perf_counter() - t0
        window.close()
        sys.stdout.write(json.dumps({"window_s": round(seconds, 3),
                                     "app_and_window_s": round(shown, 3)}) + "\n")
        return 0
    except Exception as exc:  # one line: the probe is a measurement, not a debugger
        sys.stderr.write(f"medreview --startup-probe: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
