"""The queue's "cannot assess" marks are read by SQL both backends run (a JSON column cast to
text and matched with an escaped LIKE): the same marks on SQLite and on PostgreSQL."""

from __future__ import annotations

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, cannot_assess_value
from medreview.rubrics.templates import load_template
from medreview.storage.ingest import ingest
from medreview.storage.judgments import queue_rows, save_draft
from medreview.storage.project import Project
from medreview.storage.project_info import add_form
from medreview.storage.queue_marks import cannot_assess_marks
from medreview.storage.raters import add_rater
from medreview.storage.revisions import RevisionContent
from tests.storage.helpers import case, located, output


def test_marks_of_done_items_only_with_the_key_itself(empty_project: Project) -> None:
    project = empty_project
    add_form(project, load_template("quality_harm"))
    me, other = add_rater(project, "Dr A").id, add_rater(project, "Dr B").id
    ingest(project, located([case("k1"), *(output("k1", f"m{i}", f"text {i}") for i in range(5))]),
           source="t", importer="t")
    ids = [r.output_id for r in queue_rows(project, me)]

    def save(rater: int, oid: int, answers: dict[str, object], status: str = "done") -> None:
        save_draft(project, rater, oid, RevisionContent(answers=answers, status=status))

    save(me, ids[0], {CANNOT_ASSESS_KEY: cannot_assess_value("missing_context", "50%_off")})
    save(me, ids[1], {"x_cannot_assessy": 1})  # "_" is a LIKE wildcard: must not match
    save(me, ids[2], {CANNOT_ASSESS_KEY: cannot_assess_value("ambiguous_question")}, "draft")
    save(other, ids[3], {CANNOT_ASSESS_KEY: cannot_assess_value("outside_specialty")})
    save(me, ids[4], {"note": "_cannot_assess"})  # the text, as a value: no mark either
    assert cannot_assess_marks_of(project, me) == {ids[0]: "Missing context: 50%_off"}
    assert cannot_assess_marks_of(project, other) == {ids[3]: "Outside my specialty"}
    rows = {r.output_id: r.cannot_assess for r in queue_rows(project, me)}
    assert rows == {ids[0]: "Missing context: 50%_off", ids[1]: "", ids[2]: "", ids[3]: "",
                    ids[4]: ""}


def cannot_assess_marks_of(project: Project, rater: int) -> dict[int, str]:
    with project.read() as s:
        return cannot_assess_marks(s, rater)
