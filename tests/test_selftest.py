"""``medreview --self-test``, the launcher forms of the command line, and paths with spaces
and non-ASCII letters, run from source (CI runs the same self-test in the frozen bundle)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from medreview.cli.main import main
from medreview.services import selftest as core

EXPECTED_CHECKS = [
    "qt_platform", "imports", "new_project", "demo_import", "dicom_jpeg_baseline", "dicom_jpeg_ls",
    "dicom_jpeg_2000", "dicom_rle", "save_grade", "statistic", "parquet_export",
    "merge_worker_process", "dicom_worker_process",
    "main_window",
]


@pytest.fixture
def clinical_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a space and accents, also used as the temporary folder."""
    folder = tmp_path / "Études cliniques"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_self_test_passes_from_source_and_writes_every_check(
    qapp: object, clinical_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = clinical_dir / "projet 1" / "rapport.json"
    assert main(["--self-test", str(report_path)]) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["ok"] is True, report
    assert [c["name"] for c in report["checks"]] == EXPECTED_CHECKS
    for check in report["checks"]:
        assert check["ok"] is True and check["error"] is None, check
        assert isinstance(check["seconds"], float) and check["seconds"] >= 0
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["new_project"]["detail"]["alembic_current"] == \
        by_name["new_project"]["detail"]["alembic_head"]
    assert by_name["dicom_jpeg_ls"]["detail"]["max_abs_difference"] == 0
    assert by_name["demo_import"]["detail"]["cases"] > 0
    assert -1.0 <= by_name["statistic"]["detail"]["value"] <= 1.0
    assert any(n > 0 for name, n in by_name["parquet_export"]["detail"]["rows"].items()
               if "judgment" in name)
    assert by_name["main_window"]["detail"]["queue_rows"] > 0
    assert report["frozen"] is False and report["version"]
    # The scratch folder lived under the accented temp folder and is gone after a pass.
    assert not [p for p in clinical_dir.iterdir() if p.name.startswith(core.SCRATCH_PREFIX)]
    err = capsys.readouterr().err
    assert "passed" in err and "Traceback" not in err


def test_a_failing_check_makes_the_report_and_exit_code_fail(
    qapp: object, clinical_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import medreview.qt.selftest as qt_selftest

    def broken(report: core.SelfTestReport, scratch: Path, build_demo: object) -> None:
        def fail(check: core.Check) -> None:
            raise ModuleNotFoundError("No module named 'openjpeg'")

        report.run("dicom_jpeg_2000", fail)

    monkeypatch.setattr(qt_selftest, "_core_checks", broken)
    report_path = clinical_dir / "out.json"
    assert main(["--self-test", str(report_path)]) == 1
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["ok"] is False
    failed = {c["name"]: c for c in report["checks"] if not c["ok"]}
    assert "openjpeg" in failed["dicom_jpeg_2000"]["error"]
    assert failed["main_window"]["error"].startswith("skipped")
    assert Path(report["scratch_folder"]).is_dir()  # kept for diagnosis
    assert "FAILED" in capsys.readouterr().err


def test_core_checks_record_a_broken_demo_and_skip_what_needs_it(clinical_dir: Path) -> None:
    def no_demo(path: Path) -> None:
        raise FileNotFoundError(f"{path}: cases.jsonl is missing from the bundle")

    report = core.SelfTestReport()
    assert core.run_core_checks(report, clinical_dir, no_demo) is None
    status = {c.name: (c.ok, c.error) for c in report.checks}
    assert status["new_project"] == (True, None)
    assert status["demo_import"][0] is False and "cases.jsonl" in str(status["demo_import"][1])
    assert all(status[f"dicom_{n}"][0] for n, _, _ in core.CODECS)
    assert status["save_grade"] == (False, "skipped: the demo did not build")
    assert not report.ok


def test_codec_check_catches_a_decoder_that_changes_pixels(
    clinical_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medreview.imaging.codecs as codecs

    real = codecs.decode_stored

    def off_by_one(ds: object, frame: int, *, source: str) -> np.ndarray:
        return np.asarray(real(ds, frame, source=source)).astype(np.int32) + 1  # type: ignore[arg-type]

    monkeypatch.setattr(codecs, "decode_stored", off_by_one)
    check = core.Check("rle", False, 0.0)
    with pytest.raises(RuntimeError, match="differ by up to 1"):
        core.check_codec(clinical_dir, "1.2.840.10008.1.2.5", True)(check)


def test_self_test_flag_needs_exactly_one_report_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--self-test"]) == 2
    assert main(["--startup-probe", "a", "b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("medreview: error: usage") for line in err)


def test_a_missing_package_file_is_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "Études cliniques" / "dr martin.mrpkg"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"medreview: error: {missing}: no such package file"]


def test_cli_creates_and_opens_a_project_under_an_accented_path_with_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "Études cliniques" / "projet 1"
    assert main(["init", str(project)]) == 0
    assert (project / "project.sqlite").is_file()
    capsys.readouterr()
    assert main(["info", str(project), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert Path(info["path"]) == project


def test_frozen_bundle_finds_resources_under_meipass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medreview import paths

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert paths.is_frozen()
    assert paths.resources_dir() == tmp_path / "_internal" / "medreview" / "_resources"
    assert paths.ui_dir() == tmp_path / "_internal" / "medreview" / "_ui"


def test_log_dir_follows_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medreview import paths
    from medreview.cli.common import log_dir as cli_log_dir

    assert paths.log_dir() == cli_log_dir()
    monkeypatch.setenv("MEDREVIEW_LOG_DIR", str(tmp_path / "logs ä"))
    assert paths.log_dir() == tmp_path / "logs ä" == cli_log_dir()


def test_installed_app_logs_warnings_to_a_file_in_the_log_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from medreview.cli.launcher import file_log

    monkeypatch.setenv("MEDREVIEW_LOG_DIR", str(tmp_path / "journaux é"))
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        path = file_log()
        assert path == tmp_path / "journaux é" / "medreview.log"
        assert file_log() == path and len(root.handlers) == len(before) + 1  # once only
        logging.getLogger("medreview.qt.app").error("unhandled error: %s", "boom")
        logging.getLogger("medreview.qt.app").info("not kept")
        for h in root.handlers:
            h.flush()
        text = path.read_text(encoding="utf-8")
        assert "ERROR medreview.qt.app: unhandled error: boom" in text and "not kept" not in text
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()


def test_a_double_clicked_package_opens_its_dialog_then_the_project(
    qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_path: Path
) -> None:
    import medreview.qt.study.package_files as package_files
    from medreview.qt import open_file
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    seen: list[Path] = []

    def dialog(parent: object, file: Path | None = None) -> Path:
        assert isinstance(parent, MainWindow)
        seen.append(Path(str(file)))
        return demo_path  # what the real dialog returns: the unpacked project folder

    monkeypatch.setattr(package_files, "open_package_dialog", dialog)
    window = MainWindow(UiSettings(tmp_path / "qt-state.ini"))
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    window.show()
    package = tmp_path / "Études cliniques" / "dr martin.mrpkg"
    open_file._open_package(package)
    assert seen == [package]
    # The project opens on its own database thread, the window never waiting for it.
    qtbot.waitUntil(lambda: window.project is not None, timeout=15000)  # type: ignore[attr-defined]
    assert window.project is not None and Path(window.project.path) == demo_path
    window.close()


def test_the_installed_app_started_without_arguments_opens_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import medreview.cli.cmd_gui as cmd_gui
    from medreview.cli import launcher

    opened: list[object] = []
    monkeypatch.setattr(cmd_gui, "launch", lambda project: opened.append(project) or 0)
    monkeypatch.setattr(launcher, "file_log", lambda: None)
    assert launcher.early_dispatch([]) is None  # from source: the usage message, as before
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launcher.early_dispatch([]) == 0 and opened == [None]
    assert launcher.early_dispatch(["info", "x"]) is None  # commands still run frozen
