"""Logs written by the installed inspect-ai itself import into a project that has no rubric.

The logs come from ``tests/importers/inspect_task.py`` run once per module in a subprocess
(offline ``mockllm``; the subprocess keeps inspect's zipfile monkey-patch out of this process,
so the ``.eval`` zstd members are read by our own reader). inspect-ai is in the ``test`` extra:
without it these tests fail, they are not skipped. The task has a multi-turn solver,
two epochs, a letter scorer with explanations, a numeric scorer, ``model_graded_qa`` with a
mockllm grader, and a PNG data-URI image in one sample's input.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from medreview.storage.models import (
    AttachmentRow,
    CaseRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project, create_project

ROOT = Path(__file__).resolve().parents[2]
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inspect-logs")
    env = {
        **os.environ,
        "INSPECT_LOG_LEVEL": "warning",
        "INSPECT_DISPLAY": "none",
        "INSPECT_EVAL_LOG_FILE_PATTERN": "{task}_{id}",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.importers.inspect_task", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = create_project(tmp_path / "proj", "inspect test")
    yield p
    p.close()


def _import(project: Project, path: Path) -> dict[str, Any]:
    from medreview.services.importing import import_file

    fmt, summary = import_file(project, path)
    assert fmt == "inspect-eval"
    return summary.to_dict()


def _log_samples(path: Path) -> list[dict[str, Any]]:
    """The samples as inspect wrote them, read by inspect's own reader (the oracle)."""
    samples = json.loads((path.parent / f"samples{path.suffix}.json").read_text("utf-8"))
    assert samples
    return list(samples)


def test_eval_members_are_zstd(logs: Path) -> None:
    # The point of the exercise: current inspect-ai compresses every member with zstd.
    with zipfile.ZipFile(logs / "log.eval") as zf:
        methods = {i.compress_type for i in zf.infolist()}
    assert methods == {93}


