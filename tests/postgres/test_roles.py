"""Raters and leads as database roles: blinding and ownership enforced by the server itself.

The demo project (three physicians' judgments, a judge, gold labels) is copied into a fresh
PostgreSQL database; a lead login, then two rater logins, are made with storage.team, and every
connection below signs in with those generated passwords over TCP (the test server asks for
SCRAM passwords, .ci/postgres.sh), never as the superuser.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from medreview.cli.main import main
from medreview.demo import build_demo_project
from medreview.errors import InputError, ProjectError
from medreview.services.grading import load_item, load_queue
from medreview.services.projects import open_project
from medreview.storage import schema, team
from medreview.storage.copy import copy_database
from medreview.storage.judgments import save_draft
from medreview.storage.revisions import RevisionContent

AMARA, LUKAS = "Dr. Amara Okafor", "Dr. Lukas Brandt"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo") / "project.sqlite"


def _login(admin_url: str, creds: team.Credentials) -> sa.Engine:
    url = sa.make_url(admin_url).set(username=creds.role, password=creds.password)
    return sa.create_engine(url, poolclass=sa.NullPool)


def _password_url(creds: team.Credentials) -> str:
    return (sa.make_url(creds.url).set(password=creds.password)
            .render_as_string(hide_password=False))


def _scalars(engine: sa.Engine, sql: str, **params: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).scalars())


def _refused(engine: sa.Engine, sql: str, **params: object) -> str:
    """The server's refusal of ``sql`` (a permission error), as its message."""
    with pytest.raises(sa.exc.ProgrammingError) as err, engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege), err.value
    return str(err.value.orig)


class Team:
    def __init__(self, admin: sa.Engine, url: str) -> None:
        self.admin, self.url = admin, url
        self.lead_creds = team.add_lead(admin, f"lead_{uuid.uuid4().hex[:8]}")
        self.lead = _login(url, self.lead_creds)
        # The lead (not the superuser) gives the physicians their logins.
        self.a_creds = team.add_rater(self.lead, AMARA)
        self.b_creds = team.add_rater(self.lead, LUKAS)
        self.a, self.b = _login(url, self.a_creds), _login(url, self.b_creds)
        ids = {str(n): int(str(i)) for n, i in _rows(admin, "SELECT name, id FROM rater")}
        self.a_id, self.b_id = ids[AMARA], ids[LUKAS]
        # The lead assigns: Amara four outputs she judged and one she did not; Lukas four.
        judged_a = _scalars(admin, "SELECT output_id FROM judgment WHERE rater_id = :r "
                                   "ORDER BY output_id LIMIT 4", r=self.a_id)
        fresh = _scalars(admin, "SELECT id FROM output WHERE id NOT IN (SELECT output_id FROM "
                                "judgment WHERE rater_id = :r) ORDER BY id LIMIT 1", r=self.a_id)
        judged_b = _scalars(admin, "SELECT output_id FROM judgment WHERE rater_id = :r "
                                   "ORDER BY output_id DESC LIMIT 4", r=self.b_id)
        self.a_outputs = {int(str(o)) for o in [*judged_a, *fresh]}
        self.b_outputs = {int(str(o)) for o in judged_b}
        assert len(self.a_outputs) == 5 and len(self.b_outputs) == 4
        with self.lead.begin() as conn:
            for rater, outputs in ((self.a_id, self.a_outputs), (self.b_id, self.b_outputs)):
                for pos, out in enumerate(sorted(outputs)):
                    conn.execute(sa.text(
                        "INSERT INTO assignment (rater_id, output_id, position, blind_label, "
                        "created_at) VALUES (:r, :o, :p, 'Response A', now())"),
                        {"r": rater, "o": out, "p": pos})
            conn.execute(sa.text(
                "INSERT INTO issued_package (uid, rater_id, issued_at, secret, outputs, "
                "attachments) VALUES (:u, :r, now(), :s, '{}', '{}')"),
                {"u": uuid.uuid4().hex, "r": self.a_id, "s": "ab" * 32})
            conn.execute(sa.text(
                "INSERT INTO gold_label (uid, output_id, question_id, value, provenance, "
                "rationale, revision_no, created_at) VALUES (:u, :o, 'errors', '[]', "
                "'adjudicated', 'lead decided', 1, now())"),
                {"u": uuid.uuid4().hex, "o": min(self.a_outputs)})

    def dispose(self) -> None:
        for engine in (self.lead, self.a, self.b, self.admin):
            engine.dispose()


