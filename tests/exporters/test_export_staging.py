"""Every export is built beside OUTDIR and renamed into place when complete (security notes
2c): a SIGKILL or a refusal mid-way leaves no OUTDIR, a non-empty OUTDIR is refused unless
``--overwrite``, and a folder left by a killed export is swept by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.exporters.staging import staged, sweep_abandoned
from medreview.services.sample_project import build_sample_project

TABLES = sorted(f"{t}.csv" for t in ("cases", "criteria", "outputs", "attachments", "judgments",
                                      "gold_labels"))

# The child exports with the real CLI, but stops for good after the first table is written.
CHILD = r"""
import sys, time
import medreview.exporters.tables as tables
real = tables.write_table
def slow(df, path, fmt):
    out = real(df, path, fmt)
    print("WROTE", out, flush=True)
    time.sleep(120)
    return out
tables.write_table = slow
from medreview.cli.main import main
sys.exit(main(["export", sys.argv[1], sys.argv[2]]))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p, _ = build_sample_project(tmp_path / "p", n_cases=4, outputs_per_case=2, with_dicom=False,
                                rater="Dr Lead")
    p.close()
    return tmp_path / "p"


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_sigkill_mid_export_leaves_no_outdir_and_the_next_export_sweeps(
        project: Path, tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    out = exports / "out"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(project), str(out)],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("WROTE"), line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()
    (stage,) = list(exports.iterdir())
    assert stage.name.startswith(".out.exporting-")  # mid-way: one table in the hidden stage
    assert [p.name for p in stage.iterdir()] == ["cases.csv"]

    assert main(["export", str(project), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == TABLES
    assert _hidden(exports) == []  # the killed export's stage is gone


def test_refused_export_leaves_nothing(project: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import medreview.exporters.bundle as bundle
    from medreview.errors import InputError

    def refuse(*_a: object, **_k: object) -> None:
        raise InputError("refused half-way")

    monkeypatch.setattr(bundle, "export_training", refuse)
    out = tmp_path / "out"
    assert main(["export", str(project), str(out), "--kind", "tables", "--kind", "sft"]) == 2
    assert not out.exists() and _hidden(tmp_path) == []


def test_non_empty_outdir_is_refused_unless_overwrite(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(project), str(out)]) == 0  # an empty folder is fine
    keep = out / "notes.txt"
    keep.write_text("mine")
    (out / "cases.csv").write_text("stale")
    capsys.readouterr()
    assert main(["export", str(project), str(out)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err and str(out) in err
    assert (out / "cases.csv").read_text() == "stale"  # untouched

    assert main(["export", str(project), str(out), "--overwrite"]) == 0
    assert (out / "cases.csv").read_text() != "stale" and keep.read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == sorted([*TABLES, "notes.txt"])
    assert _hidden(tmp_path) == []

    target = tmp_path / "a-file"
    target.write_text("x")
    assert main(["export", str(project), str(target)]) == 2
    assert target.read_text() == "x"


def test_staged_replaces_folders_and_sweeps_only_dead_owners(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "media").mkdir(parents=True)
    (out / "media" / "old.dcm").write_text("old")
    with staged(out, overwrite=True) as stage:
        (stage / "media").mkdir()
        (stage / "media" / "new.dcm").write_text("new")
        assert not (out / "media" / "new.dcm").exists()  # nothing visible until complete
    assert [p.name for p in (out / "media").iterdir()] == ["new.dcm"]

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".out.exporting-{dead.pid}-abc").mkdir()
    (tmp_path / f".out.exporting-{os.getpid()}-live").mkdir()  # a running export: kept
    removed = sweep_abandoned(out)
    assert [p.name for p in removed] == [f".out.exporting-{dead.pid}-abc"]
    assert _hidden(tmp_path) == [f".out.exporting-{os.getpid()}-live"]
