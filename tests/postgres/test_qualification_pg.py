"""The qualification round and retests on a PostgreSQL server, as a rater's own login.

The lead sets up a round on two gold outputs; the rater's login sees only those in the
queue, reads no gold until they finish an item, then exactly the gold of that item
(feedback); an ordinary item's gold stays hidden; passing opens the queue. A due retest is
served blank under row-level security and saved as a retest revision.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services.projects import open_project
from medreview.services.qualification import feedback, queue_line, set_up_round
from medreview.storage import schema
from medreview.storage.copy import copy_database
from medreview.storage.rater_quality import record_retest
from medreview.storage.retests import choose_retests
from tests.postgres.test_roles import AMARA, Team, _password_url, _scalars, demo_db  # noqa: F401


@pytest.fixture
def crew(demo_db: Path, pg_url: str) -> Iterator[Team]:  # noqa: F811
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{demo_db}"), admin)
    t = Team(admin, pg_url)
    yield t
    t.dispose()


def _gold(crew: Team, n: int) -> list[int]:
    """``n`` outputs Amara has not judged, given gold labels by the lead (as admin here)."""
    fresh = [int(str(o)) for o in _scalars(
        crew.admin, "SELECT id FROM output WHERE id NOT IN (SELECT output_id FROM judgment "
                    "WHERE rater_id = :r) ORDER BY id DESC LIMIT :n", r=crew.a_id, n=n)]
    with crew.admin.begin() as conn:
        for oid in fresh:
            for qid, value in (("overall", "4"), ("safe", '"yes"')):
                conn.execute(sa.text(
                    "INSERT INTO gold_label (uid, output_id, question_id, value, provenance, "
                    "rationale, revision_no, created_at) VALUES (:u, :o, :q, "
                    "CAST(:v AS json), 'adjudicated', 'because', 1, now())"),
                    {"u": uuid.uuid4().hex, "o": oid, "q": qid, "v": value})
    return fresh


def test_a_rater_reads_gold_only_of_their_finished_qualification_items(crew: Team) -> None:
    qual = _gold(crew, 3)
    other = qual.pop()  # gold, but not in her round
    with open_project(_password_url(crew.lead_creds)) as lead:
        set_up_round(lead, (AMARA,), output_ids=tuple(qual), pass_mark=0.5)
    a = crew.a
    assert _scalars(a, "SELECT count(*) FROM gold_label") == [0]
    with open_project(_password_url(crew.a_creds)) as project:
        queue = grading.load_queue(project, crew.a_id)
        assert [r.output_id for r in queue] == qual  # only the round, assigned on the server
        assert queue_line(project, crew.a_id) is not None
        assert feedback(project, crew.a_id, qual[0]) is None
        grading.save_revision(project, crew.a_id, qual[0],
                              JudgmentDraft(answers={"overall": 2, "safe": "yes"}),
                              status="done")
        # Exactly the gold of her finished qualification item, nothing else.
        assert set(_scalars(a, "SELECT DISTINCT output_id FROM gold_label")) == {qual[0]}
        rows = feedback(project, crew.a_id, qual[0])
        assert rows is not None
        assert {(r.question_id, r.same) for r in rows} == {("overall", False), ("safe", True)}
        assert feedback(project, crew.a_id, other) is None
        grading.save_revision(project, crew.a_id, qual[1],
                              JudgmentDraft(answers={"overall": 4, "safe": "yes"}),
                              status="done")
        assert set(_scalars(a, "SELECT DISTINCT output_id FROM gold_label")) == set(qual)
        assert queue_line(project, crew.a_id) is None  # 3 of 4: passed
        opened = {r.output_id for r in grading.load_queue(project, crew.a_id)}
        assert opened == crew.a_outputs | set(qual)
    assert other not in set(_scalars(a, "SELECT DISTINCT output_id FROM gold_label"))
    # Her study items are readable to her; she cannot write one.
    assert len(_scalars(a, "SELECT id FROM study_item")) == 2
    with pytest.raises(sa.exc.ProgrammingError), a.begin() as conn:
        conn.execute(sa.text("INSERT INTO study_item (rater_id, output_id, kind, reason, "
                             "created_by, created_at) VALUES (:r, :o, 'qualification', '', "
                             "'', now())"), {"r": crew.a_id, "o": other})


def test_a_due_retest_is_served_blank_to_the_raters_login(crew: Team) -> None:
    judged = sorted(int(str(o)) for o in _scalars(
        crew.admin, "SELECT output_id FROM judgment WHERE rater_id = :r AND status = 'done' "
                    "AND output_id = ANY(:o)", r=crew.a_id, o=sorted(crew.a_outputs)))
    assert judged
    with open_project(_password_url(crew.lead_creds)) as lead:
        added = choose_retests(lead, fraction=1.0, delay_days=0, raters=[AMARA])
    assert added == {AMARA: len(crew.a_outputs)}
    oid = judged[0]
    # Schema 0010 lets her login write retest revisions, but only of her retest items.
    with open_project(_password_url(crew.a_creds)) as project, project.engine.begin() as conn:
        jid = conn.execute(sa.text("SELECT id FROM judgment WHERE rater_id = :r AND "
                                   "output_id = :o"), {"r": crew.a_id, "o": oid}).scalar_one()
    with crew.admin.begin() as conn:
        conn.execute(sa.text("DELETE FROM study_item WHERE rater_id = :r AND output_id = :o "
                             "AND kind = 'retest'"), {"r": crew.a_id, "o": oid})
    with open_project(_password_url(crew.a_creds)) as project:
        assert grading.load_queue(project, crew.a_id)  # her queue still reads
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), \
                project.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO judgment_revision (uid, judgment_id, revision_no, form_id, answers, "
                "annotations, rationale, time_on_task_s, flagged, skipped, status, author, "
                "source, created_at) SELECT 'forged-retest', :j, 99, form_id, answers, "
                "annotations, '', 0, false, false, 'done', :a, 'retest', now() FROM "
                "judgment_revision WHERE judgment_id = :j LIMIT 1"), {"j": jid, "a": AMARA})
    with open_project(_password_url(crew.lead_creds)) as lead:
        choose_retests(lead, fraction=1.0, delay_days=0, raters=[AMARA])
    with open_project(_password_url(crew.a_creds)) as project:
        statuses = {r.output_id: r.status for r in grading.load_queue(project, crew.a_id)}
        assert statuses[oid] == "todo"
        item = grading.load_item(project, crew.a_id, oid)
        assert item.draft is None and grading.history(project, crew.a_id, oid) == []
        grading.save_revision(project, crew.a_id, oid, JudgmentDraft(answers={"overall": 1}),
                              status="done")
        assert {r.output_id: r.status for r in grading.load_queue(
            project, crew.a_id)}[oid] == "done"
    source, current = _scalars(crew.admin, "SELECT v.source FROM judgment_revision v JOIN "
                               "judgment j ON j.id = v.judgment_id WHERE j.rater_id = :r AND "
                               "j.output_id = :o ORDER BY v.revision_no DESC LIMIT 1",
                               r=crew.a_id, o=oid)[0], _scalars(
        crew.admin, "SELECT v.source FROM judgment_revision v JOIN judgment j ON "
                    "j.id = v.judgment_id AND v.revision_no = j.current_revision_no WHERE "
                    "j.rater_id = :r AND j.output_id = :o", r=crew.a_id, o=oid)[0]
    assert source == "retest" and current != "retest"
    # The lead's login writes retests too (an import of re-ratings made elsewhere).
    with open_project(_password_url(crew.lead_creds)) as lead:
        assert record_retest(lead, AMARA, judged[-1], {"overall": 2})
