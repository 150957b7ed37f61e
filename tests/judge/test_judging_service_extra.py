"""The screen-facing judge services: run listing, estimates, key lookup, live runs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from medreview.errors import JudgeError
from medreview.judge.privacy import store_api_key
from medreview.judge.testing_server import FakeOpenAIServer, prompt_id
from medreview.progress import CancelToken
from medreview.services.judging import (
    KEY_SOURCES,
    JudgeLive,
    api_key_source,
    consent_state,
    create_judge_run,
    estimate_judge_work,
    judge_run_failures,
    judge_run_info,
    list_judge_runs,
    plan_work,
    run_judge,
    run_judge_live,
)
from medreview.services.projects import set_consent
from medreview.storage.models import JudgeRunRow, OutputRow
from medreview.storage.project import Project
from tests.judge.conftest import fast_config

SECRET = "sk-extra-DO-NOT-LEAK-abcdef0123456789"


def _output_ids(project: Project) -> frozenset[int]:
    with project.read() as s:
        return frozenset(s.scalars(select(OutputRow.id)))


def _run_count(project: Project) -> int:
    with project.read() as s:
        return int(s.scalar(select(func.count()).select_from(JudgeRunRow)) or 0)


def test_live_run_knows_its_id_before_sending(project: Project,
                                              server: FakeOpenAIServer) -> None:
    updates: list[tuple[JudgeLive, int]] = []
    summary, final = run_judge_live(
        project, fast_config(server.url), on_update=lambda u: updates.append((u, server.count())),
        min_interval_s=0.0)
    first, sent_then = updates[0]
    assert first.info.status == "created" and first.total is None and sent_then == 0
    assert first.info.run_id == summary.run_id
    done = [u.info.n_done for u, _n in updates]
    assert done == sorted(done) and done[-1] == 18
    assert [u.done for u, _n in updates[1:]] == [*range(19), 18]  # "starting" first
    assert {u.total for u, _n in updates[1:]} == {18}
    assert final.status == "done" == summary.status
    assert (final.n_done, final.n_failed, final.n_requests) == (18, 0, server.count())
    assert final.prompt_tokens == summary.prompt_tokens > 0
    assert final.judged_outputs == _output_ids(project)
    assert final.rater_name == summary.rater_name and final.limit is None
    # Same recorded parameters as a run started by run_judge itself.
    plain = run_judge(project, fast_config(server.url))
    assert judge_run_info(project, plain.run_id).params == final.params


def test_live_updates_are_throttled(project: Project, server: FakeOpenAIServer) -> None:
    calls: list[JudgeLive] = []
    run_judge_live(project, fast_config(server.url), limit=2, on_update=calls.append,
                   min_interval_s=60.0)
    # created, the last item (done == total), the final state: nothing in between.
    assert len(calls) == 3 and calls[-1].info.n_done == 6 == calls[-1].total
    assert calls[-1].info.limit == 2 and calls[-1].message == "done"


def test_refused_runs_leave_no_row(project: Project, server: FakeOpenAIServer) -> None:
    remote = fast_config("https://judge.example.org/v1")
    with pytest.raises(JudgeError, match="consent"):
        create_judge_run(project, remote)
    set_consent(project, True, by="lead")
    with pytest.raises(JudgeError, match="OPENAI_API_KEY"):
        create_judge_run(project, remote)
    with pytest.raises(JudgeError, match="unknown template"):
        create_judge_run(project, fast_config(server.url), style="nope")
    assert _run_count(project) == 0 and server.count() == 0


def test_cancelled_live_run_resumes_without_resending(project: Project,
                                                      server: FakeOpenAIServer) -> None:
    server.delay_s = 0.02
    token = CancelToken()

    def stop_after_five(live: JudgeLive) -> None:
        if live.info.n_done >= 5:
            token.cancel()

    summary, final = run_judge_live(project, fast_config(server.url, concurrency=2),
                                    on_update=stop_after_five, token=token, min_interval_s=0.0)
    assert summary.status == final.status == "cancelled" and final.resumable
    assert 5 <= final.n_done < 18
    units = {u.key: prompt_id(list(u.task.messages)) for u in plan_work(project)}
    from medreview.storage.models import JudgeItemRow

    with project.read() as s:
        done_keys = {(o, k) for o, k in s.execute(select(
            JudgeItemRow.output_id, JudgeItemRow.item_key).where(
            JudgeItemRow.run_id == final.run_id, JudgeItemRow.status == "done"))}
    est = estimate_judge_work(project, fast_config(server.url), resume=final.run_id)
    assert est.already_done == len(done_keys) and est.to_send == 18 - len(done_keys)
    n_before = server.count()
    resumed, after = run_judge_live(project, fast_config(server.url), resume=final.run_id,
                                    on_update=lambda _i: None)
    assert resumed.run_id == final.run_id and after.status == "done" and after.n_done == 18
    resent = {r.prompt_id for r in server.requests[n_before:]}
    assert not resent & {units[k] for k in done_keys}
    assert len(resent) == 18 - len(done_keys)


def test_list_runs_and_failures(project: Project, server: FakeOpenAIServer) -> None:
    first = run_judge(project, fast_config(server.url), limit=1)
    server.sticky.append(("model-b answer to case 1", "malformed"))
    second = run_judge(project, fast_config(server.url, temperature=0.5))
    runs = list_judge_runs(project)
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert runs[0].status == "incomplete" and runs[0].resumable
    assert runs[1].status == "done" and not runs[1].resumable and runs[1].limit == 1
    assert runs[0].params["temperature"] == 0.5 and runs[0].n_failed == 3
    failures = judge_run_failures(project, second.run_id)
    assert len(failures) == 3 == second.failed
    assert {f.case_external_id for f in failures} == {"case-1"}
    assert all(f.reason.startswith("unparseable reply") and f.attempts >= 1 for f in failures)
    assert {f.item_key for f in failures} == {k for _o, k, _e in second.failures}
    assert judge_run_failures(project, first.run_id) == []
    with pytest.raises(JudgeError, match="no such judge run"):
        judge_run_info(project, 999)


def test_estimate_counts_items_cache_and_cost(project: Project,
                                              server: FakeOpenAIServer) -> None:
    priced = fast_config(server.url, price_prompt_per_mtok=2.0, price_completion_per_mtok=8.0,
                         max_tokens=100)
    est = estimate_judge_work(project, priced)
    assert (est.outputs, est.items, est.cached, est.already_done) == (6, 18, 0, 0)
    assert est.max_completion_tokens == 18 * 100
    assert est.cost_low_usd == pytest.approx(est.prompt_tokens * 2.0 / 1e6)
    assert est.cost_high_usd == pytest.approx(est.cost_low_usd + 1800 * 8.0 / 1e6)
    summary = run_judge(project, priced)
    # The fake server counts ~4 characters of the JSON messages per token: the same order.
    assert 0.5 < est.prompt_tokens / summary.prompt_tokens < 1.5
    again = estimate_judge_work(project, priced)
    assert (again.cached, again.to_send, again.prompt_tokens, again.cost_high_usd) == (
        18, 0, 0, 0.0)
    other = estimate_judge_work(project, fast_config(server.url, temperature=0.7), limit=1)
    assert (other.outputs, other.items, other.cached) == (1, 3, 0)


def test_key_source_follows_the_lookup_order(monkeypatch: pytest.MonkeyPatch,
                                             server: FakeOpenAIServer) -> None:
    url = "https://judge.example.org/v1"
    assert api_key_source(url, env_var="MY_KEY", keyring_service="medreview-judge") is None
    monkeypatch.setenv("MY_KEY", SECRET)
    assert api_key_source(url, env_var="MY_KEY", keyring_service="medreview-judge") == "env"
    assert api_key_source(url, env_var="OTHER", keyring_service="medreview-judge") is None
    store_api_key(url, SECRET, keyring_service="medreview-judge")
    found = api_key_source(url, env_var="OTHER", keyring_service="medreview-judge")
    assert found == "keyring" and found in KEY_SOURCES
    # Stored per host: another endpoint's key is not this one's.
    assert api_key_source(server.url, env_var="OTHER", keyring_service="medreview-judge") is None


def test_consent_state(project: Project) -> None:
    assert consent_state(project).data_may_leave is False
    set_consent(project, True, by="Dr. Lead")
    state = consent_state(project)
    assert state.data_may_leave and state.by == "Dr. Lead" and state.at is not None
