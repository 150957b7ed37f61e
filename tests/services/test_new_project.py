"""The New project use-case: one-line refusals, the loader's own messages for a bad rubric
file, and all-or-nothing creation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medreview.errors import InputError, MedreviewError
from medreview.progress import Cancelled, CancelToken
from medreview.rubrics.load import MAX_FORM_FILE_BYTES, load_form
from medreview.services import new_project as np
from medreview.services import projects, readiness
from medreview.services.projects import create_project, open_project


def test_templates_are_split_by_kind() -> None:
    rubrics = {t.key for t in np.template_choices("rubric")}
    taxonomies = {t.key for t in np.template_choices("taxonomy")}
    assert {"healthbench", "quality_harm", "medpalm"} <= rubrics
    assert "medval_errors" in taxonomies and not rubrics & taxonomies


@pytest.mark.parametrize("name, reason", [
    ("", "give the project a name"), ("   ", "give the project a name"),
    ("x" * 201, "longer than 200"), ("a\x00b", "control character"),
])
def test_bad_names_are_one_line(name: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        np.check_name(name)
    assert np.check_name("  Chest   pain study ") == "Chest pain study"


def test_the_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    assert np.check_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"x")  # hidden files do not count, as for init
    assert np.check_folder(str(empty)) == empty
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    cases = [("", "choose a folder"), ("relative/dir", "full path"),
             (str(full), "not empty"), (str(full / "notes.txt"), "a file, not a folder")]
    create_project(tmp_path / "proj", "p").close()
    cases.append((str(tmp_path / "proj"), "a project already exists here"))
    for value, reason in cases:
        with pytest.raises(InputError, match=reason) as err:
            np.check_folder(value)
        assert len(str(err.value).splitlines()) == 1


def test_a_folder_that_cannot_be_written_is_refused(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The permission as the OS reports it (root would ignore a chmod here).
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(np.os, "access", lambda p, mode: Path(p) != locked)
    with pytest.raises(InputError, match="cannot be written") as err:
        np.check_folder(locked / "p")
    assert str(locked) in str(err.value)


def test_a_rubric_file_gets_the_loaders_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: medreview-form/1\nkey: x\nversion: 1\nname: X\nkind: rubric\n"
                   "questions:\n  - id: q\n    type: likert\n    prompt: Q\n    scale: [1, 99]\n",
                   encoding="utf-8")
    with pytest.raises(MedreviewError) as loader:
        load_form(bad)
    with pytest.raises(MedreviewError) as ours:
        np.load_form_choice(str(bad), "rubric")
    assert str(ours.value) == str(loader.value)


def test_the_kind_must_match_the_step(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="this is a taxonomy"):
        np.load_form_choice("medval_errors", "rubric")
    with pytest.raises(InputError, match="this is a rubric"):
        np.load_form_choice("quality_harm", "taxonomy")
    with pytest.raises(InputError, match="not a file and not a built-in template"):
        np.load_form_choice("no-such-template", "rubric")
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(MAX_FORM_FILE_BYTES + 1)
    with pytest.raises(InputError, match="larger than 4 MB"):
        np.load_form_choice(str(huge), "rubric")


def test_create_makes_a_ready_project_with_rubric_taxonomy_and_rater(tmp_path: Path) -> None:
    seen: list[str] = []
    plan = np.NewProject(tmp_path / "study", "Chest pain", np.load_form_choice(
        "quality_harm", "rubric"), np.load_form_choice("medval_errors", "taxonomy"), "Dr Lead")
    folder, rater_id = np.create_new_project(plan, lambda d, t=None, m="": seen.append(m))
    assert folder == tmp_path / "study" and seen[-1] == "created"
    project = open_project(folder)
    try:
        info = projects.project_info(project)
        assert info.name == "Chest pain"
        assert {(f["key"], f["kind"]) for f in info.forms} == {
            ("quality_harm", "rubric"), ("medval_errors", "taxonomy")}
        assert [(r.id, r.name) for r in info.raters] == [(rater_id, "Dr Lead")]
        assert readiness.has_rubric(project)
    finally:
        project.close()


def test_a_failed_or_cancelled_creation_leaves_nothing(tmp_path: Path) -> None:
    rubric = np.load_form_choice("quality_harm", "rubric")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        np.create_new_project(np.NewProject(tmp_path / "new", "P", rubric), token=token)
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".keep").write_text("")
    with pytest.raises(Cancelled):
        np.create_new_project(np.NewProject(empty, "P", rubric), token=token)
    assert [p.name for p in empty.iterdir()] == [".keep"]
    with pytest.raises(InputError, match="needs a rubric, not a taxonomy"):
        np.create_new_project(np.NewProject(tmp_path / "t", "P", np.load_form_choice(
            "medval_errors", "taxonomy")))
    assert not (tmp_path / "t").exists()


def test_a_yaml_alias_bomb_or_cycle_is_refused_at_once_by_the_loader(tmp_path: Path) -> None:
    head = "format: medreview-form/1\nkey: b\nversion: 1\nname: B\nkind: rubric\n"
    question = "questions:\n  - id: q\n    type: text\n    prompt: *a8\n"
    bomb = head + 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)) + question
    cycle = head + "a8: &a8 [x, *a8]\n" + question
    for name, text in (("bomb.yaml", bomb), ("cycle.yaml", cycle)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")  # 10^9 values from ~600 bytes, or endless
        started = time.monotonic()
        with pytest.raises(InputError, match=r"expands .* to more than 200,000 values"):
            np.load_form_choice(str(path), "rubric")
        assert time.monotonic() - started < 2.0
    # a legitimate anchor is fine
    ok = tmp_path / "ok.yaml"
    ok.write_text(head + "questions:\n  - id: q\n    type: text\n    prompt: &p Comment\n"
                  "  - id: r\n    type: text\n    prompt: *p\n", encoding="utf-8")
    assert [q.prompt for q in np.load_form_choice(str(ok), "rubric").questions] == [
        "Comment", "Comment"]
