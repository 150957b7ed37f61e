"""The packaging files: the per-user Linux install (run for real in a temporary HOME), the
file type and menu entry, the spec's inputs, and the About box. The frozen build itself is
proved by ``packaging/ci_frozen.sh`` (called from ``.ci/run``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"


def _fake_bundle(where: Path) -> Path:
    """An unpacked archive: the Linux files and an executable that says who it is."""
    app = where / "medreview"
    app.mkdir(parents=True)
    for f in LINUX.iterdir():
        shutil.copy2(f, app / f.name)
    exe = app / "medreview"
    exe.write_text("#!/bin/sh\necho \"frozen medreview $*\"\n", encoding="utf-8")
    exe.chmod(0o755)
    return app


@pytest.mark.skipif(sys.platform == "win32", reason="the Linux installer is a POSIX shell script")
def test_install_sh_installs_per_user_under_a_home_with_spaces_and_uninstalls(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home of Dr Émilie"
    home.mkdir()
    app = _fake_bundle(tmp_path / "Téléchargements")
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(["sh", str(app / "install.sh")], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    dest = home / ".local" / "lib" / "medreview"
    command = home / ".local" / "bin" / "medreview"
    assert (dest / "medreview").is_file() and command.is_symlink()
    out = subprocess.run([str(command), "x.mrpkg"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "frozen medreview x.mrpkg"
    desktop = (home / ".local/share/applications/medreview.desktop").read_text(encoding="utf-8")
    assert f'Exec="{dest}/medreview" %f' in desktop.splitlines()
    assert "MimeType=application/x-medreview-package;" in desktop
    assert (home / ".local/share/mime/packages/medreview.xml").is_file()
    assert (home / ".local/share/icons/hicolor/scalable/apps/medreview.svg").is_file()
    # Installing again (an update) replaces the app in place.
    (app / "marker").write_text("v2", encoding="utf-8")
    subprocess.run(["sh", str(app / "install.sh")], env=env, check=True, capture_output=True)
    assert (dest / "marker").read_text(encoding="utf-8") == "v2"
    assert not (dest.parent / "medreview.new").exists()
    subprocess.run(["sh", str(dest / "uninstall.sh")], env=env, check=True, capture_output=True)
    assert not dest.exists() and not command.exists()
    assert not (home / ".local/share/applications/medreview.desktop").exists()


def test_install_sh_refuses_a_folder_without_the_app(tmp_path: Path) -> None:
    folder = tmp_path / "not the app"
    folder.mkdir()
    shutil.copy2(LINUX / "install.sh", folder / "install.sh")
    done = subprocess.run(["sh", str(folder / "install.sh")], capture_output=True, text=True,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"install.sh: {folder}/medreview is missing; run install.sh from the unpacked "
        "medreview folder"]
    assert not (tmp_path / ".local").exists()


def test_mime_type_and_desktop_entry_agree() -> None:
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(LINUX / "medreview-mime.xml").getroot()
    mime = root.find("m:mime-type", ns)
    assert mime is not None and mime.get("type") == "application/x-medreview-package"
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*.mrpkg"]
    entry = (LINUX / "medreview.desktop").read_text(encoding="utf-8").splitlines()
    assert entry[0] == "[Desktop Entry]"
    assert "MimeType=application/x-medreview-package;" in entry
    assert "Icon=medreview" in entry and "Exec=medreview %f" in entry


def test_spec_inputs_exist_and_the_codecs_are_bundled() -> None:
    spec = (ROOT / "packaging" / "medreview.spec").read_text(encoding="utf-8")
    for folder in ("resources", "ui", "medreview/storage/migrations/versions"):
        assert (ROOT / folder).is_dir()
    for module in ("libjpeg", "openjpeg", "rle", "jpeg_ls", "pylibjpeg"):
        assert f'"{module}"' in spec
        __import__(module)  # what the spec names is installed with the app's dependencies
    assert "COLLECT(" in spec and "exclude_binaries=True" in spec  # one folder, not one file
    assert (ROOT / "packaging" / "entry.py").is_file()


def test_packaging_extra_and_ignored_build_output() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = meta["project"]["optional-dependencies"]["packaging"]
    assert any(d.replace(" ", "").startswith("pyinstaller>=6.10") for d in extra)
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "build/" in ignored and "dist/" in ignored
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("packaging/ci_frozen.sh") for line in ci)
    assert os.access(ROOT / "packaging" / "ci_frozen.sh", os.X_OK)


def test_about_box_names_the_version_and_the_log_folder(
    qapp: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medreview import __version__
    from medreview.qt.about import about_text

    monkeypatch.setenv("MEDREVIEW_LOG_DIR", str(tmp_path / "logs <&> é"))
    text = about_text()
    assert f"medreview {__version__}" in text
    assert "logs &lt;&amp;&gt; é" in text and "<&>" not in text


def test_help_menu_has_the_about_box(qtbot: object) -> None:
    from medreview.qt.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert "About medreview" in [a.text() for a in help_menu.actions()]


def _spec_set(spec: str, name: str) -> set[str]:
    """A set literal assigned to ``name`` in the spec (the spec itself needs PyInstaller)."""
    import ast
    import re

    found = re.search(rf"^{name} = (\{{.*?\}})$", spec, re.M | re.S)
    assert found, name
    value = ast.literal_eval(found.group(1))
    assert isinstance(value, set)
    return value


def test_the_pydicom_images_the_demo_reads_survive_the_trim() -> None:
    """The spec drops pydicom's test images except the ones the demo series is built from."""
    import re

    spec = (ROOT / "packaging" / "medreview.spec").read_text(encoding="utf-8")
    kept = _spec_set(spec, "_PYDICOM_KEEP")
    used: set[str] = set()
    for module in ("medreview/imaging/demo_series.py", "medreview/services/sample_project.py"):
        text = (ROOT / module).read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:_bundled|get_testdata_file)\("([^"]+)"\)', text))
    assert used and used <= kept, used - kept
    from pydicom.data import get_testdata_file

    for name in kept:
        assert get_testdata_file(name.rsplit("/", 1)[-1]) is not None, name


def test_windows_gets_a_console_twin_for_the_command_line() -> None:
    spec = (ROOT / "packaging" / "medreview.spec").read_text(encoding="utf-8")
    twin = spec[spec.index('if sys.platform == "win32":\n    executables.append('):]
    assert 'name="medreview-cli"' in twin and "console=True" in twin
    assert "COLLECT(\n    *executables," in spec


def test_release_workflow_is_valid_yaml_and_every_system_runs_the_self_test() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    wf = yaml.safe_load((root / ".github" / "workflows" / "release.yml").read_text("utf-8"))
    jobs = wf["jobs"]
    for system in ("linux", "windows", "macos"):
        runs = " ".join(str(s.get("run", "")) for s in jobs[system]["steps"])
        assert "--self-test" in runs or "ci_frozen.sh" in runs, system
    windows = " ".join(str(s.get("run", "")) for s in jobs["windows"]["steps"])
    assert "medreview-cli.exe" in windows  # the console twin is exercised, not only built
