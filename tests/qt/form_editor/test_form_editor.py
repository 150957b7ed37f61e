"""The rubric/taxonomy editor on a real project and database thread: every question kind added
from the keyboard, the loader's own message for a mistake, a new version when the form was
graded, YAML export that loads back equal, versioned guidelines rendered safely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import yaml
from PySide6.QtCore import Qt

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import FormKind, QuestionKind
from medreview.errors import RubricError
from medreview.qt.form_editor.dialog import FormEditorDialog
from medreview.qt.form_editor.draft import KIND_LABELS
from medreview.rubrics.load import load_form
from medreview.rubrics.templates import load_template
from medreview.services import form_editing, grading
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project, add_form, add_rater, open_project
from medreview.services.tasks import DbExecutor
from medreview.storage.ingest import ingest
from medreview.storage.project import create_project
from tests.storage.helpers import case, located, output


class Opened:
    def __init__(self, path: Path) -> None:
        self.db = DbExecutor()
        self.project: Project = self.db.submit(open_project, path).result()
        self.bus = ChangeBus()
        self.emitted: list[object] = []
        self.bus.subscribe(lambda changes, _who: self.emitted.append(changes))

    def call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.db.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        self.db.submit(self.project.close).result()
        self.db.shutdown()


@pytest.fixture
def app():  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app

    return make_app()


def _project(path: Path, rubric: bool) -> Path:
    project = create_project(path, "editor test")
    if rubric:
        add_form(project, load_template("quality_harm"))
    ingest(project, located([case("a"), output("a", "m1", "Give 10 mg.")]), source="t",
           importer="t")
    project.close()
    return path


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Opened]:
    o = Opened(_project(tmp_path / "empty", rubric=False))
    yield o
    o.close()


@pytest.fixture
def judged(tmp_path: Path) -> Iterator[Opened]:
    path = _project(tmp_path / "judged", rubric=True)
    o = Opened(path)
    rater = o.call(add_rater, o.project, "Dr A")
    out_id = o.call(grading.load_queue, o.project, rater.id)[0].output_id
    o.call(grading.save_revision, o.project, rater.id, out_id,
           JudgmentDraft(answers={"quality": 4}))
    yield o
    o.close()


def _editor(qtbot, opened: Opened, kind: FormKind = FormKind.RUBRIC):  # type: ignore[no-untyped-def]
    dlg = FormEditorDialog(opened.project, opened.db, opened.bus, kind, author="Dr Lead")
    qtbot.addWidget(dlg)
    dlg.confirm_drop = lambda: True  # type: ignore[method-assign]  # no modal at teardown
    dlg.show()
    qtbot.waitUntil(lambda: dlg.loaded, timeout=10000)
    return dlg


def _add_with_keys(qtbot, dlg, kind: QuestionKind) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+N opens the kinds menu; arrows pick the kind, Enter adds it."""
    dlg.question_list.setFocus()
    qtbot.keyClick(dlg, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(dlg.add_menu.isVisible, timeout=3000)
    steps = list(KIND_LABELS).index(kind)
    menu = dlg.add_menu
    menu.setActiveAction(menu.actions()[steps])
    qtbot.keyClick(menu, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not menu.isVisible(), timeout=3000)


def test_every_kind_is_added_and_saved_on_a_project_without_a_rubric(
        qtbot, app, empty: Opened) -> None:
    dlg = _editor(qtbot, empty)
    assert "no rubric yet" in dlg.header.text()
    for kind in QuestionKind:
        _add_with_keys(qtbot, dlg, kind)
    assert [q["type"] for q in dlg.data["questions"]] == [k.value for k in QuestionKind]
    assert dlg.problem is None, dlg.problem
    # reword the first question from the keyboard: the prompt field has focus after adding
    dlg.question_list.setCurrentRow(0)
    dlg.editor.prompt_edit.setFocus()
    dlg.editor.prompt_edit.selectAll()
    qtbot.keyClicks(dlg.editor.prompt_edit, "Advises emergency care")
    dlg.editor.points_edit.setFocus()
    dlg.editor.points_edit.selectAll()
    qtbot.keyClicks(dlg.editor.points_edit, "-4")
    dlg.editor.required_box.setChecked(True)
    assert dlg.data["questions"][0] == {
        "id": "criterion", "type": "criterion", "prompt": "Advises emergency care",
        "points": -4, "required": True}
    dlg.tabs.setCurrentIndex(1)
    dlg.name_edit.setFocus()
    dlg.name_edit.selectAll()
    qtbot.keyClicks(dlg.name_edit, "Our rubric")
    qtbot.keyClick(dlg, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dlg.last_saved is not None and not dlg.saving, timeout=10000)
    assert (dlg.last_saved.key, dlg.last_saved.version) == ("my_rubric", 1)
    snap = empty.call(form_editing.load_active, empty.project, FormKind.RUBRIC)
    assert snap.form is not None and [q.kind for q in snap.form.questions] == list(QuestionKind)
    assert snap.form.name == "Our rubric"
    assert empty.emitted and empty.emitted[-1].rubrics
    assert not dlg.dirty


def test_the_editor_shows_the_loaders_message_for_the_same_mistake(
        qtbot, app, empty: Opened, tmp_path: Path) -> None:
    dlg = _editor(qtbot, empty)
    _add_with_keys(qtbot, dlg, QuestionKind.TEXT)
    _add_with_keys(qtbot, dlg, QuestionKind.ORDINAL)
    assert dlg.problem is None
    # scale values must increase: type 3 over the second value (1, 3, 3)
    dlg.editor.options.set_cell(1, 0, "3")
    expected_path = "questions[1].options[2].value"
    with pytest.raises(RubricError) as file_error:
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(dlg.data, sort_keys=False), encoding="utf-8")
        load_form(bad)
    assert file_error.value.item == expected_path
    assert dlg.problem == f"{expected_path}: {file_error.value.reason}"
    assert dlg.status.text() == dlg.problem
    assert dlg.question_list.item(1).text().startswith("⚠ ")
    assert not dlg.save_button.isEnabled() and not dlg.export_button.isEnabled()
    dlg.editor.options.set_cell(1, 0, "2")
    assert dlg.problem is None and dlg.save_button.isEnabled()
    assert not dlg.question_list.item(1).text().startswith("⚠ ")
    # a criterion with 0 points: the loader's words again
    _add_with_keys(qtbot, dlg, QuestionKind.CRITERION)
    dlg.editor.points_edit.setText("0")
    dlg.editor.points_edit.textEdited.emit("0")
    assert dlg.problem == ("questions[2].points: points must not be 0 "
                           "(negative points mark a penalty)")
    dlg.editor.points_edit.setText("oops")
    dlg.editor.points_edit.textEdited.emit("oops")
    assert dlg.problem == "questions[2].points: must be a number, not text"


