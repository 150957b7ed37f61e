"""Live team work on a real PostgreSQL server: leases between two rater logins, NOTIFY hints
that wake a listener, and a dropped listener that still picks up what it missed.

The rater logins are made by storage.team and sign in with their own passwords (SCRAM over
TCP), as in test_roles; short leases stand in for minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from medreview.demo import build_demo_project
from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading, team
from medreview.services.projects import add_form, add_rater, create_project, open_project
from medreview.storage import leases, notify, schema
from medreview.storage.copy import copy_database
from tests.postgres.test_roles import (
    AMARA,
    LUKAS,
    Team,
    _password_url,
    _rows,
    _scalars,
)
from tests.postgres.test_team_work import _jsonl

SHORT = 1.0


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo") / "project.sqlite"


@pytest.fixture
def roles(live_demo: Path, pg_url: str) -> Iterator[Team]:
    """The demo on the server, a lead and two rater logins (test_roles's crew)."""
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{live_demo}"), admin)
    crew = Team(admin, pg_url)
    yield crew
    crew.dispose()


def _pool_outputs(roles: Team, n: int = 2) -> list[int]:
    """``n`` new outputs (of a case both raters see), assigned by the lead to both after
    their own: nobody has judged them yet."""
    fresh = []
    with roles.lead.begin() as conn:
        case = conn.execute(sa.text("SELECT case_id FROM output WHERE id = :o"),
                            {"o": min(roles.a_outputs)}).scalar_one()
        for i in range(n):
            fresh.append(int(conn.execute(sa.text(
                "INSERT INTO output (case_id, model, text, text_sha256, metadata, source, "
                "created_at) VALUES (:c, :m, 'pooled answer', :h, '{}', '', now()) "
                "RETURNING id"), {"c": case, "m": f"pool-{i}", "h": f"{i:064d}"}).scalar_one()))
    with roles.lead.begin() as conn:
        for rater in (roles.a_id, roles.b_id):
            for pos, out in enumerate(fresh):
                conn.execute(sa.text(
                    "INSERT INTO assignment (rater_id, output_id, position, blind_label, "
                    "created_at) VALUES (:r, :o, :p, 'Response A', now())"),
                    {"r": rater, "o": out, "p": 100 + pos})
    return fresh


def test_two_rater_logins_share_a_pool_by_expiring_leases(roles: Team) -> None:
    pool = _pool_outputs(roles)
    last_own = max(roles.b_outputs)
    with open_project(_password_url(roles.lead_creds)) as lead:
        team.set_lease_settings(lead, needed=1, seconds=60)
    with open_project(_password_url(roles.a_creds)) as amara, \
            open_project(_password_url(roles.b_creds)) as lukas:
        assert team.next_item(lukas, roles.b_id, after=last_own) == pool[0]
        assert leases.take(amara, roles.a_id, pool[0], seconds=SHORT) is not None
        # Lukas's next item skips what Amara has open; he cannot take it either.
        assert team.next_item(lukas, roles.b_id, after=last_own) == pool[1]
        assert leases.take(lukas, roles.b_id, pool[0]) is None
        # He learns only counts: not her lease row, nor her rows in output_taken.
        assert _scalars(roles.b, "SELECT count(*) FROM item_lease") == [0]
        assert _scalars(roles.b, "SELECT DISTINCT rater_id FROM output_taken") == [roles.b_id]
        assert _scalars(roles.a, "SELECT output_id FROM item_lease") == [pool[0]]
        # The lead sees who has what open.
        with open_project(_password_url(roles.lead_creds)) as lead:
            open_now = {r.name: r.open_now for r in team.team_progress(lead).raters}
        assert open_now == {AMARA: 1, LUKAS: 0, "Dr. Mei Tanaka": 0}
        # A rater's own progress: only themselves.
        assert [r.name for r in team.team_progress(lukas).raters] == [LUKAS]
        # Amara leaves the item open and walks away: it returns to the pool.
        time.sleep(SHORT + 0.3)
        assert team.next_item(lukas, roles.b_id, after=last_own) == pool[0]
        assert leases.take(lukas, roles.b_id, pool[0]) is not None
        assert leases.take(amara, roles.a_id, pool[0]) is None
        grading.save_revision(lukas, roles.b_id, pool[0],
                              JudgmentDraft(answers={"overall_comment": "ok"}), status="done")
        leases.release(lukas, roles.b_id, pool[0])
        assert team.next_item(amara, roles.a_id, after=max(roles.a_outputs)) == pool[1]


def test_a_rater_cannot_write_leases_for_others_or_for_items_not_theirs(roles: Team) -> None:
    pool = _pool_outputs(roles, 1)
    not_hers = min(roles.b_outputs - roles.a_outputs)
    for sql, params in (
            ("INSERT INTO item_lease VALUES (:r, :o, 0, 1e12)", {"r": roles.b_id, "o": pool[0]}),
            ("INSERT INTO item_lease VALUES (:r, :o, 0, 1e12)", {"r": roles.a_id, "o": not_hers})):
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), \
                roles.a.begin() as conn:
            conn.execute(sa.text(sql), params)
    with open_project(_password_url(roles.b_creds)) as lukas:
        assert leases.take(lukas, roles.b_id, pool[0]) is not None
    with roles.a.begin() as conn:  # her UPDATE and DELETE reach no row of his
        assert conn.execute(sa.text("UPDATE item_lease SET expires_at = 0")).rowcount == 0
        assert conn.execute(sa.text("DELETE FROM item_lease")).rowcount == 0
    assert _rows(roles.admin, "SELECT rater_id, output_id FROM item_lease") \
        == [(roles.b_id, pool[0])]


