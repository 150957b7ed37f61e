"""A project file whose judgments were tampered with (answers that are not a JSON object,
a confidence or a judge's per-question confidence that is not a number) is refused by the
statistics' reader with one line naming the project, the judgment and the reason, never an
internal error; the project is left as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, select, text, update

from medreview.demo import build_demo_project
from medreview.errors import ProjectError
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow
from medreview.storage.project import open_project
from medreview.storage.ratings_read import read_ratings_coded, read_ratings_long


@pytest.fixture(scope="module")
def project_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("hostile") / "demo")


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("answers", [1, 2], "its stored answers cannot be read: a list, not a JSON object"),
    ("answers", "text", "its stored answers cannot be read: a text, not a JSON object"),
    ("answers", 17, "its stored answers cannot be read: a number, not a JSON object"),
    ("answers", JSON.NULL, "its stored answers cannot be read: null, not a JSON object"),
    ("annotations", [{"question_id": "overall", "judge": {"confidence": "high"}}],
     "its stored annotations cannot be read: could not convert string to float: 'high'"),
    ("annotations", 5, "its stored annotations cannot be read: 'int' object is not iterable"),
    pytest.param("confidence", "abc",
                 "its stored confidence cannot be read: str 'abc' is not a number",
                 marks=pytest.mark.sqlite_only(reason="a server's float column refuses text")),
])
def test_tampered_judgment_is_one_clear_error(project_path: Path, column: str, value: Any,
                                              reason: str) -> None:
    project = open_project(project_path)
    try:
        with project.read() as s:
            first = s.execute(
                select(JudgmentRevisionRow.id, JudgmentRow.output_id,
                       getattr(JudgmentRevisionRow, column))
                .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                      & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
                .where(JudgmentRow.status == "done")
                .order_by(JudgmentRow.output_id, JudgmentRow.rater_id)).first()
        assert first is not None
        rid, output_id, before = first
        with project.transaction() as s:
            if column == "confidence":  # past the ORM's float conversion, as a raw writer
                s.execute(text("UPDATE judgment_revision SET confidence = :v WHERE id = :id"),
                          {"v": value, "id": rid})
            else:
                s.execute(update(JudgmentRevisionRow).where(JudgmentRevisionRow.id == rid)
                          .values({column: value}))
        try:
            for read in (read_ratings_long, read_ratings_coded):
                with pytest.raises(ProjectError) as err:
                    read(project)
                msg = str(err.value)
                assert msg.startswith(f"{project.path}, the judgment of output {output_id} by ")
                assert msg.endswith(reason) and "\n" not in msg
        finally:
            with project.transaction() as s:
                s.execute(update(JudgmentRevisionRow).where(JudgmentRevisionRow.id == rid)
                          .values({column: before}))
        assert len(read_ratings_long(project)) > 100  # as it was
    finally:
        project.close()
