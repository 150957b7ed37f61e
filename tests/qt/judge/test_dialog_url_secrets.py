"""The judge dialog refuses an endpoint URL carrying a key, says why without showing the key,
and sends nothing; a parameter a strict server refuses is reported and the run completes; a
redirect to another host ends the run with one line and reaches nothing."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit

from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judging import list_judge_runs
from medreview.storage.project import Project
from tests.judge.redirect_servers import CountingServer, RedirectServer
from tests.qt.judge.helpers import all_text, configure

KEY = "3f9a0c1b2d4e5f60718293a4b5c6d7e8"


def test_a_key_in_the_url_is_refused_on_screen(qtbot, make_dialog, project: Project,  # type: ignore[no-untyped-def]
                                                 server: FakeOpenAIServer) -> None:
    h = make_dialog()
    d = h.dialog
    configure(d, f"http://apikey:{KEY}@127.0.0.1:{server.port}/v1?api-key={KEY}")
    assert not d.start()
    problems = d.form.problems()
    assert len(problems) == 1 and "keyring" in problems[0] and KEY not in problems[0]
    message = d.panel.message.text()
    assert "Cannot start" in message and "keyring" in message
    assert KEY not in message
    # Everything on screen except the field the user typed the URL into.
    d.form.url.setText("")
    shown = all_text(d)
    assert KEY not in shown
    assert server.count() == 0 and list_judge_runs(project) == []
    assert all(KEY not in e.text() for e in d.findChildren(QLineEdit))
    d.shutdown()
    h.db.shutdown()


def test_a_refused_parameter_is_reported_and_the_run_completes(  # type: ignore[no-untyped-def]
        qtbot, make_dialog, project: Project) -> None:
    with FakeOpenAIServer(reject={"logprobs": "litellm"}) as strict:
        h = make_dialog()
        d = h.dialog
        configure(d, strict.url, concurrency=1)
        finished: list[object] = []
        d.sig_finished.connect(finished.append)
        assert d.start()
        qtbot.waitUntil(lambda: bool(finished), timeout=20000)
        assert strict.count("reject:logprobs") == 1 and strict.count() == 19
    message = d.panel.message.text()
    assert "Every item was judged" in message and "refused logprobs" in message
    run = list_judge_runs(project)[0]
    assert run.status == "done" and run.params["dropped_params"] == ["logprobs"]
    d.shutdown()
    h.db.shutdown()


def test_a_redirect_elsewhere_ends_the_run_with_one_line_on_screen(  # type: ignore[no-untyped-def]
        qtbot, make_dialog, project: Project) -> None:
    with CountingServer() as target, RedirectServer(f"http://2130706433:{target.port}") as hop:
        h = make_dialog()
        d = h.dialog
        configure(d, f"http://127.0.0.1:{hop.port}/v1", concurrency=1)
        assert d.start()
        qtbot.waitUntil(lambda: bool(d.last_error), timeout=20000)
        assert target.hits == [] and hop.seen >= 1
    assert "refused: the judge only talks to the configured endpoint" in d.last_error
    assert "\n" not in d.last_error and "refused" in d.panel.message.text()
    assert list_judge_runs(project)[0].resumable
    d.shutdown()
    h.db.shutdown()
