"""storage.exports: what the training exporter reads, as plain values."""

from __future__ import annotations

from pathlib import Path

from medreview.domain.rubric import QuestionKind
from medreview.storage.exports import ExportCase, ExportOutput, cases_and_outputs, rater_names
from medreview.storage.ingest import ingest
from medreview.storage.project import create_project
from medreview.storage.raters import get_or_create_rater
from tests.storage.helpers import case, located, output
from tests.storage.study_helpers import assert_plain


def test_cases_outputs_and_rater_names(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        ingest(project, located([
            case("c1", prompt="Dose of X?", criteria=2), case("c2", criteria=0),
            output("c2", "m-b", "late answer"), output("c1", "m-a", "first answer"),
        ]), source="t", importer="test")
        with project.transaction() as s:
            get_or_create_rater(s, "Dr House", "physician")
        cases, outputs = cases_and_outputs(project)
        assert_plain((cases, outputs))
        assert {c.external_id for c in cases.values()} == {"c1", "c2"}
        c1 = next(c for c in cases.values() if c.external_id == "c1")
        assert isinstance(c1, ExportCase) and c1.id in cases
        assert c1.messages == ({"role": "user", "content": "Dose of X?"},)
        assert [q.id for q in c1.criteria] == ["criterion:c0", "criterion:c1"]  # in order
        assert all(q.kind is QuestionKind.CRITERION for q in c1.criteria)
        assert list(outputs) == sorted(outputs)  # id order
        assert all(isinstance(o, ExportOutput) for o in outputs.values())
        texts = {o.text: (cases[o.case_id].external_id, o.model) for o in outputs.values()}
        assert texts == {"late answer": ("c2", "m-b"), "first answer": ("c1", "m-a")}
        assert rater_names(project) == [("Dr House", "P01")]