class Recorder:
    """Collects ``on_change`` / ``on_online`` calls from the listener thread."""

    def __init__(self) -> None:
        self.revisions: list[int] = []
        self.online: list[bool] = []
        self.cond = threading.Condition()

    def on_change(self, revision: int) -> None:
        with self.cond:
            self.revisions.append(revision)
            self.cond.notify_all()

    def on_online(self, online: bool, _why: str) -> None:
        with self.cond:
            self.online.append(online)
            self.cond.notify_all()

    def wait(self, test: Callable[[], bool], timeout: float) -> float:
        start = time.monotonic()
        with self.cond:
            assert self.cond.wait_for(test, timeout), (self.revisions, self.online)
        return time.monotonic() - start


def _graded_project(pg_url: str, tmp_path: Path) -> tuple[int, list[int]]:
    from medreview.rubrics.templates import load_template
    from medreview.services.importing import import_file

    with create_project(pg_url, "ward") as project:
        add_form(project, load_template("healthbench"))
        import_file(project, _jsonl(tmp_path / "a.jsonl", "a", 2))
        rater = add_rater(project, "Dr A").id
        outputs = [q.output_id for q in grading.load_queue(project, rater)]
    return rater, outputs


def _save(project: Any, rater: int, output: int, status: str = "draft") -> None:
    grading.save_revision(project, rater, output,
                          JudgmentDraft(answers={"overall_comment": "x"}), status=status)


def test_notify_wakes_a_listener_within_a_second(pg_url: str, tmp_path: Path) -> None:
    rater, outputs = _graded_project(pg_url, tmp_path)
    seen = Recorder()
    with open_project(pg_url) as watched, open_project(pg_url) as writer:
        listener = team.watch_changes(watched, seen.on_change, on_online=seen.on_online,
                                      check_s=3600)
        assert listener is not None
        try:
            seen.wait(lambda: len(seen.revisions) == 1, 5)  # the look after connecting
            start = seen.revisions[0]
            assert seen.online == [True] and start == team.change_revision(writer)
            _save(writer, rater, outputs[0])
            took = seen.wait(lambda: len(seen.revisions) == 2, 1.0)
            assert took < 1.0 and seen.revisions[1] == start + 1  # one number per transaction
            # A write that rolls back announces nothing.
            with pytest.raises(RuntimeError), writer.transaction() as s:
                s.execute(sa.text("UPDATE judgment SET flagged = NOT flagged"))
                raise RuntimeError("abandoned")
            time.sleep(0.5)
            assert len(seen.revisions) == 2
            # Reads are no news either.
            grading.load_queue(writer, rater)
            time.sleep(0.3)
            assert len(seen.revisions) == 2
        finally:
            listener.stop()


