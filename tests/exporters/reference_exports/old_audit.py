# ruff: noqa  (a verbatim reference: see __init__.py)
"""``services.study.export_audit`` as it was at 2fd33db, over the reference table writer."""

from __future__ import annotations

from pathlib import Path

from medreview.storage.audit import gold_history, judgment_history
from medreview.storage.project import Project
from tests.exporters.reference_exports.old_not_assessed import audit_columns
from tests.exporters.reference_exports.old_tables import write_table


def export_audit(project: Project, outdir: Path, fmt: str = "jsonl", *,
                 pseudonymise: bool = True) -> list[Path]:
    import pandas as pd

    outdir.mkdir(parents=True, exist_ok=True)
    return [
        write_table(pd.DataFrame(audit_columns(judgment_history(project,
                                                                pseudonymise=pseudonymise))),
                    outdir / "judgment_history", fmt),
        write_table(pd.DataFrame(gold_history(project, pseudonymise=pseudonymise)),
                    outdir / "gold_history", fmt),
    ]
