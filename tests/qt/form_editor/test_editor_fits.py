"""On a 1366×768 laptop screen at 100, 125 and 150 % scale the rubric editor opens no larger
than the screen, with Save, Close and the validation line in view (Med-PaLM's 12 questions,
the largest scale selected). Each scale needs its own Qt process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form
from medreview.storage.project import create_project

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def medpalm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "medpalm"
    project = create_project(path, "fit")
    add_form(project, load_template("medpalm"))
    project.close()
    return path


@pytest.mark.parametrize("scale", ["1", "1.25", "1.5"])
def test_editor_fits_a_1366_by_768_screen_at_scale(scale: str, medpalm_path: Path,
                                                   tmp_path: Path) -> None:
    screens = tmp_path / "screen.json"
    screens.write_text(json.dumps({"screens": [{
        "name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screens}",
           "QT_SCALE_FACTOR": scale, "MEDREVIEW_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "tests.qt.form_editor.fit_probe",
                           str(medpalm_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    width, height = got["screen"]
    assert (width, height) == (round(1366 / float(scale)), round(768 / float(scale)))
    assert got["hint"][0] <= width and got["hint"][1] <= height, got
    assert got["window"][0] <= width and got["window"][1] <= height, got
    assert got["save_inside"] and got["close_inside"] and got["status_inside"], got