@pytest.mark.parametrize("name", ["log.eval", "log.json"])
def test_log_imports_into_project_without_rubric(
    logs: Path, project: Project, name: str
) -> None:
    path = logs / name
    samples = _log_samples(path)
    with project.read() as s:
        assert s.scalar(select(func.count()).select_from(FormRow)) == 0

    summary = _import(project, path)
    assert summary["added"]["cases"] == 2
    assert summary["added"]["outputs"] == 4  # 2 samples x 2 epochs, every answer distinct
    assert summary["added"]["attachments"] == 1
    assert summary["added"]["ratings"] == 12  # 3 scorers x 4 outputs

    with project.read() as s:
        # the scorer questions, typed from the values, on a rubric the import created
        [form] = s.scalars(select(FormRow)).all()
        assert (form.key, form.kind, form.active) == ("inspect-scorers", "rubric", True)
        questions = {q["id"]: q for q in form.definition["questions"]}
        assert set(questions) == {
            "inspect.mentions_target", "inspect.answer_length", "inspect.model_graded_qa",
        }
        letter = questions["inspect.mentions_target"]
        assert letter["type"] == "single_choice"
        assert [o["value"] for o in letter["options"]] == ["C", "I", "P", "N"]
        assert questions["inspect.model_graded_qa"]["type"] == "single_choice"
        assert questions["inspect.answer_length"]["type"] == "number"

        # outputs: one per epoch, the epoch recorded, the follow-up turn kept
        outputs = s.scalars(select(OutputRow).order_by(OutputRow.id)).all()
        by_uuid = {o.external_id: o for o in outputs}
        assert set(by_uuid) == {smp["uuid"] for smp in samples}
        for smp in samples:
            out = by_uuid[smp["uuid"]]
            assert out.model == "mockllm/model"
            assert out.text == smp["output"]["completion"]
            assert out.meta["epoch"] == smp["epoch"]
            conversation = out.meta["conversation"]
            roles = [m["role"] for m in conversation]
            assert roles[-4:] == ["user", "assistant", "user", "assistant"]
            assert conversation[-2]["content"] == "Are you sure? Answer in one line."
            assert conversation[-1]["content"] == out.text
            assert conversation[-3]["content"] == smp["messages"][-3]["content"]
        epochs = sorted(
            (s.scalar(select(CaseRow.external_id).where(CaseRow.id == o.case_id)),
             o.meta["epoch"]) for o in outputs
        )
        assert epochs == [("2", 1), ("2", 2), ("q1", 1), ("q1", 2)]

        # the chat sample: system + user turn, image kept as an attachment of its case
        case2 = s.scalars(select(CaseRow).where(CaseRow.external_id == "2")).one()
        assert [m["role"] for m in case2.messages] == ["system", "user"]
        assert "What does this X-ray show?" in case2.messages[1]["content"]
        [att] = s.scalars(select(AttachmentRow)).all()
        assert att.case_id == case2.id
        assert (att.kind, att.mime) == ("image", "image/png")
        import base64

        png = base64.b64decode(PNG_B64)
        assert (att.size, att.sha256) == (len(png), hashlib.sha256(png).hexdigest())
        assert project.media.path_for(att.sha256).read_bytes() == png

        # the judges: one per scorer, the model-graded one named with its grader model
        raters = {r.name: r for r in s.scalars(select(RaterRow))}
        assert set(raters) == {
            "mentions_target", "answer_length", "model_graded_qa (mockllm/model)",
        }
        assert {r.kind for r in raters.values()} == {"judge"}
        answers: dict[tuple[str, str | None], tuple[Any, str]] = {}
        for rev, rater, output in s.execute(
            select(JudgmentRevisionRow, RaterRow.name, OutputRow.external_id)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
        ):
            assert rev.form_id == form.id and rev.source == "import"
            [(qid, value)] = rev.answers.items()
            assert qid == "inspect." + rater.split(" ")[0]  # each judge answers its question
            answers[(rater, output)] = (value, rev.rationale)
        for smp in samples:
            scores, uuid = smp["scores"], smp["uuid"]
            assert answers[("mentions_target", uuid)] == (
                scores["mentions_target"]["value"], scores["mentions_target"]["explanation"]
            )
            assert answers[("answer_length", uuid)] == (
                scores["answer_length"]["value"], "characters"
            )
            graded = scores["model_graded_qa"]
            assert graded["value"] in ("C", "I")
            assert answers[("model_graded_qa (mockllm/model)", uuid)] == (
                graded["value"], graded["explanation"]
            )
            assert graded["explanation"].endswith(f"GRADE: {graded['value']}")


def test_same_log_twice_adds_nothing(logs: Path, project: Project) -> None:
    _import(project, logs / "log.eval")
    again = _import(project, logs / "log.eval")
    assert again["added"] == {}
    assert again["skipped"]["outputs"] == 4 and again["skipped"]["ratings"] == 12
    with project.read() as s:
        assert s.scalar(select(func.count()).select_from(FormRow)) == 1


def test_second_run_with_the_same_answers(logs: Path, project: Project) -> None:
    # log.json is another run of the same task on the same deterministic model: answers it
    # shares with log.eval are the outputs already stored, and its scores land on them
    _import(project, logs / "log.eval")
    _import(project, logs / "log.json")
    texts = {
        (str(smp["id"]), smp["output"]["completion"])
        for name in ("log.eval", "log.json")
        for smp in _log_samples(logs / name)
    }
    with project.read() as s:
        stored = {
            (case, text)
            for case, text in s.execute(
                select(CaseRow.external_id, OutputRow.text).join(
                    CaseRow, CaseRow.id == OutputRow.case_id
                )
            )
        }
        judgments = s.scalar(select(func.count()).select_from(JudgmentRow))
    assert stored == texts
    assert judgments == 3 * len(texts)


