"""Imports leave exactly the same rows, row for row, as the reference run recorded.

A varied set of files goes through ``medreview import`` (CLI -> services -> importers ->
``storage.ingest``) into four real projects: JSON Lines, CSV, wide CSV, JSON arrays and dicts,
duplicates inside a file, the same file again, media waiting for their cases, prior ratings
(new, repeated, changed), HealthBench (three shapes), inspect-ai logs, MEDEC, MedVAL, and files
refused on a bad record after some batches were committed. Every table is then dumped
(timestamps and random uids left out, the temp folder replaced by ``TMP``) and compared with
``data/ingest_rows.json``, which was written by the row-at-a-time ORM ingest this module's bulk
path replaced: the ids, counts, hashes, JSON payloads, scores and import-log states must all be
the same. Run with ``MEDREVIEW_WRITE_EXPECTED=1`` to rewrite the file (only on purpose).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from PIL import Image
from sqlalchemy import DateTime, select

from medreview.cli.main import main
from medreview.storage import ingest as ingest_module
from medreview.storage.base import Base
from medreview.storage.project import open_project
from tests.importers.helpers import DATA
from tests.importers.test_fuzz_import import _seeds
from tests.importers.test_medec import MS_CLEAN, MS_ERROR, UW_CLEAN, UW_ERROR
from tests.importers.test_medec import write_csv as write_medec
from tests.importers.test_medval import CLEAN, FABRICATED, TWO_ERRORS, UNGRADED
from tests.importers.test_medval import write_csv as write_medval
from tests.importers.test_rating_validation import RUBRIC

EXPECTED = Path(__file__).parent / "data" / "ingest_rows.json"
DICOM = Path(pydicom.__file__).parent / "data" / "test_files"
# Columns whose values differ between two runs of the same imports by design.
RANDOM_COLUMNS = {"uid", "secret"}


def _import(tmp: Path, project: Path, *args: object, ok: bool = True) -> dict[str, Any]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["import", str(project), *(str(a) for a in args), "--json"])
    if ok:
        assert code == 0, err.getvalue()
        result: dict[str, Any] = json.loads(out.getvalue())
        return result
    assert code != 0
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medreview import: error: "), lines
    return {"error": _canonical(lines[0], str(tmp))}


def _init(project: Path) -> None:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", str(project)]) == 0


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return path


def _media(root: Path) -> Path:
    """caseA: two PNGs; caseB: a DICOM file; none of the cases exists yet."""
    for name, shade in (("caseA/cxr.png", 128), ("caseA/hand.png", 40)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (4, 4), color=shade).save(root / name, format="PNG")
    (root / "caseB").mkdir(parents=True)
    shutil.copyfile(DICOM / "MR_small.dcm", root / "caseB" / "mr.dcm")
    shutil.copyfile(DICOM / "CT_small.dcm", root / "caseB" / "ct.dcm")
    return root


def _general(tmp: Path, log: list[Any]) -> Path:
    """Cases, outputs, duplicates, re-imports, waiting media, ratings and failures."""
    proj = tmp / "general"
    _init(proj)
    rubric = tmp / "mini.json"
    rubric.write_text(json.dumps(RUBRIC), encoding="utf-8")
    media = _media(tmp / "media")
    log.append(_import(tmp, proj, media))  # waits for caseA and caseB
    seeds = {name: tmp / name for name in _seeds()}
    for name, data in _seeds().items():
        seeds[name].write_bytes(data)
    base = _write(tmp / "base.jsonl", [
        {"id": f"c{i}", "prompt": f"Q{i}", "model": "m", "output": f"A{i}"} for i in (1, 2, 3)
    ] + [{"id": "caseA", "prompt": "What is shown?", "model": "m", "output": "A chest film."}])
    log.append(_import(tmp, proj, base, "--rubric", rubric))
    for name in ("cases.jsonl", "cases.csv", "records.json", "dict.json"):
        log.append(_import(tmp, proj, seeds[name]))
    log.append(_import(tmp, proj, seeds["cases.jsonl"]))  # the same file again: all skipped
    log.append(_import(tmp, proj, DATA / "cases.jsonl"))
    log.append(_import(tmp, proj, DATA / "cases.csv", ok=False))  # c1 with another prompt
    log.append(_import(tmp, proj, DATA / "wide.csv", "--format", "wide-csv",
                       "--models", "gpt-4o,claude-3-5-sonnet"))
    log.append(_import(tmp, proj, DATA / "wide.csv", "--format", "wide-csv",
                       "--models", "gpt-4o,claude-3-5-sonnet"))
    # The same output text twice for one case and model, a repeated case line, many models.
    dups = _write(tmp / "dups.jsonl", [
        {"id": "d1", "prompt": "Dose?", "model": "m", "output": "10 mg", "latency": 3},
        {"id": "d1", "prompt": "Dose?", "model": "m2", "output": "10 mg"},
        {"id": "d1", "prompt": "Dose?", "model": "m3", "output": "twenty"},
        {"id": "c1", "prompt": "Q1", "model": "m", "output": "A1"},
        {"id": "c1", "prompt": "Q1", "model": "m4", "output": "A1 again"},
    ])
    log.append(_import(tmp, proj, dups))
    for name in ("ratings.csv", "ratings.jsonl"):
        log.append(_import(tmp, proj, seeds[name]))
        log.append(_import(tmp, proj, seeds[name]))  # the same ratings again: skipped
    changed = tmp / "ratings2.jsonl"
    changed.write_text(seeds["ratings.jsonl"].read_text("utf-8").replace('"ok"', '"better"'),
                       encoding="utf-8")
    log.append(_import(tmp, proj, changed))  # a changed rating: a new revision
    # Refused after committed batches (2 records a batch): everything taken back.
    bad_late = _write(tmp / "bad_late.jsonl", [
        {"id": f"late{i}", "prompt": f"L{i}", "model": "m", "output": f"x{i}"} for i in range(6)
    ] + [{"id": "c1", "prompt": "Q1 changed", "model": "m", "output": "A1"}])
    log.append(_import(tmp, proj, bad_late, ok=False))
    unknown = tmp / "unknown.jsonl"
    unknown.write_text(seeds["ratings.jsonl"].read_text("utf-8").replace('"c3"', '"zz"'),
                       encoding="utf-8")
    log.append(_import(tmp, proj, unknown, ok=False))
    broken = tmp / "broken.jsonl"
    broken.write_text(
        "".join(json.dumps({"id": f"b{i}", "prompt": "P", "model": "m", "output": f"o{i}"})
                + "\n" for i in range(5)) + '{"id": "b9", "prompt": \n', encoding="utf-8")
    log.append(_import(tmp, proj, broken, ok=False))
    # caseB arrives: its waiting DICOM files are attached in the same import.
    log.append(_import(tmp, proj, _write(tmp / "caseB.jsonl", [
        {"id": "caseB", "prompt": "Which sequence?", "model": "m", "output": "T1"}])))
    log.append(_import(tmp, proj, media))  # media again: nothing new
    return proj


def _healthbench(tmp: Path, log: list[Any]) -> Path:
    proj = tmp / "healthbench"
    _init(proj)
    log.append(_import(tmp, proj, DATA / "healthbench.jsonl", "--rubric", "healthbench"))
    for name in ("healthbench.jsonl", "healthbench_meta.jsonl", "healthbench_professional.jsonl",
                 "healthbench_gpt-4.1-2025-04-14_20250510_101010_allresults.json"):
        log.append(_import(tmp, proj, DATA / name))
    log.append(_import(tmp, proj, DATA / "healthbench.jsonl"))
    return proj


def _inspect(tmp: Path, log: list[Any]) -> Path:
    proj = tmp / "inspect"
    _init(proj)
    log.append(_import(tmp, proj, DATA / "cases.csv"))
    for name in ("inspect_medqa.eval", "inspect_legacy.eval", "inspect_medqa.json",
                 "inspect_medqa.eval"):
        log.append(_import(tmp, proj, DATA / name))
    return proj


def _medec_medval(tmp: Path, log: list[Any]) -> list[Path]:
    medec = tmp / "medec"
    _init(medec)
    ms = write_medec(tmp / "MEDEC-MS-ValidationSet.csv", [MS_ERROR, MS_CLEAN])
    uw = write_medec(tmp / "MEDEC-UW-ValidationSet.csv", [UW_ERROR, UW_CLEAN])
    for path in (ms, uw, ms):
        log.append(_import(tmp, medec, path))
    medval = tmp / "medval"
    _init(medval)
    mv = write_medval(tmp / "medval.csv", [FABRICATED, CLEAN, TWO_ERRORS, UNGRADED])
    log.append(_import(tmp, medval, mv))
    log.append(_import(tmp, medval, mv))
    return [medec, medval]


def _canonical(value: Any, tmp: str) -> Any:
    """Paths that depend on where the tests run become TMP and DATA (the checkout's data)."""
    if isinstance(value, str):
        return value.replace(tmp, "TMP").replace(str(DATA), "DATA")
    if isinstance(value, dict):
        return {k: _canonical(v, tmp) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, tmp) for v in value]
    return value


