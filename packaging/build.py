"""Build the one-folder app and its archive: ``python packaging/build.py``.

Writes ``dist/medreview/`` (the executable is ``dist/medreview/medreview`` or
``medreview.exe``; ``dist/medreview.app`` as well on macOS) and
``dist/medreview-<version>-<os>-<arch>.tar.gz`` (``.zip`` on Windows). On Linux the archive also
holds ``install.sh``, the ``.desktop`` file and the ``.mrpkg`` MIME type. Needs the packaging
extra: ``pip install -e ".[packaging]"``.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
LINUX_FILES = ("install.sh", "uninstall.sh", "medreview.desktop", "medreview-mime.xml",
               "medreview.svg")


def version() -> str:
    text = (ROOT / "medreview" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'__version__ = "([^"]+)"', text)
    if found is None:
        raise SystemExit("build.py: no __version__ in medreview/__init__.py")
    return found.group(1)


def system_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system.removesuffix('2')}-{arch}" if system.startswith("linux") else \
        f"{system}-{arch}"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run_pyinstaller() -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit(
            'build.py: PyInstaller is missing; run pip install -e ".[packaging]"') from None
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(WORK),
         str(ROOT / "packaging" / "medreview.spec")],
        check=True, cwd=ROOT,
    )
    app = DIST / "medreview"
    exe = app / ("medreview.exe" if sys.platform == "win32" else "medreview")
    if not exe.is_file():
        raise SystemExit(f"build.py: PyInstaller did not write {exe}")
    return app


def _stripped_safely(path: Path) -> bool:
    """Not the libraries auditwheel repaired (in ``*.libs`` folders, or whose run path points
    there): patchelf moved their segments and ``strip`` breaks them ("ELF load command
    address/offset not page-aligned")."""
    if path.parent.name.endswith(".libs"):
        return False
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                             check=False)
    return dynamic.returncode == 0 and ".libs" not in dynamic.stdout


def strip_linux_binaries(app: Path) -> int:
    """Strip debug symbols from every shared object (zstandard 12 -> 1 MB; the ~300 small
    extension modules of Python and the packages together 12 MB); bytes saved."""
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        print("build.py: binutils not found, binaries are not stripped")  # noqa: T201
        return 0
    saved = 0
    for path in app.rglob("*.so*"):
        if path.is_symlink() or not path.is_file():
            continue
        if not _stripped_safely(path):
            continue
        before = path.stat().st_size
        # A file strip cannot read (not ELF) is left as it is: stripping only saves space.
        subprocess.run(["strip", "--strip-unneeded", str(path)], check=False,
                       capture_output=True)
        saved += before - path.stat().st_size
    return saved


def add_linux_files(app: Path) -> None:
    for name in LINUX_FILES:
        src = ROOT / "packaging" / "linux" / name
        shutil.copy2(src, app / name)
    for script in ("install.sh", "uninstall.sh"):
        (app / script).chmod(0o755)


def archive(app: Path) -> Path:
    base = DIST / f"medreview-{version()}-{system_tag()}"
    if sys.platform == "win32":
        out = base.with_suffix(".zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for p in sorted(app.rglob("*")):
                zf.write(p, Path("medreview") / p.relative_to(app))
        return out
    out = Path(f"{base}.tar.gz")
    source = DIST / "medreview.app" if sys.platform == "darwin" else app
    with tarfile.open(out, "w:gz", compresslevel=6) as tf:
        tf.add(source, arcname=source.name)
    return out


def main() -> int:
    t0 = time.monotonic()
    for old in (DIST / "medreview", DIST / "medreview.app"):
        shutil.rmtree(old, ignore_errors=True)
    app = run_pyinstaller()
    if sys.platform.startswith("linux"):
        print(f"stripped {strip_linux_binaries(app) / 1e6:.0f} MB of symbols")  # noqa: T201
        add_linux_files(app)
    out = archive(app)
    size_mb = folder_size(app) / 1e6
    message = (f"built {app} ({size_mb:.0f} MB unpacked) and {out} "
               f"({out.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - t0:.0f} s")
    print(message)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
