"""An import killed part-way on a server project (the client process dies with SIGKILL): its
committed batches stay and are marked partial, the open batch is gone with the connection (and
the write lock with it), and importing the same file again completes it.

The SQLite twin is ``tests/storage/test_concurrency.py``; its child process is given a folder,
so the PostgreSQL run of that directory leaves it out (``sqlite_only``) and this one stands in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select

from medreview.domain.records import Located
from medreview.services.projects import project_info
from medreview.storage.ingest import incomplete_imports, ingest
from medreview.storage.models import CaseRow, ImportLogRow
from medreview.storage.project import create_project
from tests.storage.helpers import case

_KILLED = textwrap.dedent("""
    import os, signal, sys
    from medreview.domain.records import Located
    from medreview.storage.ingest import ingest
    from medreview.storage.project import open_project
    from tests.storage.helpers import case
    def records():
        for i in range(1, 301):
            if i == 170:
                os.kill(os.getpid(), signal.SIGKILL)
            yield Located(case(f"k{i}"), "f.jsonl", i)
    with open_project(sys.argv[1]) as project:
        ingest(project, records(), source="f.jsonl", importer="t", source_sha256="ab" * 32,
               batch_records=50)
""")


def _records(n: int) -> Iterator[Located]:
    for i in range(1, n + 1):
        yield Located(case(f"k{i}"), "f.jsonl", i)


def test_a_killed_import_is_marked_partial_and_completes_when_run_again(
    pg_url: str, tmp_path: Path
) -> None:
    project = create_project(pg_url, "killed")
    try:
        env = {**os.environ, "MEDREVIEW_HOME": str(tmp_path / "home")}
        proc = subprocess.run([sys.executable, "-c", _KILLED, pg_url], env=env,
                              cwd=Path(__file__).parents[2], timeout=60, capture_output=True,
                              text=True)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert [src for src, _when in incomplete_imports(project)] == ["f.jsonl"]
        assert project_info(project).counts["cases"] == 150  # three whole batches
        # The dead client's lock went with its connection: this write does not wait.
        again = ingest(project, _records(300), source="f.jsonl", importer="t",
                       source_sha256="ab" * 32)
        assert again.added["cases"] == 150 and again.skipped["cases"] == 150
        assert incomplete_imports(project) == []
        with project.read() as s:
            assert s.scalar(select(func.count()).select_from(CaseRow)) == 300
            logs = s.scalars(select(ImportLogRow)).all()
            assert [r.counts["state"] for r in logs] == ["complete"]
    finally:
        project.close()