def test_saving_a_graded_rubric_adds_a_version_and_keeps_graded_work(
        qtbot, app, judged: Opened, tmp_path: Path) -> None:
    dlg = _editor(qtbot, judged)
    assert "1 judgment revision(s)" in dlg.header.text()
    before = judged.call(form_editing.load_active, judged.project, FormKind.RUBRIC).form
    dlg.question_list.setCurrentRow(0)
    dlg.editor.help_edit.setPlainText("Judge the whole answer.")
    assert "Save stores it as version 2" in dlg.status.text()
    dlg.save()
    qtbot.waitUntil(lambda: dlg.last_saved is not None and not dlg.saving, timeout=10000)
    assert dlg.last_saved.new_version and dlg.last_saved.version == 2
    assert "version 1 keeps the work graded with it" in dlg.status.text()
    rater = judged.call(add_rater, judged.project, "Dr A")
    out_id = judged.call(grading.load_queue, judged.project, rater.id)[0].output_id
    hist = judged.call(grading.history, judged.project, rater.id, out_id)
    assert [(h.form_key, h.form_version, h.draft.answers) for h in hist] == [
        ("quality_harm", 1, {"quality": 4})]
    now = judged.call(form_editing.load_active, judged.project, FormKind.RUBRIC).form
    assert now is not None and before is not None
    assert now.version == 2 and now.questions[0].help == "Judge the whole answer."
    # the graded version's content is untouched
    assert before.questions[0].help != "Judge the whole answer."
    # export: what the editor holds, as YAML that loads back equal
    path = tmp_path / "out.yaml"
    assert dlg.export_to(path)
    assert load_form(path) == now