def dump(project_path: Path, tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in id order, without timestamps and random uids."""
    out: dict[str, list[dict[str, Any]]] = {}
    with open_project(project_path) as project, project.read() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns
                    if not isinstance(c.type, DateTime) and not isinstance(
                        getattr(c.type, "impl", None), DateTime)
                    and c.name not in RANDOM_COLUMNS]
            order = list(table.primary_key.columns)
            rows = s.execute(select(*cols).order_by(*order)).mappings().all()
            out[table.name] = [_canonical(dict(r), str(tmp)) for r in rows]
    return out


def run_all(tmp: Path) -> dict[str, Any]:
    log: list[Any] = []
    projects = [_general(tmp, log), _healthbench(tmp, log), _inspect(tmp, log),
                *_medec_medval(tmp, log)]
    return {"summaries": _canonical(log, str(tmp)),
            "tables": {p.name: dump(p, tmp) for p in projects}}


@pytest.mark.parametrize("batch_records", [pytest.param(2, marks=pytest.mark.sqlite_only(
    reason="recorded ids: PostgreSQL never reuses the ids a refused import took")), 500])
def test_imports_leave_the_recorded_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_records: int
) -> None:
    defaults = ingest_module.ingest.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "batch_records", batch_records)
    monkeypatch.setitem(defaults, "batch_seconds", 3600.0)  # batches by count, not by load
    got = json.loads(json.dumps(run_all(tmp_path), sort_keys=True, default=str))
    if os.environ.get("MEDREVIEW_WRITE_EXPECTED") and batch_records == 2:
        EXPECTED.parent.mkdir(exist_ok=True)
        EXPECTED.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert got["summaries"] == expected["summaries"]
    for name, tables in expected["tables"].items():
        for table, rows in tables.items():
            # Columns and tables added to the schema later (by other features) are not part
            # of the recording; every recorded one must still hold the same values.
            columns = set().union(*rows) if rows else set()
            have = [{k: v for k, v in r.items() if k in columns}
                    for r in got["tables"][name][table]]
            assert have == rows, f"{name}.{table}"