def _rows(engine: sa.Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


@pytest.fixture
def crew(demo_db: Path, pg_url: str) -> Iterator[Team]:
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{demo_db}"), admin)
    t = Team(admin, pg_url)
    yield t
    t.dispose()


def test_each_rater_reads_only_their_own_work_and_what_is_assigned(crew: Team) -> None:
    admin, a, b = crew.admin, crew.a, crew.b
    for engine, rid, outputs in ((a, crew.a_id, crew.a_outputs), (b, crew.b_id, crew.b_outputs)):
        mine = _scalars(admin, "SELECT id FROM judgment WHERE rater_id = :r ORDER BY id", r=rid)
        assert len(mine) > 10  # the demo's judgments of this physician, all of them
        assert _scalars(engine, "SELECT id FROM judgment ORDER BY id") == mine
        assert set(_scalars(engine, "SELECT DISTINCT j.rater_id FROM judgment_revision v "
                                    "JOIN judgment j ON j.id = v.judgment_id")) == {rid}
        assert _scalars(engine, "SELECT count(*) FROM judgment_revision") == _scalars(
            admin, "SELECT count(*) FROM judgment_revision v JOIN judgment j ON "
                   "j.id = v.judgment_id WHERE j.rater_id = :r", r=rid)
        assert set(_scalars(engine, "SELECT id FROM output")) == outputs
        assert set(_scalars(engine, "SELECT output_id FROM assignment")) == outputs
        cases = set(_scalars(admin, "SELECT DISTINCT case_id FROM output WHERE id = ANY(:o)",
                             o=sorted(outputs)))
        assert set(_scalars(engine, 'SELECT id FROM "case"')) == cases
        assert set(_scalars(engine, "SELECT case_id FROM case_criterion")) <= cases
        assert _scalars(engine, "SELECT id FROM rater") == [rid]  # no colleagues' names
        assert _scalars(engine, "SELECT count(*) FROM form") != [0]  # the rubric to grade with
    # Blinding holds on the server: the table's model column is refused; the blind view the
    # rater's login reads as "output" shows it blank, until the lead reveals models.
    for column in ("model", "external_id", "metadata", "source", "*"):  # may name the model
        assert "output" in _refused(a, f"SELECT {column} FROM public.output")
    assert set(_rows(a, "SELECT model, external_id, metadata::text, source FROM output")) \
        == {("", None, "{}", "")}
    assert set(_scalars(a, "SELECT id FROM output")) == crew.a_outputs
    with crew.lead.begin() as conn:
        conn.execute(sa.text("UPDATE project SET reveal_models = true"))
    assert "" not in set(_scalars(a, "SELECT model FROM output"))
    _refused(a, "UPDATE project SET reveal_models = false")
    for table in ("issued_package", "judge_run", "judge_item", "import_log", "study_item"):
        if table == "study_item":  # readable, but only their own visible kinds (none here)
            assert _scalars(a, f"SELECT count(*) FROM {table}") == [0]
            continue
        assert table in _refused(a, f"SELECT count(*) FROM {table}")
    # Gold is readable only for the rater's own finished qualification items (schema 0010):
    # this rater has none, so they see no gold at all.
    assert _scalars(a, "SELECT count(*) FROM gold_label") == [0]
    assert _scalars(admin, "SELECT count(*) FROM gold_label") != [0]  # there was something to hide


def test_a_rater_cannot_write_another_raters_judgments_nor_rewrite_history(crew: Team) -> None:
    a = crew.a
    b_judgment = _scalars(crew.admin, "SELECT id FROM judgment WHERE rater_id = :r LIMIT 1",
                          r=crew.b_id)[0]
    a_judgment = _scalars(crew.admin, "SELECT id FROM judgment WHERE rater_id = :r LIMIT 1",
                          r=crew.a_id)[0]
    form = _scalars(crew.admin, "SELECT id FROM form ORDER BY id LIMIT 1")[0]
    revision = ("INSERT INTO judgment_revision (uid, judgment_id, revision_no, form_id, answers,"
                " annotations, rationale, time_on_task_s, flagged, skipped, status, author, "
                "source, created_at) VALUES (:u, :j, 99, :f, '{}', '[]', '', 0, false, false, "
                "'draft', :au, 'ui', now())")
    before = _scalars(crew.admin, "SELECT count(*) FROM judgment_revision")
    # A revision of Lukas's judgment, as Lukas, or of her own in his name: refused.
    assert "row-level security" in _refused(a, revision, u=uuid.uuid4().hex, j=b_judgment,
                                            f=form, au=LUKAS)
    _refused(a, revision, u=uuid.uuid4().hex, j=a_judgment, f=form, au=LUKAS)
    # A judgment for Lukas, or for an output not assigned to her: refused.
    b_output = sorted(crew.b_outputs - crew.a_outputs)[0]
    for rater, output in ((crew.b_id, b_output), (crew.a_id, b_output)):
        _refused(a, "INSERT INTO judgment (rater_id, output_id, status, flagged, "
                    "current_revision_no, created_at, updated_at) VALUES (:r, :o, 'draft', "
                    "false, 0, now(), now())", r=rater, o=output)
    # His judgments are invisible to her, so an update changes nothing.
    with a.begin() as conn:
        assert conn.execute(sa.text("UPDATE judgment SET status = 'skipped' WHERE id = :j"),
                            {"j": b_judgment}).rowcount == 0
        # Nor can she move her own judgment to another rater or output.
        with pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("UPDATE judgment SET rater_id = :r WHERE id = :j"),
                         {"r": crew.b_id, "j": a_judgment})
    assert _scalars(crew.admin, "SELECT status FROM judgment WHERE id = :j", j=b_judgment) \
        == ["done"]
    # Her own history is append-only: no update, no delete.
    _refused(a, "UPDATE judgment_revision SET rationale = 'edited' WHERE judgment_id = :j",
             j=a_judgment)
    _refused(a, "DELETE FROM judgment_revision WHERE judgment_id = :j", j=a_judgment)
    _refused(a, "DELETE FROM judgment WHERE id = :j", j=a_judgment)
    _refused(a, "UPDATE assignment SET rater_id = :r", r=crew.a_id)
    assert _scalars(crew.admin, "SELECT count(*) FROM judgment_revision") == before


