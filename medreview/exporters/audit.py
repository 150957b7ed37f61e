"""The audit trail export: every judgment revision and every gold-label revision as tables.

``storage.audit``'s histories with the ``cannot_assess`` and ``not_applicable`` columns (the
files ``services.study.export_audit`` writes through this module), read as rows
(``storage.exports``) instead of ORM entities, written from tuples a chunk at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from medreview.exporters import tables
from medreview.exporters.not_assessed import AUDIT_COLUMNS, audit_values
from medreview.exporters.table_stream import TableRows
from medreview.storage.exports import (
    GOLD_HISTORY_COLUMNS,
    JUDGMENT_HISTORY_COLUMNS,
    RowBatches,
    gold_history_batches,
    judgment_history_batches,
)
from medreview.storage.project import Project

if TYPE_CHECKING:
    import pandas as pd

_ANSWERS = JUDGMENT_HISTORY_COLUMNS.index("answers")


def _no_rows() -> pd.DataFrame:
    import pandas as pd

    # As a frame of dicts: the columns of the first row (none when there is no row)
    return pd.DataFrame([])


def _with_audit_values(batches: RowBatches) -> RowBatches:
    for batch in batches:
        yield [(*row, *audit_values(row[_ANSWERS])) for row in batch]


def export_audit(project: Project, outdir: Path, fmt: str = "jsonl", *,
                 pseudonymise: bool = True) -> list[Path]:
    """Write the judgment and gold-label histories as tables (a chunk of rows at a time,
    ``exporters.table_stream``); return their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    judgments = tables.write_table(TableRows(
        (*JUDGMENT_HISTORY_COLUMNS, *AUDIT_COLUMNS),
        lambda: _with_audit_values(judgment_history_batches(project, pseudonymise=pseudonymise)),
        empty=_no_rows), outdir / "judgment_history", fmt)
    gold = tables.write_table(TableRows(
        GOLD_HISTORY_COLUMNS, lambda: gold_history_batches(project, pseudonymise=pseudonymise),
        empty=_no_rows), outdir / "gold_history", fmt)
    return [judgments, gold]
