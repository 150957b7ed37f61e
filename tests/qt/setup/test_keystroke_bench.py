"""The keystroke bench (bench/bench_keystrokes.py) on the real grading window: a 10-criterion
item is graded and the next one opened in at most 12 key presses, with no mouse."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_keystrokes.py"


def test_a_ten_criterion_item_takes_at_most_twelve_keys(qtbot: Any, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_keystrokes", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    presses, used, info = bench.count_keys(tmp_path, 10)
    assert info == {"status": "done", "criteria_answered": 10, "next_opened": True}
    assert used["Y"] + used["N"] == 10 and used["Ctrl+Enter"] == 1
    assert presses == sum(used.values()) <= bench.AIM
