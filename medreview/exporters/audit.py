"""The audit trail export: every judgment revision and every gold-label revision as tables.

The same files as ``services.study.export_audit`` (``storage.audit``'s histories with the
``cannot_assess`` and ``not_applicable`` columns, through ``tables.write_table``), read as
rows (``storage.exports``) instead of ORM entities and written from tuples instead of dicts:
at 100k revisions the reading was most of the export's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.exporters.not_assessed import AUDIT_COLUMNS, audit_values
from medreview.exporters.tables import write_table
from medreview.storage.exports import (
    GOLD_HISTORY_COLUMNS,
    JUDGMENT_HISTORY_COLUMNS,
    gold_history_rows,
    judgment_history_rows,
)
from medreview.storage.project import Project

if TYPE_CHECKING:
    import pandas as pd

_ANSWERS = JUDGMENT_HISTORY_COLUMNS.index("answers")


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    # As a frame of dicts: the columns of the first row (none when there is no row)
    return pd.DataFrame(rows, columns=list(columns)) if rows else pd.DataFrame([])


def export_audit(project: Project, outdir: Path, fmt: str = "jsonl", *,
                 pseudonymise: bool = True) -> list[Path]:
    """Write the judgment and gold-label histories as tables; return their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    history = [(*row, *audit_values(row[_ANSWERS]))
               for row in judgment_history_rows(project, pseudonymise=pseudonymise)]
    judgments = write_table(_frame(history, (*JUDGMENT_HISTORY_COLUMNS, *AUDIT_COLUMNS)),
                            outdir / "judgment_history", fmt)
    del history
    gold = write_table(_frame(gold_history_rows(project, pseudonymise=pseudonymise),
                              GOLD_HISTORY_COLUMNS), outdir / "gold_history", fmt)
    return [judgments, gold]
