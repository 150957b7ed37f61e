"""storage.judge_runs: runs, the item ledger and the reply cache as plain values; one
transaction per recorded item, with the judge's revision once an output's items are in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from medreview.errors import JudgeError
from medreview.rubrics.templates import load_template
from medreview.storage.forms import register_form
from medreview.storage.ingest import ingest
from medreview.storage.judge_runs import (
    CACHE_CHUNK,
    ItemResult,
    JudgeRunInfo,
    LedgerEntry,
    cached_keys,
    cached_reply,
    close_run,
    consent_of,
    create_run,
    done_item_keys,
    judge_rater_name,
    judge_revision_content,
    list_runs,
    plan_inputs,
    record_item,
    resume_run,
    run_failures,
    run_info,
    run_rater,
)
from medreview.storage.models import (
    AttachmentRow,
    JudgeCacheRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
)
from medreview.storage.project import Project, create_project
from tests.storage.helpers import case, located, output
from tests.storage.study_helpers import assert_plain

RUN = {"model": "judge-x", "base_url": "http://127.0.0.1:9/v1", "template_key": "auto",
       "template_version": 1, "template_hash": "h" * 64, "params": {"limit": None},
       "images": False}


def _project(tmp_path: Path, *, rubric: bool = True) -> Project:
    project = create_project(tmp_path / "p")
    if rubric:
        with project.transaction() as s:
            register_form(s, load_template("healthbench"))
    ingest(project, located([
        case("c1", criteria=2), output("c1", "m-a", "A1"), output("c1", "m-b", "B1"),
        case("c2", criteria=1), output("c2", "m-a", "A2"),
    ]), source="t", importer="test")
    return project


def _outputs(project: Project) -> list[int]:
    with project.read() as s:
        return list(s.scalars(select(OutputRow.id).order_by(OutputRow.case_id, OutputRow.id)))


def _done(output_id: int, key: str, answers: dict[str, object], **kw: object) -> ItemResult:
    result = {"answers": answers, "explanations": {q: f"why {q}" for q in answers},
              "confidence": dict.fromkeys(answers, 0.5)}
    return ItemResult(output_id=output_id, item_key=key, request_hash=f"rq-{output_id}-{key}",
                      status="done", result=result, cache_key=f"ck-{output_id}-{key}",
                      **kw)  # type: ignore[arg-type]


def test_a_run_needs_a_rubric(tmp_path: Path) -> None:
    with _project(tmp_path, rubric=False) as project:
        assert create_run(project, **RUN) is None  # type: ignore[arg-type]
        assert list_runs(project) == []


def test_create_resume_and_read_runs(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        info = create_run(project, **RUN, status="created")  # type: ignore[arg-type]
        assert_plain(info)
        assert isinstance(info, JudgeRunInfo)
        assert (info.status, info.model, info.n_done, info.judged_outputs) == (
            "created", "judge-x", 0, frozenset())
        assert info.rater_name == judge_rater_name("judge-x", info.run_id, info.uid)
        assert run_rater(project, info.run_id) == (info.rater_id, info.rater_name)

        def refuse(run: JudgeRunInfo) -> None:
            raise JudgeError(f"refused {run.run_id}")

        with pytest.raises(JudgeError, match="refused"):
            resume_run(project, info.uid[:6], refuse)
        assert run_info(project, info.run_id) == info  # a refusal writes nothing
        assert resume_run(project, "no-such-uid", refuse) is None
        assert resume_run(project, 999, refuse) is None
        checked: list[int] = []
        resumed = resume_run(project, info.run_id, lambda run: checked.append(run.run_id))
        assert checked == [info.run_id] and resumed is not None
        assert resumed.status == "running"
        second = create_run(project, **RUN)  # type: ignore[arg-type]
        assert second is not None
        assert [r.run_id for r in list_runs(project)] == [second.run_id, info.run_id]
        assert run_info(project, 12345) is None
        assert consent_of(project) == (False, None, None)


def test_record_items_usage_cache_and_revision(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        run = create_run(project, **RUN)  # type: ignore[arg-type]
        assert run is not None and run.rater_id is not None
        o1, _o2, o3 = _outputs(project)
        who = (run.rater_id, run.rater_name)
        record_item(project, run.run_id, _done(o1, "criterion:c0", {"criterion:c0": True},
                                               requests=1, prompt_tokens=10,
                                               completion_tokens=5, cost_usd=0.25))
        failed = ItemResult(o1, "criterion:c1", "rq", "failed", {}, error="HTTP 500",
                            raw_text="oops", attempts=2, requests=2)
        record_item(project, run.run_id, failed, dropped_params=("seed",))
        record_item(project, run.run_id, failed, revision_for=who)  # o1 done: revision
        info = run_info(project, run.run_id)
        assert info is not None
        assert (info.n_done, info.n_failed, info.n_requests, info.prompt_tokens,
                info.completion_tokens, info.cost_usd) == (1, 1, 5, 10, 5, 0.25)
        assert info.params["dropped_params"] == ["seed"]
        assert info.judged_outputs == frozenset({o1})
        assert done_item_keys(project, run.run_id) == {(o1, "criterion:c0")}
        failures = run_failures(project, run.run_id)
        assert failures == [(o1, "c1", "criterion:c1", "HTTP 500", 4)]  # attempts add up
        assert cached_reply(project, f"ck-{o1}-criterion:c0") == {
            "answers": {"criterion:c0": True}, "explanations": {"criterion:c0": "why criterion:c0"},
            "confidence": {"criterion:c0": 0.5}}
        assert cached_reply(project, "ck-nothing") is None
        with project.read() as s:
            rev = s.scalars(select(JudgmentRevisionRow).join(JudgmentRow).where(
                JudgmentRow.output_id == o1, JudgmentRow.rater_id == run.rater_id)).one()
            assert (rev.source, rev.status, rev.answers) == ("judge", "draft",
                                                             {"criterion:c0": True})
            assert rev.rationale == "criterion:c0: why criterion:c0"
        # A cache hit is counted, and not cached a second time.
        hit = _done(o3, "criterion:c0", {"criterion:c0": False}, cached=True)
        record_item(project, run.run_id, hit, revision_for=who)
        info = run_info(project, run.run_id)
        assert info is not None and info.n_cached == 1
        assert cached_reply(project, f"ck-{o3}-criterion:c0") is None
        assert info.judged_outputs == frozenset({o1, o3})


def test_close_run_decides_the_status(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        run = create_run(project, **RUN)  # type: ignore[arg-type]
        assert run is not None
        o1 = _outputs(project)[0]
        record_item(project, run.run_id, _done(o1, "form", {"q": 1}))
        closed = close_run(project, run.run_id, ended="completed", items_total=1)
        assert_plain(closed)
        assert (closed.status, closed.failures) == ("done", ())
        info = run_info(project, run.run_id)
        assert info is not None and info.finished_at is not None
        assert close_run(project, run.run_id, ended="completed", items_total=2).status == \
            "incomplete"  # the plan has an item not done yet
        assert close_run(project, run.run_id, ended="cancelled", items_total=1).status == \
            "cancelled"
        record_item(project, run.run_id, ItemResult(o1, "other", "rq", "failed", {},
                                                    error="bad reply"))
        closed = close_run(project, run.run_id, ended="stopped", items_total=2)
        assert (closed.status, closed.failures) == ("incomplete", ((o1, "other", "bad reply"),))
        assert close_run(project, run.run_id, ended="completed", items_total=2).status == \
            "incomplete"


def test_cached_keys_over_many_chunks(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        stored = [f"key-{i:05d}" for i in range(CACHE_CHUNK * 2 + 7)]
        with project.transaction() as s:
            s.add_all(JudgeCacheRow(key=k, response={}) for k in stored)
        asked = [*stored[::3], "missing-1", "missing-2"]
        assert cached_keys(project, asked) == set(stored[::3])
        assert cached_keys(project, []) == set()
        with project.read() as s:
            assert s.scalar(select(func.count()).select_from(JudgeCacheRow)) == len(stored)


def test_plan_inputs_reads_outputs_cases_and_images(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        with project.read() as s:
            first_case = s.scalars(select(OutputRow.case_id).order_by(OutputRow.id)).first()
        assert first_case is not None
        with project.transaction() as s:
            for i, mime in enumerate(("image/png", "image/png", "application/dicom",
                                      "image/jpeg")):
                s.add(AttachmentRow(case_id=first_case, kind="image", sha256=f"{i:064d}",
                                    size=1, filename=f"f{i}", mime=mime, sort_index=-i))
        plain = plan_inputs(project, limit=2)
        assert_plain(plain)
        assert plain.rubric is not None and plain.rubric.key == "healthbench"
        assert [(t, c) for _o, c, t in plain.outputs] == [
            ("A1", first_case), ("B1", first_case), ("A2", first_case + 1)]
        assert list(plain.cases) == [first_case]  # only the cases of the first 2 outputs
        c1 = plain.cases[first_case]
        assert [q.id for q in c1.criteria] == ["criterion:c0", "criterion:c1"]
        assert c1.messages == ({"role": "user", "content": "What is the dose?"},)
        assert c1.images == ()  # not asked for
        with_images = plan_inputs(project, image_mimes=("image/png", "image/jpeg"),
                                  max_images=2)
        assert set(with_images.cases) == {first_case, first_case + 1}
        assert with_images.cases[first_case].images == (  # sort order, mime filter, limit
            ("image/jpeg", f"{3:064d}"), ("image/png", f"{1:064d}"))
        assert with_images.cases[first_case + 1].images == ()


def test_judge_revision_content_from_ledger_entries() -> None:
    done = LedgerEntry("form", "done", {
        "answers": {"a": 1, "b": "x"}, "explanations": {"a": "because"},
        "confidence": {"a": 0.2, "b": 0.6}, "confidence_source": {"a": "logprobs"}})
    failed = LedgerEntry("criterion:c1", "failed", {"answers": {"c": True}})
    partial = judge_revision_content([done, failed])
    assert partial is not None
    assert partial.answers == {"a": 1, "b": "x"}  # a failed item's result is ignored
    assert partial.status == "draft" and partial.confidence == pytest.approx(0.4)
    assert partial.rationale == "a: because"
    assert partial.annotations[0] == {"question_id": "a", "note": "because", "judge": {
        "confidence": 0.2, "confidence_source": "logprobs", "item_key": "form"}}
    complete = judge_revision_content([done])
    assert complete is not None and complete.status == "done"
    assert judge_revision_content([failed]) is None
    assert judge_revision_content([LedgerEntry("form", "done", {"answers": {}})]) is None
