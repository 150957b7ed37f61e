"""The core is a product of its own: every module outside medreview.qt imports with Qt blocked."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import medreview

# The command line's `gui` command opens the Qt layer lazily, inside a function; importing the
# module itself must not need Qt.
SCRIPT = textwrap.dedent(
    """
    import importlib, sys
    sys.modules["PySide6"] = None
    sys.modules["shiboken6"] = None
    sys.modules["pyqtgraph"] = None
    failed = []
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(medreview.__path__, "medreview."):
        if info.name.startswith("medreview.qt") or ".migrations.versions" in info.name:
            continue
        if info.name.endswith("migrations.env") or info.name == "medreview.__main__":
            continue  # Alembic's env runs only inside a migration; __main__ runs the CLI
        names.append(info.name)
    return names


def test_every_core_module_imports_without_qt() -> None:
    modules = core_modules()
    assert "medreview.storage.project" in modules and "medreview.stats" in " ".join(modules)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *modules], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
