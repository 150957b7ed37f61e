"""Hostile rubric files get one line from every entry point (the loader itself guards), fast."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from medreview.errors import RubricError
from medreview.rubrics.load import load_form


def _laughs(path: Path, levels: int = 9) -> Path:
    lines = ["format: medreview-form/1", "key: bomb", "version: 1", "name: bomb", "kind: rubric",
             'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    lines.append(f"questions: *a{levels - 1}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name, body, message", [
    ("self.yaml", "questions: &q [*q]\n", "expands"),
    ("deep.yaml", "questions: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply|not valid"),
    ("deep.json", "{\"questions\": " + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
])
def test_small_hostile_files_are_one_line(tmp_path: Path, name: str, body: str,
                                          message: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RubricError, match=message):
        load_form(path)


def test_billion_laughs_refused_by_the_loader_quickly(tmp_path: Path) -> None:
    path = _laughs(tmp_path / "laughs.yaml")
    start = time.perf_counter()
    with pytest.raises(RubricError, match=r"expands .* more than 200,000 values"):
        load_form(path)
    assert time.perf_counter() - start < 5  # generous: it is milliseconds; unbounded is hours


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.truncate(5 * 1024 * 1024)
    with pytest.raises(RubricError, match="larger than 4 MB"):
        load_form(path)


def test_init_on_the_command_line_refuses_the_bomb_in_one_line(tmp_path: Path) -> None:
    path = _laughs(tmp_path / "laughs.yaml")
    proc = subprocess.run([sys.executable, "-m", "medreview", "init", str(tmp_path / "p"),
                           "--rubric", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "expands" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p").exists()
