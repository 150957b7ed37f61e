"""At 125 % and 150 % scale on a 1366×768 laptop (1093×614 and 911×512 logical pixels) the
dashboard and calibration windows open inside the screen's free area, their minimum size fits
it, and no control or text sticks out of the window on any tab (tab contents scroll)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("scale", ["1.25", "1.5"])
def test_stats_windows_fit_a_scaled_laptop_screen(demo_path: Path, tmp_path: Path,
                                                  scale: str) -> None:
    screens = tmp_path / "screen.json"
    screens.write_text(json.dumps({"screens": [{
        "name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screens}",
           "QT_SCALE_FACTOR": scale, "MEDREVIEW_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "tests.qt.stats.fit_probe", str(demo_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    width, height = got["screen"]
    # the scaled (logical) screen
    assert abs(width - 1366 / float(scale)) <= 1 and abs(height - 768 / float(scale)) <= 1, got
    for name in ("dashboard", "calibration"):
        w = got[name]
        assert w["window"][0] <= width and w["window"][1] <= height, (name, got)
        assert w["hint"][0] <= width and w["hint"][1] <= height, (name, got)
        assert w["cut_off"] == [], (name, w["cut_off"])
