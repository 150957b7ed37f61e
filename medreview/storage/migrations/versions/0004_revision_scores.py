"""fill every revision's overall score with the core's rule (domain.scoring.judgment_score)

Before this revision only the grading screen stored a score: judge runs, imports and merges
left it empty (or, for a merged package, kept the package's own number). The score is derived
data -- the answers under the form the revision records -- so it is recomputed for every
revision; the answers, the history and the revision numbers are untouched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from medreview.domain.rubric import Form, Question, case_criterion_question
from medreview.domain.scoring import judgment_score
from medreview.rubrics.load import parse_form

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The tables as they stand at 0003 (not the models, which may change after this revision).
_form = sa.table("form", sa.column("id", sa.Integer), sa.column("key", sa.String),
                 sa.column("version", sa.Integer), sa.column("definition", sa.JSON))
_criterion = sa.table("case_criterion", sa.column("case_id", sa.Integer),
                      sa.column("position", sa.Integer), sa.column("key", sa.String),
                      sa.column("text", sa.Text), sa.column("points", sa.Float),
                      sa.column("tags", sa.JSON))
_output = sa.table("output", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer))
_judgment = sa.table("judgment", sa.column("id", sa.Integer), sa.column("output_id", sa.Integer))
_revision = sa.table("judgment_revision", sa.column("id", sa.Integer),
                     sa.column("judgment_id", sa.Integer), sa.column("form_id", sa.Integer),
                     sa.column("answers", sa.JSON), sa.column("status", sa.String),
                     sa.column("overall_score", sa.Float))


def _forms(conn: sa.Connection) -> dict[int, Form | None]:
    forms: dict[int, Form | None] = {}
    for fid, key, version, definition in conn.execute(
        sa.select(_form.c.id, _form.c.key, _form.c.version, _form.c.definition)
    ):
        try:
            forms[fid] = parse_form(definition, source=f"form {key} v{version}")
        except Exception:  # a form the current loader refuses has no score, not a failed upgrade
            forms[fid] = None
    return forms


def _case_questions(conn: sa.Connection) -> dict[int, tuple[Question, ...]]:
    by_case: dict[int, list[Question]] = {}
    for case_id, key, text, points, tags in conn.execute(
        sa.select(_criterion.c.case_id, _criterion.c.key, _criterion.c.text,
                  _criterion.c.points, _criterion.c.tags)
        .order_by(_criterion.c.case_id, _criterion.c.position)
    ):
        by_case.setdefault(case_id, []).append(
            case_criterion_question(key, text, points, tuple(tags or ())))
    return {k: tuple(v) for k, v in by_case.items()}


def upgrade() -> None:
    conn = op.get_bind()
    forms = _forms(conn)
    criteria = _case_questions(conn)
    rows = conn.execute(
        sa.select(_revision.c.id, _revision.c.form_id, _revision.c.answers, _revision.c.status,
                  _revision.c.overall_score, _output.c.case_id)
        .join(_judgment, _judgment.c.id == _revision.c.judgment_id)
        .join(_output, _output.c.id == _judgment.c.output_id)
    ).all()
    updates = []
    for rev_id, form_id, answers, status, old, case_id in rows:
        form = forms.get(form_id)
        cases = criteria.get(case_id, ()) if form is not None and form.per_case_criteria else ()
        score = judgment_score(form, answers if isinstance(answers, dict) else {}, cases,
                               status=status)
        if score != old:
            updates.append({"rid": rev_id, "score": score})
    if updates:
        conn.execute(
            _revision.update().where(_revision.c.id == sa.bindparam("rid"))
            .values(overall_score=sa.bindparam("score")),
            updates,
        )


def downgrade() -> None:
    # The scores computed here are kept: older code reads the column the same way.
    pass
