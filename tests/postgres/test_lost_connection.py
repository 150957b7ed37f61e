"""A lost connection never loses a draft (Qt-free): GradingSession + storage on a real server,
reached through a real TCP forwarder (tests/postgres/tcp_proxy.py) that the test cuts.

The runner runs each service call at once on the test's thread (as the one database thread
would, in order); the retry delays are a manual clock. Everything else is real: the server,
its connections dropping, the spool file under MEDREVIEW_HOME.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from medreview.rubrics.templates import load_template
from medreview.services import grading
from medreview.services.draft_spool import read_spool, spool_path
from medreview.services.grading_session import UNREACHABLE, GradingSession, SessionListener
from medreview.services.projects import Project, add_form, add_rater, create_project, open_project
from medreview.storage.ingest import ingest
from tests.postgres.tcp_proxy import TcpProxy
from tests.storage.helpers import case, located, output


class Clock:
    """``call_later`` timers that fire when the test advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[list[Any]] = []  # [due, fn, cancelled]

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Any:
        timer = [self.now + seconds, fn, False]
        self.timers.append(timer)

        class Handle:
            def cancel(self) -> None:
                timer[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in sorted(self.timers, key=lambda t: t[0]):
            if timer[0] <= self.now and not timer[2]:
                timer[2] = True
                timer[1]()

    def pending(self) -> list[float]:
        return [t[0] - self.now for t in self.timers if not t[2]]


class Runner:
    """The database thread, by hand: calls wait in order until ``drain()`` runs them and
    delivers each answer, as the main thread would receive it."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[[], Any], Callable[[Any], None],
                               Callable[[BaseException], None]]] = []

    def __call__(self, call: Callable[[], Any], ok: Callable[[Any], None],
                 failed: Callable[[BaseException], None]) -> cf.Future[Any]:
        self.queue.append((call, ok, failed))
        return cf.Future()

    def drain(self) -> None:
        while self.queue:
            call, ok, failed = self.queue.pop(0)
            try:
                value = call()
            except Exception as exc:
                failed(exc)
            else:
                ok(value)


class Heard(SessionListener):
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []

    def save_state(self, state: str, message: str) -> None:
        self.states.append((state, message))


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    url = sa.make_url(pg_url)
    p = TcpProxy(str(url.host), int(url.port or 5432)).start()
    yield p
    p.close()


@pytest.fixture
def served(pg_url: str) -> tuple[int, list[int]]:
    """A server project with five outputs and one physician: (rater id, output ids)."""
    with create_project(pg_url, "ward 7") as project:
        add_form(project, load_template("healthbench"))
        records: list[object] = []
        for n in range(5):
            records += [case(f"c{n}"), output(f"c{n}", "m1", f"Answer {n}.")]
        ingest(project, located(records), source="t", importer="t")
        rater = add_rater(project, "Dr A")
        outputs = [r.output_id for r in grading.load_queue(project, rater.id)]
    return rater.id, outputs


RUN = Runner()


def _session(project: Project, rater_id: int, clock: Clock, heard: Heard) -> GradingSession:
    RUN.queue.clear()
    return GradingSession(project, rater_id, RUN, clock, listener=heard)


def _grade(session: GradingSession, output_id: int, comment: str) -> None:
    session.open_item(output_id)
    RUN.drain()
    assert session.item is not None and session.item.output_id == output_id
    session.set_answer("overall_comment", comment)
    session.save("done")
    RUN.drain()


def _revisions(pg_url: str, rater_id: int) -> dict[int, list[str]]:
    """Per output, the comments of this rater's revisions, read directly (no proxy)."""
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT j.output_id, r.answers FROM judgment_revision r JOIN judgment j "
            "ON j.id = r.judgment_id WHERE j.rater_id = :r ORDER BY j.output_id, r.revision_no"),
            {"r": rater_id}).all()
    engine.dispose()
    out: dict[int, list[str]] = {}
    for output_id, answers in rows:
        answers = answers if isinstance(answers, dict) else json.loads(answers)
        out.setdefault(int(output_id), []).append(str(answers.get("overall_comment")))
    return out


def test_cut_mid_grading_two_more_items_then_every_answer_lands_once(
        pg_url: str, proxy: TcpProxy, served: tuple[int, list[int]]) -> None:
    rater_id, outs = served
    clock, heard = Clock(), Heard()
    with open_project(proxy.url(pg_url)) as project:
        session = _session(project, rater_id, clock, heard)
        assert session.spool is not None  # a server project keeps its saves on this disk
        _grade(session, outs[0], "first")
        session.preload(outs[1])  # the app fetches the next items ahead, as here
        session.preload(outs[2])
        RUN.drain()
        proxy.cut()
        _grade(session, outs[1], "second")  # its save finds the server gone
        assert session.unreachable and heard.states[-1] == ("error", UNREACHABLE)
        _grade(session, outs[2], "third")  # held, not sent: the retry timer sends it
        session.set_answer("overall_comment", "third, edited")
        session.save("done")
        RUN.drain()
        assert heard.states[-1] == ("error", UNREACHABLE)
        # Kept on this disk (a crash now loses nothing), the newest draft of each item.
        assert session.spool.flush()
        kept, problems = read_spool(spool_path(project, rater_id))
        assert problems == []
        assert {s.output_id: s.draft.answers["overall_comment"] for s in kept} == {
            outs[1]: "second", outs[2]: "third, edited"}
        clock.advance(1.0)  # first retry: still cut; the next one waits twice as long
        RUN.drain()
        assert session.unreachable and clock.pending() == [2.0]
        proxy.restore()
        clock.advance(2.0)
        RUN.drain()
        assert not session.unreachable and not session.unsaved
        assert heard.states[-1][0] == "saved"
        assert session.spool.flush() and not spool_path(project, rater_id).exists()
        session.close()
    assert _revisions(pg_url, rater_id) == {outs[0]: ["first"], outs[1]: ["second"],
                                             outs[2]: ["third, edited"]}


