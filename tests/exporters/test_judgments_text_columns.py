"""The judgments export writes its text columns as text and escapes them for spreadsheets,
although ``ratings_long`` now holds them as categoricals (issue #17: memory): a rater name,
model or rationale that a spreadsheet would run as a formula is prefixed like any other text."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from sqlalchemy import update

from medreview.demo import build_demo_project
from medreview.exporters.tables import judgments_flat, write_table
from medreview.storage.models import JudgmentRevisionRow, OutputRow, RaterRow
from medreview.storage.project import open_project
from medreview.storage.tables import ratings_long

HOSTILE_RATER = "=cmd|' /C calc'!A0"
HOSTILE_MODEL = "@SUM(1+1)"
HOSTILE_WHY = '=HYPERLINK("http://127.0.0.1:8127/leak","open")'


def test_categorical_text_is_exported_as_escaped_text(tmp_path: Path) -> None:
    path = build_demo_project(tmp_path / "demo")
    project = open_project(path)
    try:
        with project.transaction() as s:
            rid = s.scalars(RaterRow.__table__.select().with_only_columns(RaterRow.id)
                            .where(RaterRow.kind == "physician").order_by(RaterRow.id)).first()
            s.execute(update(RaterRow).where(RaterRow.id == rid)
                      .values(name=HOSTILE_RATER, pseudonym=HOSTILE_RATER))
            s.execute(update(OutputRow).values(model=HOSTILE_MODEL))
            s.execute(update(JudgmentRevisionRow).values(rationale=HOSTILE_WHY))
        long = ratings_long(project, pseudonymise=True)  # as the export reads it
        assert isinstance(long["rater"].dtype, pd.CategoricalDtype)  # what is converted
        flat = judgments_flat(project)
    finally:
        project.close()
    for col in ("rater", "model", "rationale", "question_id", "case_external_id"):
        assert isinstance(flat[col].dtype, pd.StringDtype), col
    assert flat["rater"].astype(object).tolist() == long["rater"].astype(object).tolist()
    out = write_table(flat, tmp_path / "judgments", "csv")
    with open(out, newline="", encoding="utf-8") as f:
        cells = {c for row in csv.reader(f) for c in row}
    for hostile in (HOSTILE_RATER, HOSTILE_MODEL, HOSTILE_WHY):
        assert "'" + hostile in cells, hostile
        assert hostile not in cells
