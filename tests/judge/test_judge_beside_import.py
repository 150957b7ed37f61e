"""A judge run beside a real `medreview import` process into the same project (security-notes
F4/1b): both finish, every judge reply is saved once, the import is complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judging import run_judge
from medreview.storage.models import CaseRow, JudgeItemRow
from tests.judge.conftest import build_project, fast_config

N_CASES = 1500


def test_judge_and_import_at_once(tmp_path: Path, server: FakeOpenAIServer) -> None:
    project = build_project(tmp_path / "proj")
    data = tmp_path / "more.jsonl"
    with data.open("w") as f:
        for i in range(N_CASES):
            for m in ("model-a", "model-b"):
                f.write(json.dumps({"case_id": f"imp-{i}", "prompt": f"Question {i}: chest pain?",
                                    "model": m, "output": f"Answer of {m} to {i}. " * 5}) + "\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "medreview.cli.main", "import",
                             str(project.path), str(data)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server.delay_s = 0.15  # the run lasts a few seconds, so it overlaps the import
        overlap: list[bool] = []  # was the import still running when an item was saved?
        summary = run_judge(project, fast_config(server.url, concurrency=1),
                            progress=lambda _d, _t=None, m="": overlap.append(
                                proc.poll() is None))
        judged_by = time.monotonic()
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert judged_by > started and sum(overlap) >= 3  # really side by side
    assert (summary.status, summary.judged, summary.failed) == ("done", 18, 0)
    assert server.count() == 18
    with project.read() as s:
        rows = s.execute(select(JudgeItemRow.output_id, JudgeItemRow.item_key)).all()
        assert len(rows) == len(set(rows)) == 18
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 3 + N_CASES
    project.close()
