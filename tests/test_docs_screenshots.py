"""The README links every documented screen, and each has a current PNG in docs/screenshots."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_preview_screen_is_in_docs_and_linked_from_the_readme() -> None:
    from medreview.qt.preview import SCREENS  # module is importable without a QApplication

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"docs/screenshots/([\w-]+)\.png", readme))
    on_disk = {p.stem for p in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert set(SCREENS) == on_disk == linked
    for name in SCREENS:
        data = (ROOT / "docs" / "screenshots" / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_screen_staged_with_unsaved_edits_renders_and_closes(tmp_path: Path) -> None:
    """The form editor's screen holds unsaved edits: closing it must not wait on a question
    nobody answers offscreen (make_screenshots.py hung there)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "form-editor.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MEDREVIEW_HOME": str(tmp_path / "h")}
    proc = subprocess.run([sys.executable, "-m", "medreview.qt.preview", "form-editor", "--out",
                           str(out)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.stat().st_size > 10_000
