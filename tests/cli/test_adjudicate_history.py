"""``medreview adjudicate --history DIR`` is all or nothing: a kill leaves no partial folder.

The kill is real: a ``medreview adjudicate`` process SIGKILLs itself after the first of the two
audit tables is written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.services.sample_project import build_sample_project
from medreview.services.study import set_gold

_KILLED = textwrap.dedent("""
    import os, signal, sys
    import medreview.exporters.tables as tables
    from medreview.cli.main import main
    real = tables.write_table
    def write_then_die(df, path, fmt):
        out = real(df, path, fmt)
        if path.name == "judgment_history":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    tables.write_table = write_then_die
    sys.exit(main(["adjudicate", sys.argv[1], "--history", sys.argv[2]]))
""")


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=2, outputs_per_case=2, with_dicom=False)
    set_gold(project, 1, "overall", 3, rationale="checked", adjudicator="Dr Lead")
    project.close()
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MEDREVIEW_HOME": str(tmp_path / "home"),
            "MEDREVIEW_LOG_DIR": str(tmp_path / "logs")}


def test_a_kill_while_writing_the_history_leaves_no_history_folder(
    proj: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit"
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(proj), str(out)],
                          env=_env(tmp_path), cwd=Path(__file__).parents[2], timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists()  # half an audit trail never sits where the whole one belongs
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".audit.exporting-")]
    assert len(leftovers) == 1 and (leftovers[0] / "judgment_history.jsonl").is_file()

    assert main(["adjudicate", str(proj), "--history", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gold_history.jsonl",
                                                      "judgment_history.jsonl"]
    assert not any(p.name.startswith(".audit.") for p in tmp_path.iterdir())  # swept
    rows = [json.loads(x) for x in (out / "gold_history.jsonl").read_text().splitlines()]
    assert [r["provenance"] for r in rows] == ["adjudicated"]
    printed = capsys.readouterr().out
    assert str(out.absolute() / "gold_history.jsonl") in printed


def test_history_refreshes_its_own_folder_but_refuses_one_holding_other_files(
    proj: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit"
    assert main(["adjudicate", str(proj), "--history", str(out)]) == 0
    assert main(["adjudicate", str(proj), "--history", str(out)]) == 0  # an earlier trail
    capsys.readouterr()

    other = tmp_path / "papers"
    other.mkdir()
    (other / "draft.docx").write_bytes(b"mine")
    assert main(["adjudicate", str(proj), "--history", str(other)]) != 0
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err and "Traceback" not in err
    assert [p.name for p in other.iterdir()] == ["draft.docx"]

    assert main(["adjudicate", str(proj), "--history", str(other), "--overwrite"]) == 0
    assert sorted(p.name for p in other.iterdir()) == [
        "draft.docx", "gold_history.jsonl", "judgment_history.jsonl"]
    assert (other / "draft.docx").read_bytes() == b"mine"