def test_scorer_questions_join_an_existing_rubric(logs: Path, project: Project) -> None:
    from medreview.rubrics.templates import load_template
    from medreview.storage.forms import register_form

    with project.transaction() as s:
        register_form(s, load_template("quality_harm"))
    _import(project, logs / "log.json")
    with project.read() as s:
        [form] = s.scalars(select(FormRow).where(FormRow.active.is_(True))).all()
        ids = [q["id"] for q in form.definition["questions"]]
    assert form.key == "quality_harm"
    assert ids[-3:] == [
        "inspect.mentions_target", "inspect.answer_length", "inspect.model_graded_qa",
    ]
    original = [q.id for q in load_template("quality_harm").questions]
    assert ids[:-3] == original
    # A physician grading these outputs is asked the rubric's questions, not the scorers'.
    from medreview.services.grading import load_item
    from medreview.services.projects import add_rater

    rater = add_rater(project, "Dr Grader")
    with project.read() as s:
        output_id = s.scalars(select(OutputRow.id).order_by(OutputRow.id)).first()
    assert output_id is not None
    item = load_item(project, rater.id, output_id)
    asked = [q.id for q in item.questions()]
    assert original[0] in asked
    assert not [q for q in asked if q.startswith("inspect.")]


def test_bad_sample_writes_nothing(logs: Path, project: Project, tmp_path: Path) -> None:
    from medreview.errors import ImportFailed

    # a real log with one sample's JSON cut short, re-packed with deflate
    bad = tmp_path / "bad.eval"
    with zipfile.ZipFile(logs / "log.eval") as src, zipfile.ZipFile(
        bad, "w", zipfile.ZIP_DEFLATED
    ) as dst:
        names = [i.filename for i in src.infolist()]
        from medreview.importers.eval_zip import EvalZip

        with EvalZip(logs / "log.eval") as ez:
            for name in names:
                data = ez.read(name)
                if name == "samples/q1_epoch_2.json":
                    data = data[: len(data) // 2]
                dst.writestr(name, data)
    with pytest.raises(ImportFailed) as err:
        _import(project, bad)
    message = str(err.value)
    assert "bad.eval" in message and "samples/q1_epoch_2.json" in message
    assert "malformed JSON" in message and "\n" not in message
    with project.read() as s:
        for table in (CaseRow, OutputRow, FormRow, RaterRow, JudgmentRevisionRow):
            assert s.scalar(select(func.count()).select_from(table)) == 0


def test_json_and_eval_give_the_same_shape(logs: Path) -> None:
    from medreview.importers.inspect_ai import parse_inspect_log

    def shape(path: Path) -> list[tuple[str, int]]:
        return [(type(loc.record).__name__, loc.line) for loc in parse_inspect_log(path)]

    assert shape(logs / "log.eval") == shape(logs / "log.json")


@pytest.mark.parametrize("rubric", [None, "quality_harm"])
def test_refused_log_leaves_the_forms_as_they_were(
    logs: Path, project: Project, tmp_path: Path, rubric: str | None
) -> None:
    from medreview.errors import ImportFailed
    from medreview.rubrics.templates import load_template
    from medreview.services.importing import import_file
    from medreview.storage.forms import register_form

    if rubric:
        with project.transaction() as s:
            register_form(s, load_template(rubric))
    with project.read() as s:
        before = [(f.key, f.version, f.active, f.definition) for f in s.scalars(select(FormRow))]
    # case q1 is already in the project with another prompt: the ingest refuses the log
    # after the scorer questions were added, which must then be taken back
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "q1", "prompt": "another question"}\n', encoding="utf-8")
    import_file(project, cases)
    with pytest.raises(ImportFailed, match="different content"):
        _import(project, logs / "log.eval")
    with project.read() as s:
        after = [(f.key, f.version, f.active, f.definition) for f in s.scalars(select(FormRow))]
        assert s.scalar(select(func.count()).select_from(OutputRow)) == 0
    assert after == before
