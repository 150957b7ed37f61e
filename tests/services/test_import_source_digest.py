"""The import log's sha256 of a source file is taken in the pass that parses it.

The digest must be that of the very bytes the records came from (a file changed while it is
imported cannot leave a digest of other content), the file is opened once, and the digest is
still the plain sha256 of the file for every reader (JSON Lines with and without a byte-order
mark, CSV, a JSON document, an inspect archive the parser reads its own way). A run killed
before its digest was known leaves a partial row without one; importing the file again
completes that row.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medreview.domain.records import Located
from medreview.services.importing import import_file
from medreview.storage.ingest import incomplete_imports, ingest
from medreview.storage.models import ImportLogRow, OutputRow
from medreview.storage.project import Project
from tests.importers.helpers import DATA
from tests.storage.helpers import case


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _logs(project: Project) -> list[tuple[str, str, str]]:
    with project.read() as s:
        return [(r.source, r.sha256, r.counts["state"])
                for r in s.scalars(select(ImportLogRow).order_by(ImportLogRow.id))]


def _jsonl(path: Path, n: int, bom: bool = False, text: str = "answer") -> Path:
    lines = [json.dumps({"id": f"c{i}", "prompt": f"question {i}", "model": "m",
                         "output": f"{text} {i}"}) for i in range(n)]
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode())
    return path


@pytest.mark.parametrize("name", ["plain.jsonl", "bom.jsonl", "cases.csv", "doc.json",
                                  "inspect_medqa.eval"])
def test_the_logged_digest_is_the_files_sha256_for_every_reader(
    tmp_path: Path, empty_project: Project, name: str
) -> None:
    if name.endswith(".jsonl"):
        path = _jsonl(tmp_path / name, 5, bom=name.startswith("bom"))
    elif name == "doc.json":
        path = tmp_path / name
        path.write_text(json.dumps([{"id": "d1", "prompt": "q", "model": "m", "output": "a"}]))
    else:
        path = DATA / name
    if name == "inspect_medqa.eval":
        import_file(empty_project, DATA / "cases.csv")
    import_file(empty_project, path)
    assert _logs(empty_project)[-1] == (str(path), _sha(path), "complete")


def test_the_source_is_opened_once(
    tmp_path: Path, empty_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _jsonl(tmp_path / "once.jsonl", 50)
    opened: list[str] = []
    real_open, real_io_open = builtins.open, io.open

    def counting(real: Any) -> Any:
        def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, str | os.PathLike) and Path(file) == path:
                opened.append(str(file))
            return real(file, *args, **kwargs)
        return open_

    monkeypatch.setattr(builtins, "open", counting(real_open))
    monkeypatch.setattr(io, "open", counting(real_io_open))  # Path.open
    import_file(empty_project, path, fmt="jsonl")
    monkeypatch.undo()
    assert len(opened) == 1
    assert _logs(empty_project) == [(str(path), _sha(path), "complete")]


def test_a_file_changed_while_it_is_read_is_logged_as_it_was_read(
    tmp_path: Path, empty_project: Project
) -> None:
    # Over 1 MiB (the readers' chunk): the second chunk is read after the first progress
    # report, and the tail is rewritten in place right then. The records come from the new
    # tail, and so must the digest (hashing the file first gave the old content's digest).
    path = _jsonl(tmp_path / "big.jsonl", 12_000, text="original answer")
    before = path.read_bytes()
    tail = before.rindex(b"original")
    changed = False

    def progress(_done: int, _total: int | None, _text: str) -> None:
        nonlocal changed
        if not changed:
            changed = True
            with path.open("r+b") as fh:
                fh.seek(tail)
                fh.write(b"REWRITES")  # same length: only the last output's text changes
    import_file(empty_project, path, progress=progress)
    after = path.read_bytes()
    assert changed and after != before
    with empty_project.read() as s:
        last = s.scalars(select(OutputRow.text).order_by(OutputRow.id.desc())).first()
    assert last == "REWRITES answer 11999"
    assert _logs(empty_project) == [(str(path), _sha(path), "complete")]
    assert _sha(path) != hashlib.sha256(before).hexdigest()


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
               source_sha256=lambda: "cd" * 32, batch_records=20)
""")


def _records() -> Iterator[Located]:
    for i in range(1, 121):
        yield Located(case(f"k{i}"), "cases.jsonl", i)


@pytest.mark.sqlite_only(reason="a child process gets the folder")
def test_a_run_killed_before_its_digest_was_known_is_completed_by_the_next(
    tmp_path: Path, empty_project: Project
) -> None:
    env = {**os.environ, "MEDREVIEW_HOME": str(tmp_path / "home"),
           "MEDREVIEW_LOG_DIR": str(tmp_path / "logs")}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(empty_project.path)], env=env,
                          cwd=Path(__file__).parents[2], timeout=60, capture_output=True,
                          text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # Killed mid-file: the digest was never known, the row says partial without one.
    assert _logs(empty_project) == [("cases.jsonl", "", "partial")]
    assert [src for src, _ in incomplete_imports(empty_project)] == ["cases.jsonl"]
    again = ingest(empty_project, _records(), source="cases.jsonl", importer="t",
                   source_sha256=lambda: "cd" * 32, batch_records=20)
    assert again.added["cases"] == 60 and again.skipped["cases"] == 60
    assert _logs(empty_project) == [("cases.jsonl", "cd" * 32, "complete")]
    with empty_project.read() as s:
        counts = s.scalars(select(ImportLogRow.counts)).one()
    assert counts["added"]["cases"] == 60 and counts["skipped"]["cases"] == 60


def test_a_partial_row_of_the_same_content_elsewhere_is_the_one_completed(
    tmp_path: Path, empty_project: Project
) -> None:
    path = _jsonl(tmp_path / "moved.jsonl", 4)
    with empty_project.transaction() as s:  # a killed run of this content at another path
        s.add(ImportLogRow(source="/old/place.jsonl", sha256=_sha(path), importer="jsonl",
                           counts={"state": "partial"}))
    import_file(empty_project, path)
    assert _logs(empty_project) == [("/old/place.jsonl", _sha(path), "complete")]
    assert incomplete_imports(empty_project) == []
