"""``medreview info`` names the imports a killed process left unfinished, and how to finish them.

The unfinished import is made for real: a writer process killed (SIGKILL) between batches.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.domain.records import Located
from medreview.storage.ingest import ingest
from medreview.storage.project import create_project, open_project
from tests.storage.helpers import case

_KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from medreview.domain.records import Located
    from medreview.storage.ingest import ingest
    from medreview.storage.project import open_project
    from tests.storage.helpers import case
    def records():
        for i in range(1, 121):
            if i == 70:
                os.kill(os.getpid(), signal.SIGKILL)
            yield Located(case(f"k{i}"), "cases.jsonl", i)
    with open_project(Path(sys.argv[1])) as project:
        ingest(project, records(), source="cases.jsonl", importer="t",
               source_sha256="cd" * 32, batch_records=20)
""")


def _records() -> Iterator[Located]:
    for i in range(1, 121):
        yield Located(case(f"k{i}"), "cases.jsonl", i)


@pytest.fixture
def killed_import(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    create_project(path, "p").close()
    env = {**os.environ, "MEDREVIEW_HOME": str(tmp_path / "home"),
           "MEDREVIEW_LOG_DIR": str(tmp_path / "logs")}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(path)], env=env,
                          cwd=Path(__file__).parents[2], timeout=60, capture_output=True,
                          text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return path


def test_info_lists_an_unfinished_import_with_the_way_to_finish_it(
    killed_import: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(killed_import)]) == 0
    out = capsys.readouterr().out
    assert "imports that did not finish (import the same file again to finish it):" in out
    line = next(x for x in out.splitlines() if "cases.jsonl" in x)
    assert "started 20" in line  # the start time, ISO (20xx-…)
    assert "cases                60" in out  # three whole batches were saved

    assert main(["info", str(killed_import), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(i["source"], i["hint"]) for i in data["incomplete_imports"]] == [
        ("cases.jsonl", "import the same file again to finish it")]
    assert data["incomplete_imports"][0]["started"][:2] == "20"


def test_info_says_nothing_of_imports_once_the_same_file_is_imported_again(
    killed_import: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_project(killed_import) as project:
        ingest(project, _records(), source="cases.jsonl", importer="t",
               source_sha256="cd" * 32)
    assert main(["info", str(killed_import)]) == 0
    out = capsys.readouterr().out
    assert "did not finish" not in out and "cases                120" in out
    assert main(["info", str(killed_import), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incomplete_imports"] == []