def test_guidelines_are_versioned_and_rendered_safely(qtbot, app, judged: Opened) -> None:
    dlg = _editor(qtbot, judged)
    hostile = ("# Rules\n<img src=\"http://127.0.0.1:9/x.png\">\n![x](file:///etc/passwd)\n"
               "[click](http://evil.example)\n<b style='display:none'>hidden</b>\u202e\n")
    dlg.tabs.setCurrentWidget(dlg.guideline_tab)
    dlg.guideline_edit.setPlainText(hostile)
    assert "Save stores the guidelines" in dlg.status.text()
    dlg.save()
    qtbot.waitUntil(lambda: not dlg.saving and dlg.guideline is not None, timeout=10000)
    assert dlg.guideline.version == 1
    dlg.guideline_edit.setPlainText("# Rules\nv2")
    dlg.save()
    qtbot.waitUntil(lambda: not dlg.saving and dlg.guideline is not None
                    and dlg.guideline.version == 2, timeout=10000)
    assert [g.version for g in dlg.guideline_versions] == [2, 1]
    # the old version stays readable in the preview; nothing it names was loaded
    dlg._on_guideline_version_picked(dlg.guideline_versions_box.findData(1))
    shown = dlg.guideline_preview.toPlainText()
    assert "<img src=" in shown and "![x](file:///etc/passwd)" in shown
    assert "<b style='display:none'>hidden</b>" in shown and "⟦U+202E⟧" in shown
    assert dlg.guideline_preview.refused == []
    html = dlg.guideline_preview.toHtml()
    assert "href" not in html and "<img" not in html


def test_a_taxonomy_starts_from_a_template_and_refuses_a_rubric(qtbot, app, empty: Opened
                                                                 ) -> None:
    dlg = _editor(qtbot, empty, FormKind.TAXONOMY)
    assert dlg.tabs.count() == 3  # a taxonomy has its own guidelines, as a rubric does
    assert not dlg.start_from("medval")
    assert dlg.status.text() == "medval: this is a rubric ('medval'), not a taxonomy"
    assert dlg.start_from("medval_errors")
    dlg.save()
    qtbot.waitUntil(lambda: dlg.last_saved is not None and not dlg.saving, timeout=10000)
    snap = empty.call(form_editing.load_active, empty.project, FormKind.TAXONOMY)
    assert snap.form == load_template("medval_errors")


def test_escape_closes_and_asks_first_when_something_is_unsaved(qtbot, app, judged: Opened
                                                                  ) -> None:
    dlg = _editor(qtbot, judged)
    asked: list[bool] = []
    answer = [False]

    def confirm() -> bool:
        asked.append(True)
        return answer[0]

    dlg.confirm_drop = confirm  # type: ignore[method-assign]
    dlg.question_list.setFocus()
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Down)  # moving around changes nothing
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Delete)  # removes the selected question
    assert dlg.dirty
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Escape)
    assert asked == [True] and dlg.isVisible()  # "keep editing"
    answer[0] = True
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Escape)
    assert asked == [True, True] and not dlg.isVisible()


