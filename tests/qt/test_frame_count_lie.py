"""The DICOM frame-count lie (security notes F3): a header claiming 2,147,483,647 frames.

Two lying files go through the real path: ``medreview init`` and ``import`` into a real project,
then ``services.grading.load_item`` and the grading window's ``ImagePane`` (which embeds the
real ``SliceViewer``). The import must store the frames the pixel data holds, and the viewer
must show exactly that many slices. The same scenario also runs in a fresh child process, whose
peak memory (VmHWM) and time are bounded: before the fix it froze for 50 s and passed 5 GB.

Run as a script (``python tests/qt/test_frame_count_lie.py WORKDIR``) it is that child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LIE = "2147483647"
TRUE_FRAMES = {"case-rle": 1, "case-native": 3}


def write_lying_media(root: Path) -> Path:
    """media/case-rle/scan.dcm (RLE, 1 fragment) and media/case-native/scan.dcm (3 frames)."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file

    media = root / "media"
    rle = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
    rle.NumberOfFrames = LIE
    (media / "case-rle").mkdir(parents=True)
    rle.save_as(media / "case-rle" / "scan.dcm", enforce_file_format=False)

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    frames = np.stack([ct.pixel_array + k for k in range(3)]).astype(ct.pixel_array.dtype)
    ct.PixelData = frames.tobytes()
    ct.NumberOfFrames = LIE
    (media / "case-native").mkdir(parents=True)
    ct.save_as(media / "case-native" / "scan.dcm", enforce_file_format=False)
    return media


def build_project(root: Path) -> Path:
    from medreview.cli.main import main

    media = write_lying_media(root)
    cases = root / "cases.jsonl"
    cases.write_text("".join(
        json.dumps({"case_id": c, "prompt": "Read this scan", "model": "m", "output": "ok"}) + "\n"
        for c in TRUE_FRAMES), encoding="utf-8")
    project = root / "p"
    assert main(["init", str(project)]) == 0
    assert main(["import", str(project), str(cases)]) == 0
    assert main(["import", str(project), str(media)]) == 0
    return project


def items(project_path: Path) -> dict[str, Any]:
    """case id -> ItemView as the grading window loads it."""
    from medreview.services import grading, projects

    project = projects.open_project(project_path)
    try:
        rater = projects.add_rater(project, "Dr Frames")
        return {row.case_external_id: grading.load_item(project, rater.id, row.output_id)
                for row in grading.load_queue(project, rater.id)}
    finally:
        project.close()


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(workdir: Path) -> None:
    """Build the project, open each lying series in ImagePane, report slices, time, memory."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from medreview.qt.app import make_app
    from medreview.qt.grading.image_pane import ImagePane

    app = make_app()
    project = build_project(workdir)
    t0 = time.monotonic()
    out: dict[str, Any] = {"slices": {}}
    for case_id, item in items(project).items():
        pane = ImagePane()
        pane.show()
        pane.show_series(item.series)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            app.processEvents()
            if pane.viewer.current_frame() is not None:
                break
            time.sleep(0.01)
        out["slices"][case_id] = pane.viewer.slice_count()
        pane.close_viewer()
        pane.deleteLater()
    out["seconds"] = time.monotonic() - t0
    out["vm_hwm_mb"] = _vm_hwm_mb()
    print(json.dumps(out), flush=True)


# --- tests ---------------------------------------------------------------------------------


def test_import_stores_the_frames_the_pixel_data_holds(tmp_path: Path) -> None:
    loaded = items(build_project(tmp_path))
    counts = {case: [a.frame_count for s in item.series for a in s.attachments]
              for case, item in loaded.items()}
    assert counts == {case: [n] for case, n in TRUE_FRAMES.items()}


def test_real_viewer_shows_the_true_slice_count(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from medreview.qt.grading.image_pane import ImagePane

    for case_id, item in items(build_project(tmp_path)).items():
        pane = ImagePane()
        qtbot.addWidget(pane)
        pane.show()
        pane.show_series(item.series)
        viewer = pane.viewer
        assert type(viewer).__name__ == "SliceViewer"
        qtbot.waitUntil(lambda v=viewer: v.current_frame() is not None, timeout=10000)
        assert viewer.slice_count() == TRUE_FRAMES[case_id]
        viewer.set_slice(10**9)  # the last slice really exists and decodes
        qtbot.waitUntil(lambda v=viewer, n=TRUE_FRAMES[case_id]:
                        v.current_frame() is not None and v.current_index() == n - 1
                        and v.current_frame().frame == n - 1, timeout=10000)
        pane.close_viewer()


def test_frame_count_lie_stays_within_memory_and_time(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    root = Path(__file__).resolve().parents[2]
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, __file__, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, env=env, cwd=root)
    elapsed = time.monotonic() - t0
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["slices"] == TRUE_FRAMES
    assert report["vm_hwm_mb"] < 500, report
    assert report["seconds"] < 20 and elapsed < 60, report


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    child(Path(sys.argv[1]))
