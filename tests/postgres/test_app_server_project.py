"""The app on a server project (pytest-qt, real PostgreSQL, real rater logins).

Project → Open server project… with the URL `medreview team add-rater` printed: a wrong
password, an unreachable host, a database that is no medreview project, a login without
permission and a database at another schema each come back as one line in the dialog; the
right password opens the project as the rater, who sees only their assigned items; the
password reaches the keyring only when asked, and never a log, the settings, the title or the
recent list. Then the server goes away mid-grading (a real TCP forwarder, cut and restored):
every answer lands exactly once.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
import sqlalchemy as sa
from alembic import command
from keyring.backend import KeyringBackend
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from medreview.paths import user_config_dir
from medreview.qt.main_window import MainWindow
from medreview.qt.server_open_dialog import ServerOpenDialog
from medreview.qt.settings import UiSettings
from medreview.rubrics.templates import load_template
from medreview.services.grading_session import UNREACHABLE
from medreview.services.projects import add_form, create_project
from medreview.storage import schema, team
from medreview.storage.ingest import ingest
from tests.postgres.tcp_proxy import TcpProxy
from tests.storage.helpers import case, located, output

SECRET_MODEL = "secret-model-x"
AMARA, LUKAS = "Dr. Amara Okafor", "Dr. Lukas Brandt"


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def full_log(tmp_path: Path) -> Iterator[Path]:
    """Everything logged at any level, to a file the test greps."""
    path = tmp_path / "everything.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@dataclass
class Crew:
    admin_url: str
    amara: team.Credentials
    lukas: team.Credentials
    amara_outputs: set[int]
    lukas_outputs: set[int]


@pytest.fixture
def crew(pg_url: str) -> Iterator[Crew]:
    """A server project (three cases, two answers each, the model named), a lead, and two
    rater logins each assigned their own outputs."""
    with create_project(pg_url, "ward 7") as project:
        add_form(project, load_template("healthbench"))
        records: list[object] = []
        for n in range(3):
            records += [case(f"c{n}"), output(f"c{n}", SECRET_MODEL, f"Answer {n}."),
                        output(f"c{n}", "other-model", f"Other answer {n}.")]
        ingest(project, located(records), source="t", importer="t")
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    lead_creds = team.add_lead(admin, f"lead_{uuid.uuid4().hex[:8]}")
    lead = sa.create_engine(sa.make_url(pg_url).set(username=lead_creds.role,
                                                     password=lead_creds.password),
                            poolclass=sa.NullPool)
    amara, lukas = team.add_rater(lead, AMARA), team.add_rater(lead, LUKAS)
    with admin.connect() as conn:
        ids = {str(n): int(i) for n, i in conn.execute(sa.text("SELECT name, id FROM rater"))}
        outs = [int(o) for o in conn.execute(sa.text("SELECT id FROM output ORDER BY id"))
                .scalars()]
    mine, theirs = set(outs[:4]), set(outs[4:])
    with lead.begin() as conn:
        for rater, chosen in ((ids[AMARA], mine), (ids[LUKAS], theirs)):
            for pos, out in enumerate(sorted(chosen)):
                conn.execute(sa.text(
                    "INSERT INTO assignment (rater_id, output_id, position, blind_label, "
                    "created_at) VALUES (:r, :o, :p, 'Response A', now())"),
                    {"r": rater, "o": out, "p": pos})
    lead.dispose()
    admin.dispose()
    yield Crew(pg_url, amara, lukas, mine, theirs)


def _window(qtbot: QtBot) -> MainWindow:
    window = MainWindow(UiSettings())
    qtbot.addWidget(window)
    window.show()
    return window


def _try(qtbot: QtBot, dialog: ServerOpenDialog, url: str, password: str,
         remember: bool = False) -> None:
    dialog.url.setText(url)
    dialog.password.setText(password)
    dialog.remember.setChecked(remember)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()


def _refusal(qtbot: QtBot, dialog: ServerOpenDialog, url: str, password: str) -> str:
    _try(qtbot, dialog, url, password)
    qtbot.waitUntil(lambda: dialog.error.text() != "Connecting…", timeout=20000)
    line = dialog.error.text()
    assert dialog.isVisible() and dialog.url.isEnabled()  # fix it in place
    assert "\n" not in line and "Traceback" not in line
    assert password not in line
    return line


def _open_dialogs(window: MainWindow) -> list[ServerOpenDialog]:
    return [w for w in window.findChildren(ServerOpenDialog) if w.isVisible()]


def _files_text(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_port(url: str, port: int) -> str:
    return sa.make_url(url).set(port=port).render_as_string(hide_password=True)


def test_open_a_server_project_as_a_rater_and_never_show_the_password(
        qtbot: QtBot, crew: Crew, memory_keyring: MemoryKeyring, full_log: Path,
        tmp_path: Path) -> None:
    window = _window(qtbot)
    dialog = window.open_server_dialog()
    wrong = "Wrong-" + uuid.uuid4().hex
    # What `medreview team add-rater` printed, pasted with its label.
    pasted = f"  project:  {crew.amara.url}"
    line = _refusal(qtbot, dialog, pasted, wrong)
    assert "password authentication failed" in line, line
    assert window.project is None
    _try(qtbot, dialog, pasted, crew.amara.password, remember=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=20000)
    assert _open_dialogs(window) == []  # accepted and gone
    # The rater's login sees only themselves and their assigned items, the model blank.
    assert [r.name for r in window.raters] == [AMARA]
    # ... and is not offered "New rater…" (the server would refuse a physician's login).
    assert [window.rater_box.itemText(i) for i in range(window.rater_box.count())] == [AMARA]
    qtbot.waitUntil(lambda: window.queue.model.rowCount() == len(crew.amara_outputs),
                    timeout=20000)
    rows = window.queue.model.rows
    assert {r.output_id for r in rows} == crew.amara_outputs
    assert all(SECRET_MODEL not in r.model for r in rows)
    qtbot.waitUntil(lambda: window.controller is not None and window.controller.item is not None,
                    timeout=20000)
    assert window.controller is not None and window.controller.item is not None
    assert SECRET_MODEL not in window.controller.item.shown_model
    shown = crew.amara.url
    assert window.windowTitle() == f"medreview — {shown}"
    assert window.settings.recent_projects() == [shown]
    assert window.welcome.recent.item(0).toolTip() == shown
    # Kept in the keyring because "remember" was ticked, under the login's name.
    assert memory_keyring.items == {("medreview-postgres", crew.amara.keyring_user):
                                    crew.amara.password}
    window.close()  # the settings written, the project closed
    # Reopened from the recent list: the keyring's password, no dialog.
    window = _window(qtbot)
    window.open_project(window.settings.recent_projects()[0])
    qtbot.waitUntil(lambda: window.project is not None, timeout=20000)
    window.close()
    home_files = _files_text(Path(user_config_dir()).parent)
    logged = full_log.read_bytes()
    assert logged  # the test would prove nothing with an empty log
    for secret in (crew.amara.password, wrong):
        assert secret.encode() not in home_files
        assert secret.encode() not in logged
        assert secret not in window.windowTitle()


def test_a_password_not_asked_to_be_remembered_is_not_kept(
        qtbot: QtBot, crew: Crew, memory_keyring: MemoryKeyring) -> None:
    window = _window(qtbot)
    dialog = window.open_server_dialog()
    _try(qtbot, dialog, crew.lukas.url, crew.lukas.password, remember=False)
    qtbot.waitUntil(lambda: window.project is not None, timeout=20000)
    assert [r.name for r in window.raters] == [LUKAS]
    assert memory_keyring.items == {}
    window.close()
    # Without a password anywhere, the recent entry asks again, saying why, in one line.
    window = _window(qtbot)
    window.open_project(crew.lukas.url)
    qtbot.waitUntil(lambda: bool(_open_dialogs(window)), timeout=20000)
    asked = _open_dialogs(window)[0]
    assert asked.url.text() == crew.lukas.url and asked.error.isVisible()
    assert "\n" not in asked.error.text()
    asked.reject()
    window.close()


def test_every_refusal_is_one_line_in_the_dialog(
        qtbot: QtBot, crew: Crew, memory_keyring: MemoryKeyring) -> None:
    admin_url = sa.make_url(crew.admin_url)
    admin_pw = str(admin_url.password)
    window = _window(qtbot)
    dialog = window.open_server_dialog()
    # Nobody listens there.
    line = _refusal(qtbot, dialog, _with_port(crew.amara.url, _free_port()),
                    crew.amara.password)
    assert line.startswith("postgresql://") and "cannot open the database" in line, line
    # A database that holds no medreview project (the server's own "postgres").
    plain = admin_url.set(drivername="postgresql", database="postgres", password=None)
    line = _refusal(qtbot, dialog, plain.render_as_string(hide_password=True), admin_pw)
    assert "holds no medreview project" in line, line
    # A login the server knows but that may not connect to this project.
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    stranger_pw = uuid.uuid4().hex
    admin = sa.create_engine(crew.admin_url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {stranger} LOGIN PASSWORD '{stranger_pw}'"))
    url = admin_url.set(drivername="postgresql", username=stranger, password=None)
    line = _refusal(qtbot, dialog, url.render_as_string(hide_password=True), stranger_pw)
    assert "permission denied" in line, line
    # A project at another schema version: who migrates it, and how.
    old_db = f"mr_old_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(crew.admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{old_db}"'))
    old_url = admin_url.set(database=old_db).render_as_string(hide_password=False)
    try:
        create_project(old_url, "old").close()
        old = sa.create_engine(old_url, poolclass=sa.NullPool)
        cfg = schema.alembic_config()
        with old.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        old.dispose()
        shown = admin_url.set(drivername="postgresql", database=old_db, password=None)
        line = _refusal(qtbot, dialog, shown.render_as_string(hide_password=True), admin_pw)
        assert "nothing can be saved until the study lead migrates it with `medreview " \
               "migrate postgresql://" in line, line
    finally:
        with sa.create_engine(crew.admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{old_db}" WITH (FORCE)'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {stranger}"))
    # Not a URL at all: said before anything connects.
    dialog.url.setText("/home/me/project")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()
    assert dialog.error.text().startswith("not a server project URL")
    assert window.project is None and memory_keyring.items == {}
    dialog.reject()
    window.close()


def _comments(admin_url: str, role: str) -> dict[int, list[str]]:
    engine = sa.create_engine(admin_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT j.output_id, r.answers FROM judgment_revision r JOIN judgment j ON "
            "j.id = r.judgment_id JOIN rater ON rater.id = j.rater_id WHERE rater.db_role = :r "
            "ORDER BY j.output_id, r.revision_no"), {"r": role}).all()
    engine.dispose()
    out: dict[int, list[str]] = {}
    for output_id, answers in rows:
        answers = answers if isinstance(answers, dict) else json.loads(answers)
        out.setdefault(int(output_id), []).append(str(answers.get("overall_comment")))
    return out


def test_the_server_goes_away_mid_grading_and_every_answer_lands_once(
        qtbot: QtBot, crew: Crew, memory_keyring: MemoryKeyring) -> None:
    url = sa.make_url(crew.admin_url)
    proxy = TcpProxy(str(url.host), int(url.port or 5432)).start()
    try:
        window = _window(qtbot)
        dialog = window.open_server_dialog()
        _try(qtbot, dialog, _with_port(crew.amara.url, proxy.port), crew.amara.password)
        qtbot.waitUntil(lambda: window.controller is not None
                        and window.controller.item is not None, timeout=20000)
        c = window.controller
        assert c is not None and c.session.spool is not None
        order = [window.queue.model.row_at(i).output_id for i in range(3)]
        assert c.item is not None and c.item.output_id == order[0]

        def grade(output_id: int, comment: str) -> None:
            qtbot.waitUntil(lambda: c.item is not None and c.item.output_id == output_id,
                            timeout=20000)
            c.set_answer("overall_comment", comment)
            c.save("done")

        grade(order[0], "one")
        qtbot.waitUntil(lambda: window.save_label.text().startswith("Saved"), timeout=20000)
        # The next items are fetched ahead on a server project.
        qtbot.waitUntil(lambda: {order[1], order[2]} <= set(c.session._cache), timeout=20000)
        proxy.cut()
        window.open_item(order[1])
        grade(order[1], "two")
        qtbot.waitUntil(lambda: window.save_label.text() == UNREACHABLE, timeout=20000)
        window.open_item(order[2])
        grade(order[2], "three")
        assert window.save_label.text() == UNREACHABLE
        assert c.session.unsaved
        qtbot.wait(1500)  # a retry or two find it still gone
        assert window.save_label.text() == UNREACHABLE
        proxy.restore()
        qtbot.waitUntil(lambda: not c.session.unsaved and not c.session.unreachable,
                        timeout=30000)
        qtbot.waitUntil(lambda: window.save_label.text().startswith("Saved"), timeout=20000)
        window.close()
    finally:
        proxy.close()
    assert _comments(crew.admin_url, crew.amara.role) == {
        order[0]: ["one"], order[1]: ["two"], order[2]: ["three"]}


def test_quitting_while_the_server_is_away_keeps_the_answer_for_the_next_opening(
        qtbot: QtBot, crew: Crew, memory_keyring: MemoryKeyring) -> None:
    url = sa.make_url(crew.admin_url)
    proxy = TcpProxy(str(url.host), int(url.port or 5432)).start()
    through = _with_port(crew.amara.url, proxy.port)
    try:
        window = _window(qtbot)
        _try(qtbot, window.open_server_dialog(), through, crew.amara.password, remember=True)
        qtbot.waitUntil(lambda: window.controller is not None
                        and window.controller.item is not None, timeout=20000)
        c = window.controller
        assert c is not None and c.item is not None
        first = c.item.output_id
        proxy.cut()
        c.set_answer("overall_comment", "kept across the quit")
        c.save("done")
        qtbot.waitUntil(lambda: window.save_label.text() == UNREACHABLE, timeout=20000)
        window.close()  # quit with the server away
        assert _comments(crew.admin_url, crew.amara.role) == {}
        proxy.restore()
        window = _window(qtbot)
        window.open_project(window.settings.recent_projects()[0])
        qtbot.waitUntil(lambda: window.controller is not None
                        and window.controller.item is not None, timeout=20000)
        qtbot.waitUntil(lambda: bool(_comments(crew.admin_url, crew.amara.role)),
                        timeout=20000)
        window.close()
    finally:
        proxy.close()
    assert _comments(crew.admin_url, crew.amara.role) == {first: ["kept across the quit"]}
