"""Cold start: ``import medreview.qt.app`` (the welcome page and the grading window's code)
loads none of the heavy libraries; they are imported when first needed (a project opened,
an image shown, a dashboard computed). Checked in a fresh interpreter with ``-X importtime``,
which also names the chain of imports that pulled a heavy module in."""

from __future__ import annotations

import os
import re
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "pyqtgraph", "pygments", "pandas", "numpy", "PIL",
         "pydicom", "scipy", "mako")
LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)")


def _imports(statement: str) -> list[tuple[int, str]]:
    """(depth, module) in the order ``-X importtime`` reports them (children first)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    return [(len(m.group(1)) // 2, m.group(2))
            for m in map(LINE.match, done.stderr.splitlines()) if m]


def _chain(entries: list[tuple[int, str]], i: int) -> str:
    """Who imported ``entries[i]``: each next shallower entry is the importer."""
    depth, name = entries[i]
    chain = [name]
    for d, n in entries[i + 1:]:
        if d < depth:
            chain.append(n)
            depth = d
    return " <- ".join(chain)


def test_the_app_module_loads_no_heavy_library() -> None:
    entries = _imports("import medreview.qt.app")
    names = [n for _, n in entries]
    assert "medreview.qt.main_window" in names  # the window's code is really imported
    found = {}
    for i, (_, name) in enumerate(entries):
        top = name.split(".")[0]
        if top in HEAVY and top not in found:
            found[top] = _chain(entries, i)
    assert not found, "heavy modules loaded at start-up:\n" + "\n".join(found.values())


def test_the_check_sees_a_heavy_import() -> None:
    """The same check run on a statement that does load one (so it can fail)."""
    entries = _imports("import medreview.qt.app, sqlalchemy")
    assert any(n == "sqlalchemy" for _, n in entries)