def test_a_commit_whose_answer_was_lost_is_not_written_twice(
        pg_url: str, proxy: TcpProxy, served: tuple[int, list[int]]) -> None:
    rater_id, outs = served
    clock, heard = Clock(), Heard()
    with open_project(proxy.url(pg_url)) as project:
        session = _session(project, rater_id, clock, heard)
        proxy.lose_next_commit_reply()
        _grade(session, outs[0], "landed, but nobody was told")
        assert proxy.commits_lost == 1
        assert session.unreachable  # for all the app knows, it did not land
        assert _revisions(pg_url, rater_id) == {outs[0]: ["landed, but nobody was told"]}
        clock.advance(1.0)  # sent again with the same uid: recognised, nothing added
        RUN.drain()
        assert not session.unreachable and not session.unsaved
        assert session.revision_no == 1
        session.close()
    assert _revisions(pg_url, rater_id) == {outs[0]: ["landed, but nobody was told"]}


def test_kept_drafts_are_saved_on_the_next_opening_once(
        pg_url: str, proxy: TcpProxy, served: tuple[int, list[int]]) -> None:
    """The app quits (or crashes) while the server is away: the next opening saves what the
    spool kept, and a save whose COMMIT had landed is not written a second time."""
    rater_id, outs = served
    heard = Heard()
    with open_project(proxy.url(pg_url)) as project:
        session = _session(project, rater_id, Clock(), heard)
        session.preload(outs[1])
        RUN.drain()
        proxy.lose_next_commit_reply()
        _grade(session, outs[0], "landed before the quit")
        proxy.cut()
        _grade(session, outs[1], "never reached the server")
        session.close()  # quit with the server away: no retry ran
        path = spool_path(project, rater_id)
    assert len(read_spool(path)[0]) == 2
    proxy.restore()
    heard = Heard()
    with open_project(proxy.url(pg_url)) as project:
        session = _session(project, rater_id, Clock(), heard)
        assert session.resume_kept() == 2
        RUN.drain()
        assert heard.states[-1] == ("saved", "Saved the answers kept from an earlier session")
        session.close()
    assert not path.exists()
    assert _revisions(pg_url, rater_id) == {outs[0]: ["landed before the quit"],
                                             outs[1]: ["never reached the server"]}


def test_a_damaged_spool_file_is_named_in_one_line_and_not_sent(
        pg_url: str, served: tuple[int, list[int]], tmp_path: Path) -> None:
    rater_id, outs = served
    with open_project(pg_url) as project:
        path = spool_path(project, rater_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        good = {"output_id": outs[0], "uid": "a" * 32, "status": "done",
                "draft": {"answers": {"overall_comment": "kept"}}}
        bad = {"output_id": -1, "uid": "../../x", "status": "done", "draft": {}}
        path.write_text(json.dumps({"format": "medreview-draft-spool", "version": 1,
                                    "saves": [bad, good, "x"]}))
        kept, problems = read_spool(path)
        assert [s.output_id for s in kept] == [outs[0]]
        assert len(problems) == 2 and all(p.count("\n") == 0 for p in problems)
        session = _session(project, rater_id, Clock(), Heard())
        assert session.resume_kept() == 1
        RUN.drain()
        session.close()
        path.write_bytes(b"\x00not json")
        assert read_spool(path)[0] == [] and "damaged" in read_spool(path)[1][0]
    assert _revisions(pg_url, rater_id) == {outs[0]: ["kept"]}


def test_a_dead_link_is_noticed_by_the_driver_not_after_minutes(
        pg_url: str, served: tuple[int, list[int]]) -> None:
    """libpq's keepalives and TCP user timeout are on every server connection (a link that
    dies without a reset fails a save in ~30 s, which is then kept and retried); a URL's own
    value wins."""
    own = sa.make_url(pg_url).update_query_dict({"keepalives_idle": "99"})
    for url, idle in ((pg_url, "10"), (own.render_as_string(hide_password=False), "99")):
        with open_project(url) as project, project.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            params = dbapi.info.get_parameters()  # type: ignore[attr-defined]
            assert params["keepalives"] == "1" and params["keepalives_idle"] == idle
            assert params["tcp_user_timeout"] == "30000"
