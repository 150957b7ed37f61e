"""On a 1366×768 laptop screen at 100 and 150 % scale the New project dialog opens no larger
than the screen with Create in view. Each scale needs its own Qt process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json
from PySide6.QtCore import QPoint
from medreview.qt.app import make_app
from medreview.qt.new_project_dialog import NewProjectDialog
app = make_app()
dlg = NewProjectDialog()
dlg.rubric.select("medpalm")  # the longest description among the templates
dlg.taxonomy.select("medval_errors")
dlg.show()
app.processEvents()
geo = dlg.screen().availableGeometry()
corner = dlg.create_button.mapTo(dlg, QPoint(dlg.create_button.width(),
                                             dlg.create_button.height()))
print(json.dumps({"screen": [geo.width(), geo.height()],
                  "window": [dlg.width(), dlg.height()],
                  "create_inside": dlg.rect().contains(corner)}))
"""


@pytest.mark.parametrize("scale", ["1", "1.5"])
def test_new_project_fits_a_1366_by_768_screen(scale: str, tmp_path: Path) -> None:
    screens = tmp_path / "screen.json"
    screens.write_text(json.dumps({"screens": [{
        "name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screens}",
           "QT_SCALE_FACTOR": scale, "MEDREVIEW_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    width, height = got["screen"]
    assert (width, height) == (round(1366 / float(scale)), round(768 / float(scale)))
    assert got["window"][0] <= width and got["window"][1] <= height, got
    assert got["create_inside"], got