def test_the_lead_reads_and_writes_everything(crew: Team) -> None:
    lead, admin = crew.lead, crew.admin
    for table in ("judgment", "judgment_revision", "output", "assignment", "rater", "gold_label",
                  "issued_package", "judge_run", '"case"'):
        assert _scalars(lead, f"SELECT count(*) FROM {table}") == _scalars(
            admin, f"SELECT count(*) FROM {table}")
    assert _scalars(lead, "SELECT count(DISTINCT model) FROM output") != [0]
    assert _scalars(lead, "SELECT secret FROM issued_package") == ["ab" * 32]
    members = team.list_members(lead)
    assert {(m.role, m.kind, m.rater) for m in members} >= {
        (crew.lead_creds.role, "lead", None), (crew.a_creds.role, "rater", AMARA),
        (crew.b_creds.role, "rater", LUKAS)}


def test_removing_a_rater_ends_the_login_and_keeps_the_history(crew: Team) -> None:
    judgments = _scalars(crew.admin, "SELECT count(*) FROM judgment WHERE rater_id = :r",
                         r=crew.a_id)
    open_session = crew.a.connect()  # signed in before the removal
    assert open_session.execute(sa.text("SELECT count(*) FROM judgment")).scalar() == judgments[0]
    open_session.commit()
    removed = team.remove_rater(crew.lead, AMARA)
    assert removed.role == crew.a_creds.role and removed.dropped
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        open_session.execute(sa.text("SELECT count(*) FROM judgment"))
    open_session.close()
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        crew.a.connect()
    assert _scalars(crew.admin, "SELECT count(*) FROM judgment WHERE rater_id = :r",
                    r=crew.a_id) == judgments
    assert _scalars(crew.admin, "SELECT db_role FROM rater WHERE id = :r", r=crew.a_id) == [None]
    again = team.add_rater(crew.lead, AMARA)  # a new login, the same rater and history
    assert _scalars(_login(crew.url, again), "SELECT count(*) FROM judgment") == judgments


def test_only_leads_manage_the_team_and_mistakes_are_one_line(crew: Team) -> None:
    with pytest.raises(InputError, match="may not manage this project's team"):
        team.add_rater(crew.a, "Dr. Mei Tanaka")
    with pytest.raises(InputError, match="already has the login"):
        team.add_rater(crew.lead, LUKAS)
    with pytest.raises(InputError, match="already exists"):
        team.add_rater(crew.lead, "Dr. Mei Tanaka", role=crew.b_creds.role)
    with pytest.raises(InputError, match="control or invisible"):
        team.add_rater(crew.lead, "Dr. Evil\u202e")
    with pytest.raises(InputError, match="login name"):
        team.add_rater(crew.lead, "Dr. Mei Tanaka", role="Robert'); DROP TABLE rater;--")
    with pytest.raises(InputError, match="as a judge"):
        team.add_rater(crew.lead, "judge: demo-judge-mini")
    assert _scalars(crew.admin, "SELECT count(*) FROM rater WHERE db_role IS NOT NULL") == [2]