def test_a_dropped_listener_picks_up_the_change_it_missed(pg_url: str, tmp_path: Path) -> None:
    rater, outputs = _graded_project(pg_url, tmp_path)
    seen = Recorder()
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    gate = threading.Event()  # the reconnect waits until the write is done
    with open_project(pg_url) as watched, open_project(pg_url) as writer:
        connects = [0]

        def connect() -> Any:
            connects[0] += 1
            if connects[0] > 1:
                gate.wait(10)
            return notify._connect(watched.engine)

        listener = notify.ChangeListener(connect, seen.on_change, on_online=seen.on_online,
                                         check_s=3600, retry_s=0.05).start()
        try:
            seen.wait(lambda: len(seen.revisions) == 1, 5)
            pid = listener.backend_pid()
            assert pid is not None
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            seen.wait(lambda: seen.online[-1:] == [False], 5)
            # Written while nobody listens: its NOTIFY is lost for good.
            _save(writer, rater, outputs[0], status="done")
            written = team.change_revision(writer)
            assert written is not None and written > seen.revisions[-1]
            gate.set()
            seen.wait(lambda: seen.online[-1:] == [True] and len(seen.revisions) == 2, 5)
            # The look after reconnecting found it: a screen re-querying now shows it.
            assert seen.revisions[-1] == written
            assert team.team_progress(watched).raters[0].done == 1
        finally:
            gate.set()
            listener.stop()
            admin.dispose()


def test_a_rater_login_listens_and_its_saves_notify(roles: Team) -> None:
    seen = Recorder()
    fresh = sorted(roles.a_outputs - {int(str(o)) for o in _scalars(
        roles.admin, "SELECT output_id FROM judgment WHERE rater_id = :r", r=roles.a_id)})[0]
    with open_project(_password_url(roles.b_creds)) as lukas, \
            open_project(_password_url(roles.a_creds)) as amara:
        listener = team.watch_changes(lukas, seen.on_change, check_s=3600)
        assert listener is not None
        try:
            seen.wait(lambda: len(seen.revisions) == 1, 5)
            _save(amara, roles.a_id, fresh)
            seen.wait(lambda: len(seen.revisions) == 2, 1.0)
            assert seen.revisions[1] > seen.revisions[0]
        finally:
            listener.stop()
    # The hint carries a number only: what changed, Lukas still cannot read.
    assert _scalars(roles.b, "SELECT count(*) FROM judgment WHERE rater_id = :r",
                    r=roles.a_id) == [0]


def test_the_sequence_cannot_be_used_to_hide_changes(roles: Team) -> None:
    """A rater may draw numbers (every save does) but not reset the revision backwards."""
    with pytest.raises(sa.exc.ProgrammingError) as err, roles.a.begin() as conn:
        conn.execute(sa.text("SELECT setval('medreview_change_seq', 1)"))
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)


def test_a_read_only_project_listens_too(pg_url: str, tmp_path: Path) -> None:
    """A lead watching with --read-only (default_transaction_read_only=on) gets the hints."""
    rater, outputs = _graded_project(pg_url, tmp_path)
    seen = Recorder()
    with open_project(pg_url, read_only=True) as watched, open_project(pg_url) as writer:
        listener = team.watch_changes(watched, seen.on_change, check_s=3600)
        assert listener is not None
        try:
            seen.wait(lambda: len(seen.revisions) == 1, 5)
            _save(writer, rater, outputs[1])
            seen.wait(lambda: len(seen.revisions) == 2, 1.0)
        finally:
            listener.stop()


def test_imports_and_judge_runs_announce_themselves(pg_url: str, tmp_path: Path) -> None:
    """Writers do nothing for the hints: the server's triggers announce an import's commits
    and a judge run's judgments as they do a physician's save."""
    from medreview.judge.testing_server import FakeOpenAIServer
    from medreview.services.importing import import_file
    from medreview.services.judging import run_judge
    from tests.judge.conftest import build_project, fast_config

    build_project(pg_url).close()  # type: ignore[arg-type]  # a URL is a project too
    seen = Recorder()
    with open_project(pg_url) as watched, open_project(pg_url) as writer:
        listener = team.watch_changes(watched, seen.on_change, check_s=3600)
        assert listener is not None
        try:
            seen.wait(lambda: len(seen.revisions) == 1, 5)
            import_file(writer, _jsonl(tmp_path / "more.jsonl", "m", 3))
            seen.wait(lambda: len(seen.revisions) >= 2, 2.0)
            after_import = seen.revisions[-1]
            with FakeOpenAIServer() as server:
                summary = run_judge(writer, fast_config(server.url))
            assert summary.judged > 0
            final = team.change_revision(writer)
            assert final is not None and final > after_import
            # Every commit of the run announced: the listener reaches the last one.
            seen.wait(lambda: seen.revisions[-1] == final, 2.0)
        finally:
            listener.stop()
