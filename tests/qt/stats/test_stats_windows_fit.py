"""The dashboard and calibration windows open no larger than a 1366×768 laptop screen, and
their minimum size (with the demo's statistics shown) fits it: nothing is pushed off-screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_stats_windows_fit_a_1366_by_768_screen(demo_path: Path, tmp_path: Path) -> None:
    screens = tmp_path / "screen.json"
    screens.write_text(json.dumps({"screens": [{
        "name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screens}",
           "MEDREVIEW_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "tests.qt.stats.fit_probe", str(demo_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    width, height = got["screen"]
    assert (width, height) == (1366, 768)
    for name in ("dashboard", "calibration"):
        w = got[name]
        assert w["window"][0] <= width and w["window"][1] <= height, (name, got)
        assert w["hint"][0] <= 1366 and w["hint"][1] <= 768, (name, got)
        # still its preferred size where the screen allows: not shrunk for nothing
        assert w["window"][0] >= 1200 and w["window"][1] >= 700, (name, got)
