"""On a server project, with real logins: a rater's login reads no other rater's comment on an
item, before or after submitting (the server refuses the rows; the comment rule is then met by
row-level security), while the lead's screen reads them all with names; a rater's done save
does not fail for want of rights to escalate, and the lead's run escalates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from medreview.demo import build_demo_project
from medreview.domain.comments import HIDDEN_UNTIL_SUBMIT
from medreview.domain.escalation import EscalationRules, SevereRule
from medreview.domain.judgment import JudgmentDraft
from medreview.services import escalation, grading
from medreview.services.comments import item_comments
from medreview.services.projects import open_project
from medreview.storage import schema, team
from medreview.storage.copy import copy_database

AMARA, LUKAS = "Dr. Amara Okafor", "Dr. Lukas Brandt"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo") / "project.sqlite"


def _url(creds: team.Credentials) -> str:
    return (sa.make_url(creds.url).set(password=creds.password)
            .render_as_string(hide_password=False))


@pytest.fixture
def logins(demo_db: Path, pg_url: str) -> Iterator[tuple[str, str, int, int]]:
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    schema.upgrade(admin)
    copy_database(sa.create_engine(f"sqlite:///{demo_db}"), admin)
    lead_creds = team.add_lead(admin, f"lead_{uuid.uuid4().hex[:8]}")
    lead = sa.create_engine(sa.make_url(pg_url).set(username=lead_creds.role,
                                                    password=lead_creds.password),
                            poolclass=sa.NullPool)
    amara = team.add_rater(lead, AMARA)
    team.add_rater(lead, LUKAS)
    with admin.connect() as conn:
        ids = dict(conn.execute(sa.text("SELECT name, id FROM rater")).all())
        # An output both physicians finished (the demo's ratings) with Lukas's rationale.
        oid = conn.execute(sa.text(
            "SELECT a.output_id FROM judgment a JOIN judgment b ON a.output_id = b.output_id "
            "WHERE a.rater_id = :a AND b.rater_id = :b AND b.status = 'done' "
            "ORDER BY a.output_id LIMIT 1"), {"a": ids[AMARA], "b": ids[LUKAS]}).scalar_one()
    with lead.begin() as conn:  # assigned to Amara, so her login may grade it
        conn.execute(sa.text("INSERT INTO assignment (rater_id, output_id, position, "
                             "blind_label, created_at) VALUES (:r, :o, 0, 'Response A', now())"),
                     {"r": ids[AMARA], "o": oid})
    yield _url(lead_creds), _url(amara), int(ids[AMARA]), int(oid)
    lead.dispose()
    admin.dispose()


def test_a_rater_login_never_reads_another_raters_comment(
        logins: tuple[str, str, int, int]) -> None:
    lead_url, amara_url, amara_id, oid = logins
    with open_project(lead_url) as project:
        everyone = item_comments(project, oid, None)
        assert LUKAS in {c.label for c in everyone.comments}  # the lead's screen: names
        escalation.set_rules(project, EscalationRules(SevereRule("minor"), 0.0,
                                                      ("Dr. Senior",)))
    with open_project(amara_url) as project:
        # Her judgment is a draft again: hidden by the rule.
        grading.save_revision(project, amara_id, oid, JudgmentDraft(rationale="mine"),
                              status="draft")
        view = item_comments(project, oid, amara_id)
        assert view.comments == () and view.hidden == HIDDEN_UNTIL_SUBMIT
        # Submitted: the rule would show the others', the server shows her none of them.
        result = grading.save_revision(project, amara_id, oid,
                                       JudgmentDraft(rationale="mine, done"), status="done")
        assert result.revision_no is not None  # the escalation hook did not fail the save
        view = item_comments(project, oid, amara_id)
        assert view.comments == () and view.hidden == ""
    with open_project(lead_url) as project:
        assert escalation.escalated_items(project) == []  # her login could not escalate
        report, _changes = escalation.run_escalation(project)
        assert report.escalated and {p.senior for p in report.escalated} == {"Dr. Senior"}
        assert escalation.escalated_items(project)


def test_the_leads_watcher_escalates_what_a_raters_login_finished(
        logins: tuple[str, str, int, int], tmp_path: Path) -> None:
    """A physician's login cannot escalate; `medreview escalate --watch` (the lead's login)
    hears her save and applies the rules within moments, once."""
    import json
    import threading
    import time

    from medreview.domain.judgment import Annotation
    from medreview.services.importing import import_file

    lead_url, amara_url, amara_id, _oid = logins
    new_case = tmp_path / "new.jsonl"
    new_case.write_text(json.dumps({"case_id": "watch-1", "prompt": "New case?",
                                    "model": "m1", "output": "An answer."}) + "\n",
                        encoding="utf-8")
    with open_project(lead_url) as project:
        escalation.set_rules(project, EscalationRules(SevereRule("major"), None,
                                                      ("Dr. Senior",)))
        escalation.run_escalation(project)  # the demo's own major errors, caught up first
        import_file(project, new_case)
        with project.engine.begin() as conn:
            oid = conn.execute(sa.text("SELECT o.id FROM output o JOIN \"case\" c ON "
                                       "c.id = o.case_id WHERE c.external_id = 'watch-1'")
                               ).scalar_one()
            conn.execute(sa.text("INSERT INTO assignment (rater_id, output_id, position, "
                                 "blind_label, created_at) VALUES (:r, :o, 1, 'Response A', "
                                 "now())"), {"r": amara_id, "o": oid})
    reports: list[escalation.EscalationReport] = []
    stop = threading.Event()

    def escalated() -> list[int]:
        return [p.output_id for r in reports for p in r.escalated]

    with open_project(lead_url) as watched:
        watcher = threading.Thread(target=escalation.watch_escalation, args=(
            watched, stop, reports.append), kwargs={"check_s": 60.0}, daemon=True)
        watcher.start()
        try:
            time.sleep(1.0)  # its first run (on connecting) finds nothing new
            assert escalated() == []
            with open_project(amara_url) as project:
                result = grading.save_revision(project, amara_id, oid, JudgmentDraft(
                    answers={"overall": 1}, annotations=(Annotation(
                        "errors", "incorrect_recommendation", "major"),)), status="done")
                assert result.revision_no is not None  # her save stands
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and oid not in escalated():
                time.sleep(0.1)
            time.sleep(1.0)  # its own write's hint: one more, quiet run
        finally:
            stop.set()
            watcher.join(10)
        assert not watcher.is_alive()
        assert escalated() == [oid]
        items = [i for i in escalation.escalated_items(watched) if i.output_id == oid]
        assert [i.senior for i in items] == ["Dr. Senior"]


def test_watch_is_refused_on_a_folder_project(tmp_path: Path) -> None:
    import threading

    from medreview.errors import InputError
    from medreview.services.projects import create_project

    with create_project(tmp_path / "p", "folder") as project, \
            pytest.raises(InputError, match="server projects"):
        escalation.watch_escalation(project, threading.Event(), lambda _r: None)
