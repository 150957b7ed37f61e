"""The batched ingest (``storage.bulk_ingest``: Core executemany with RETURNING, lookups by
``IN``) writes on PostgreSQL exactly the rows it writes on SQLite, through the same steps:
new cases with criteria, outputs, a re-import that adds nothing, part of a file already there,
and a file refused after committed batches that leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medreview.domain.records import Located
from medreview.errors import ImportFailed
from medreview.services.projects import create_project
from medreview.storage.ingest import ImportSummary, ingest
from medreview.storage.models import CaseCriterionRow, CaseRow, ImportLogRow, OutputRow
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output


def _records() -> list[Located]:
    recs: list[object] = []
    for i in range(40):
        recs.append(case(f"k{i}", f"Prompt {i}", criteria=i % 3))
        recs.extend(output(f"k{i}", m, f"answer {i} by {m}") for m in ("m1", "m2"))
    recs.append(output("k3", "m1", "answer 3 by m1"))  # the same output again
    return located(recs, source="many.jsonl")


def _steps(project: Project) -> list[Any]:
    recs = _records()
    done: list[Any] = []

    def run(part: list[Located], **kw: Any) -> None:
        summary: ImportSummary = ingest(project, part, source="many.jsonl", importer="t", **kw)
        done.append(summary.to_dict())

    run(recs[:30], batch_records=7)
    run(recs, batch_records=11)
    run(recs)
    bad = [*recs[:5], *located([case("new1"), output("new1", "m", "x"), case("k0", "changed")],
                               source="bad.jsonl")]
    with pytest.raises(ImportFailed, match="different content"):
        ingest(project, bad, source="bad.jsonl", importer="t", batch_records=2)
    done.append("refused")
    return done


def _rows(project: Project) -> dict[str, list[tuple[Any, ...]]]:
    """Rows with case ids replaced by case keys (sequences differ between databases)."""
    with project.read() as s:
        keys = dict(s.execute(select(CaseRow.id, CaseRow.external_id)).all())
        return {
            "case": sorted(s.execute(select(
                CaseRow.external_id, CaseRow.title, CaseRow.messages, CaseRow.context,
                CaseRow.tags, CaseRow.meta, CaseRow.reference_answer, CaseRow.content_sha256,
                CaseRow.source)).tuples(), key=repr),
            "criteria": sorted(((keys[c], *rest) for c, *rest in s.execute(select(
                CaseCriterionRow.case_id, CaseCriterionRow.position, CaseCriterionRow.key,
                CaseCriterionRow.text, CaseCriterionRow.points, CaseCriterionRow.tags))),
                key=repr),
            "output": sorted(((keys[c], *rest) for c, *rest in s.execute(select(
                OutputRow.case_id, OutputRow.external_id, OutputRow.model, OutputRow.text,
                OutputRow.text_sha256, OutputRow.meta, OutputRow.source))), key=repr),
            "import_log": [tuple(r) for r in s.execute(select(
                ImportLogRow.source, ImportLogRow.importer, ImportLogRow.counts)
                .order_by(ImportLogRow.id))],
        }


def test_postgres_and_sqlite_get_the_same_rows(pg_url: str, tmp_path: Path) -> None:
    with create_project(tmp_path / "lite", "p") as lite:
        lite_steps, lite_rows = _steps(lite), _rows(lite)
    with create_project(pg_url, "p") as pg:
        pg_steps, pg_rows = _steps(pg), _rows(pg)
    assert pg_steps == lite_steps
    assert pg_rows == lite_rows
    assert len(pg_rows["output"]) == 80 and len(pg_rows["case"]) == 40
    assert lite_steps[1]["skipped"]["outputs"] == lite_steps[0]["added"]["outputs"] + 1