def test_a_judge_login_writes_only_judge_judgments(crew: Team) -> None:
    judge = _login(crew.url, team.add_judge(crew.lead, f"judge_{uuid.uuid4().hex[:8]}"))
    assert _scalars(judge, "SELECT count(*) FROM output") == _scalars(
        crew.admin, "SELECT count(*) FROM output")
    assert set(_scalars(judge, "SELECT kind FROM rater")) == {"judge"}
    _refused(judge, "SELECT count(*) FROM gold_label")
    with judge.begin() as conn:
        assert conn.execute(sa.text("UPDATE judgment SET flagged = true WHERE rater_id = :r"),
                            {"r": crew.a_id}).rowcount == 0
    judge.dispose()


def test_add_rater_command_prints_credentials_that_sign_in(
        crew: Team, capsys: pytest.CaptureFixture[str]) -> None:
    url = _password_url(crew.lead_creds)
    assert main(["team", "add-rater", url, "Dr. Mei Tanaka"]) == 0
    out = capsys.readouterr().out
    password = re.search(r"password: (\S+)", out)
    login = re.search(r"(postgresql://(\w+)@\S+)", out)
    assert password and login, out
    assert crew.lead_creds.password not in out and out.count(password.group(1)) == 1
    engine = sa.create_engine(sa.make_url(login.group(1)).set(
        drivername="postgresql+psycopg", password=password.group(1)), poolclass=sa.NullPool)
    assert _scalars(engine, "SELECT name FROM rater") == ["Dr. Mei Tanaka"]
    engine.dispose()
    # A rater cannot: one line, exit code 2, no traceback.
    assert main(["team", "add-rater", _password_url(crew.b_creds), "Dr. X"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "may not manage" in err



def test_the_grading_screen_reads_as_the_rater_blinded(crew: Team) -> None:
    """The app's own reads and save path work under row-level security: her queue, an item,
    and a revision numbered from what she can see, with her name as author."""
    fresh = sorted(crew.a_outputs - set(_scalars(
        crew.admin, "SELECT output_id FROM judgment WHERE rater_id = :r", r=crew.a_id)))[0]
    with open_project(_password_url(crew.a_creds)) as project:
        queue = load_queue(project, crew.a_id)
        assert {r.output_id for r in queue} == crew.a_outputs
        assert {r.model for r in queue} == {""}
        item = load_item(project, crew.a_id, fresh)
        assert item.output_id == fresh and not item.model
        saved = save_draft(project, crew.a_id, fresh,
                           RevisionContent(answers={}, rationale="first look", status="draft"))
    assert saved.revision_no == 1
    assert _rows(crew.admin, "SELECT v.author, v.source, j.rater_id FROM judgment_revision v "
                             "JOIN judgment j ON j.id = v.judgment_id WHERE j.output_id = :o "
                             "AND j.rater_id = :r", o=fresh, r=crew.a_id) \
        == [(AMARA, "ui", crew.a_id)]
    assert _scalars(crew.b, "SELECT count(*) FROM judgment WHERE rater_id = :r", r=crew.a_id) \
        == [0]


def test_downgrade_takes_the_roles_away_and_upgrade_makes_them_again(pg_url: str) -> None:
    from alembic import command

    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    lead = team.add_lead(admin, f"lead_{uuid.uuid4().hex[:8]}")
    groups_sql = "SELECT count(*) FROM pg_roles WHERE rolname LIKE :p"
    prefix = f"{sa.make_url(pg_url).database}_medreview_%"
    assert _scalars(admin, groups_sql, p=prefix) == [3]
    cfg = schema.alembic_config()
    with admin.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    assert _scalars(admin, groups_sql, p=prefix) == [0]
    assert _scalars(admin, "SELECT count(*) FROM pg_policies") == [0]
    schema.upgrade(admin)
    assert _scalars(admin, groups_sql, p=prefix) == [3]
    # The old lead login lost its group with the downgrade: it may not even connect now.
    with pytest.raises(sa.exc.OperationalError, match="CONNECT privilege"):
        team.add_rater(_login(pg_url, lead), "Dr. Mei Tanaka")
    admin.dispose()


def test_the_dbas_set_up_a_lead_with_createrole_owning_the_database(demo_db: Path,
                                                                    pg_url: str) -> None:
    """docs/TEAM.md: the DBA makes a lead login with CREATEROLE and a database it owns; the lead
    (no superuser) migrates, copies the folder in, and hands out rater logins."""
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    database = str(sa.make_url(pg_url).database)
    role, password = f"lead_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN CREATEROLE PASSWORD '{password}'")
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO {role}')
    lead = sa.create_engine(sa.make_url(pg_url).set(username=role, password=password),
                            poolclass=sa.NullPool)
    schema.upgrade(lead)
    copy_database(sa.create_engine(f"sqlite:///{demo_db}"), lead)
    creds = team.add_rater(lead, AMARA)
    rater = _login(pg_url, creds)
    assert _scalars(rater, "SELECT name FROM rater") == [AMARA]
    assert _scalars(rater, "SELECT count(*) FROM output") == [0]  # nothing assigned yet
    assert {m.kind for m in team.list_members(lead)} == {"lead", "rater"}
    # Other logins on the server may not even connect to the project's database.
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE outsider_{role} LOGIN PASSWORD '{password}'")
    outsider = sa.create_engine(sa.make_url(pg_url).set(username=f"outsider_{role}",
                                                        password=password),
                                poolclass=sa.NullPool)
    with pytest.raises(sa.exc.OperationalError, match="CONNECT privilege"):
        outsider.connect()
    for engine in (rater, lead, admin, outsider):
        engine.dispose()


def test_a_migration_without_createrole_is_refused_in_one_line(pg_url: str) -> None:
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    database = str(sa.make_url(pg_url).database)
    role, password = f"plain_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO {role}')
    plain = sa.create_engine(sa.make_url(pg_url).set(username=role, password=password),
                             poolclass=sa.NullPool)
    with pytest.raises(ProjectError, match="needs a superuser or a role with CREATEROLE"):
        schema.upgrade(plain)
    assert _scalars(admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [0]
    plain.dispose()
    admin.dispose()


def test_a_judge_run_writes_as_its_own_login(pg_url: str, tmp_path: Path) -> None:
    """`medreview judge` against a server project, signed in as a judge login: the run, its
    ledger and the judge's judgments are written; physicians' work stays out of its reach."""
    from medreview.judge.testing_server import FakeOpenAIServer
    from medreview.services.judging import run_judge
    from tests.judge.conftest import build_project, fast_config

    folder = build_project(tmp_path / "proj")
    folder.close()
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{tmp_path / 'proj' / 'project.sqlite'}"), admin)
    creds = team.add_judge(admin, f"judge_{uuid.uuid4().hex[:8]}")
    with FakeOpenAIServer() as server, open_project(_password_url(creds)) as project:
        summary = run_judge(project, fast_config(server.url))
    assert (summary.status, summary.failed) == ("done", 0) and summary.judged > 0
    assert _rows(admin, "SELECT r.kind, count(*) FROM judgment j JOIN rater r ON r.id = "
                        "j.rater_id GROUP BY r.kind") == [("judge", 6)]
    admin.dispose()


def test_a_copy_in_another_database_gives_old_logins_nothing_and_leaves_them_working(
        crew: Team) -> None:
    """``rater.db_role`` travels with a copy; in the new database that login is no member, may
    not connect, is re-issued on demand, and removing it there does not end it here."""
    import os

    server = sa.make_url(os.environ["MEDREVIEW_TEST_PG_URL"])
    name = f"mr_{uuid.uuid4().hex[:12]}"
    root = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with root.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    other = sa.create_engine(server.set(database=name), poolclass=sa.NullPool)
    try:
        schema.upgrade(other)
        copy_database(crew.admin, other)
        assert _scalars(other, "SELECT db_role FROM rater WHERE name = :n", n=AMARA) == [
            crew.a_creds.role]
        stale = sa.create_engine(server.set(database=name, username=crew.a_creds.role,
                                            password=crew.a_creds.password),
                                 poolclass=sa.NullPool)
        with pytest.raises(sa.exc.OperationalError, match="CONNECT privilege"):
            stale.connect()
        removed = team.remove_rater(other, AMARA)
        assert removed.role == crew.a_creds.role and not removed.dropped
        assert _scalars(crew.a, "SELECT count(*) FROM assignment") == [len(crew.a_outputs)]
        fresh = team.add_rater(other, LUKAS)  # his copied login is stale there: a new one
        assert fresh.role != crew.b_creds.role
        assert _scalars(_login(str(server.set(database=name).render_as_string(
            hide_password=False)), fresh), "SELECT name FROM rater") == [LUKAS]
    finally:
        other.dispose()
        with root.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        root.dispose()