def test_alt_arrows_reorder_questions(qtbot, app, judged: Opened) -> None:
    dlg = _editor(qtbot, judged)
    ids = [q["id"] for q in dlg.data["questions"]]
    dlg.question_list.setFocus()
    dlg.question_list.setCurrentRow(0)
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert [q["id"] for q in dlg.data["questions"]] == [ids[1], ids[0], *ids[2:]]
    assert dlg.question_list.currentRow() == 1
    qtbot.keyClick(dlg.question_list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert [q["id"] for q in dlg.data["questions"]] == ids
    assert not dlg.dirty


def test_hostile_text_in_a_stored_form_is_shown_marked_and_kept_exactly(
        qtbot, app, empty: Opened) -> None:
    from medreview.domain.rubric import Form, Option, Question

    prompt = "Dose <b>OK</b>?\u202e evil \u200b"
    form = Form(key="h", version=1, name="<i>name</i>", kind=FormKind.RUBRIC, questions=(
        Question("q", QuestionKind.SINGLE_CHOICE, prompt,
                 options=(Option("a\u200b", "<img src=x>"), Option("b", "B"))),))
    empty.call(form_editing.save_form, empty.project, form)
    dlg = _editor(qtbot, empty)
    item = dlg.question_list.item(0).text()
    assert "Dose <b>OK</b>?⟦U+202E⟧ evil ⟦U+200B⟧" in item
    assert dlg.editor.prompt_edit.toPlainText() == "Dose <b>OK</b>?⟦U+202E⟧ evil ⟦U+200B⟧"
    assert dlg.editor.options.cell_text(0, 0) == "a⟦U+200B⟧"
    assert dlg.editor.options.cell_text(0, 1) == "<img src=x>"
    assert "<i>name</i>" in dlg.header.text()
    # Shown with markers, read back exactly: untouched, nothing to save.
    dlg.editor.prompt_edit.setPlainText(dlg.editor.prompt_edit.toPlainText())
    dlg.editor.options.set_cell(0, 0, dlg.editor.options.cell_text(0, 0))
    assert dlg.data["questions"][0]["prompt"] == prompt
    assert dlg.data["questions"][0]["options"][0]["value"] == "a\u200b"
    assert not dlg.dirty


def test_a_yaml_bomb_or_a_broken_file_is_refused_in_one_line(qtbot, app, empty: Opened,
                                                             tmp_path: Path) -> None:
    dlg = _editor(qtbot, empty)
    bomb = tmp_path / "bomb.yaml"
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not dlg.start_from(str(bomb))
    assert "expands" in dlg.status.text() and "\n" not in dlg.status.text()
    broken = tmp_path / "broken.yaml"
    data = load_template("quality_harm").to_dict()
    data["questions"][0]["optoins"] = data["questions"][0].pop("options")
    broken.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(RubricError) as file_error:
        load_form(broken)
    assert not dlg.start_from(str(broken))
    assert dlg.status.text() == file_error.value.message  # file, line, field, reason
    assert "line" in dlg.status.text() and "did you mean 'options'" in dlg.status.text()
    assert dlg.data["questions"] == []  # the working copy is left as it was


def test_not_applicable_is_set_per_question_and_stored_only_where_it_differs(
        qtbot, app, empty: Opened) -> None:
    """A criterion may be answered N/A unless the lead says no; a choice only if the lead says
    yes; an error list never (the box is hidden and a kind change drops the key)."""
    from medreview.domain.not_assessed import na_allowed

    dlg = _editor(qtbot, empty)
    for kind in (QuestionKind.CRITERION, QuestionKind.SINGLE_CHOICE, QuestionKind.ERROR):
        _add_with_keys(qtbot, dlg, kind)
    box = dlg.editor.na_box
    dlg.question_list.setCurrentRow(0)  # criterion: allowed by default, nothing stored
    assert box.isChecked() and not box.isHidden() and "allow_na" not in dlg.data["questions"][0]
    box.setChecked(False)
    assert dlg.data["questions"][0]["allow_na"] is False
    box.setChecked(True)
    assert "allow_na" not in dlg.data["questions"][0]  # back to the default: the hash holds
    dlg.question_list.setCurrentRow(1)  # single choice: not allowed by default
    assert not box.isChecked()
    box.setChecked(True)
    assert dlg.data["questions"][1]["allow_na"] is True
    dlg.question_list.setCurrentRow(2)  # error list: never
    assert box.isHidden()
    assert dlg.problem is None, dlg.problem
    qtbot.keyClick(dlg, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dlg.last_saved is not None and not dlg.saving, timeout=10000)
    snap = empty.call(form_editing.load_active, empty.project, FormKind.RUBRIC)
    assert snap.form is not None
    assert [na_allowed(q) for q in snap.form.questions] == [True, True, False]


def test_a_kind_change_to_an_error_list_drops_not_applicable() -> None:
    from medreview.qt.form_editor.draft import change_kind

    q = {"id": "safe", "type": "single_choice", "prompt": "Safe?", "allow_na": True,
         "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]}
    assert "allow_na" not in change_kind(q, QuestionKind.ERROR, set())
    assert change_kind(q, QuestionKind.ORDINAL, set())["allow_na"] is True
