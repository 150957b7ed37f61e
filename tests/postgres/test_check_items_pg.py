"""Hidden gold and attention items on a PostgreSQL project: a rater login cannot tell them
apart (no study_item row of theirs of those kinds, no gold, the queue as any other), a judge
login's reads keep working without the gold table, and the lead mixes items in under
row-level security."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select

from medreview.services import checks
from medreview.services.grading import load_queue
from medreview.services.projects import open_project
from medreview.storage import schema, team
from medreview.storage.adjudication import append_gold
from medreview.storage.check_items import hidden_items, project_attention_ids
from medreview.storage.copy import copy_database
from medreview.storage.judge_runs import plan_inputs
from medreview.storage.models import OutputRow
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.checks import CheckDesign, mix_checks
from tests.study.helpers import study_project


def _url(creds: team.Credentials) -> str:
    return (sa.make_url(creds.url).set(password=creds.password)
            .render_as_string(hide_password=False))


def _scalars(engine: sa.Engine, sql: str, **params: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).scalars())


def test_rater_logins_never_see_hidden_items_and_the_lead_mixes_them(
        pg_url: str, tmp_path: Path) -> None:
    local = study_project(tmp_path / "s", n_cases=12, dicom=False)
    with local.read() as s:
        oids = list(s.scalars(select(OutputRow.id).order_by(OutputRow.id)))
    for o in oids[:20]:
        append_gold(local, o, "safe", "yes", provenance="imported")
    checks.set_attention(local, oids[-2:], [("safe", "no")])
    assign(local, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=2))
    mix_checks(local, CheckDesign(rate=0.2, attention_rate=0.1, seed=1))
    local.close()
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{tmp_path / 's' / 'project.sqlite'}"), admin)
    lead = team.add_lead(admin, f"lead_{uuid.uuid4().hex[:8]}")
    lead_engine = sa.create_engine(_url(lead), poolclass=sa.NullPool)
    rater = team.add_rater(lead_engine, "Dr A")
    judge = team.add_judge(lead_engine, f"judge_{uuid.uuid4().hex[:8]}")
    a_id = int(str(_scalars(admin, "SELECT id FROM rater WHERE name = 'Dr A'")[0]))
    hidden = {int(str(o)): str(k) for o, k in zip(
        _scalars(admin, "SELECT output_id FROM study_item WHERE rater_id = :r ORDER BY id",
                 r=a_id),
        _scalars(admin, "SELECT kind FROM study_item WHERE rater_id = :r ORDER BY id", r=a_id),
        strict=True)}
    assert set(hidden.values()) == {"check", "attention"}  # there is something to hide
    a = sa.create_engine(_url(rater), poolclass=sa.NullPool)
    try:
        # The rater's login reads none of their hidden rows, no gold, no attention mark...
        assert _scalars(a, "SELECT count(*) FROM study_item") == [0]
        assert _scalars(a, "SELECT count(*) FROM gold_label") == [0]
        assigned = {int(str(o)) for o in _scalars(a, "SELECT output_id FROM assignment")}
        assert set(hidden) <= assigned
        # ... and the app, signed in as them, serves the hidden items like any other.
        with open_project(_url(rater)) as project:
            assert project_attention_ids(project) == frozenset()
            queue = load_queue(project, a_id)
            assert {q.output_id for q in queue} == assigned
            assert hidden_items(project).answers == () and hidden_items(project).assigned == {}
        # A judge login has no gold table: its reads still work (nothing to exclude there).
        with open_project(_url(judge)) as project:
            assert project_attention_ids(project) == frozenset()
            assert plan_inputs(project).outputs
        # The lead sees them and mixes more in, under row-level security.
        with open_project(_url(lead)) as project:
            assert project_attention_ids(project) == frozenset(oids[-2:])
            more = mix_checks(project, CheckDesign(rate=0.4, attention_rate=0.1, seed=3))
            assert more.added
        assert _scalars(a, "SELECT count(*) FROM study_item") == [0]
        after = {int(str(o)) for o in _scalars(a, "SELECT output_id FROM assignment")}
        assert after > assigned
    finally:
        for engine in (a, lead_engine, admin):
            engine.dispose()
