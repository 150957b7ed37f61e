"""The error taxonomy has grading guidelines of its own: written and versioned in the taxonomy
editor, shown with the rubric's on G (each under a heading, or whichever exists), and both
versions recorded with each revision saved from the grading screen (audit)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.domain.rubric import FormKind
from medreview.qt.form_editor.guideline_pane import NO_GUIDELINES, GuidelinePane
from medreview.services import form_editing
from medreview.services.form_editing import GuidelineView
from medreview.services.projects import open_project
from medreview.services.sample_project import build_sample_project
from medreview.storage.audit import judgment_history
from tests.qt.grading.helpers import focused, open_and_wait, press, wait_saved


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDREVIEW_HOME", str(tmp_path / "home"))


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=2, outputs_per_case=2, with_dicom=False)
    rubric = form_editing.load_active(project, FormKind.RUBRIC).form
    taxonomy = form_editing.load_active(project, FormKind.TAXONOMY).form
    assert rubric is not None and taxonomy is not None
    project.close()
    return path, rubric.key, taxonomy.key


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt-state.ini"))
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.project is not None:
        w.close()


def _g(key: str, version: int, text: str) -> GuidelineView:
    return GuidelineView(key, version, text, "lead", dt.datetime(2026, 12, 6, tzinfo=dt.UTC))


def test_the_pane_shows_both_under_headings_or_whichever_exists(qtbot) -> None:
    pane = GuidelinePane()
    qtbot.addWidget(pane)
    pane.show()
    pane.show_guidelines("rub", _g("rub", 2, "# Rubric rules"), "tax", _g("tax", 4, "Omissions"))
    assert (pane.heading.text(), pane.taxonomy_heading.text()) == ("Rubric", "Error taxonomy")
    assert pane.heading.isVisible() and pane.taxonomy_browser.isVisible()
    assert "Rubric rules" in pane.browser.toPlainText()
    assert pane.taxonomy_browser.toPlainText() == "Omissions"
    assert pane.taxonomy_label.text().startswith("Guidelines for tax, version 4")
    assert (pane.version, pane.taxonomy_version, pane.recorded) == (2, 4, 400_002)
    pane.show_guidelines("rub", None, "tax", _g("tax", 1, "Only the taxonomy"))
    assert not pane.browser.isVisible() and not pane.heading.isVisible()
    assert pane.taxonomy_browser.isVisible() and pane.taxonomy_label.isVisible()
    assert pane.recorded == 100_000
    pane.show_guidelines("rub", _g("rub", 3, "Only the rubric"), "tax", None)
    assert pane.browser.isVisible() and not pane.taxonomy_browser.isVisible()
    assert pane.recorded == 3
    pane.show_guidelines("rub", None, "tax", None)
    assert pane.browser.toPlainText() == NO_GUIDELINES and pane.recorded is None
    assert not pane.taxonomy_browser.isVisible()
    # A version no project numbers (a forged package's) is shown but never recorded.
    pane.show_guidelines("rub", _g("rub", 2**40, "forged"), "tax", _g("tax", 1, "t"))
    assert pane.browser.toPlainText() == "forged" and pane.recorded is None


def test_g_shows_the_taxonomy_guidelines_and_each_save_records_both_versions(
        qtbot, window, sample) -> None:
    path, rubric_key, tax_key = sample
    project = open_project(path)
    try:
        form_editing.save_guideline(project, rubric_key, "Score harm first.", "lead")
        form_editing.save_guideline(project, tax_key, "An omission is an error.", "lead")
        form_editing.save_guideline(project, tax_key, "Omissions: only if actionable.", "lead")
    finally:
        project.close()
    w = window
    open_and_wait(qtbot, w, path)
    pane = w.guidelines.pane
    qtbot.waitUntil(lambda: pane.taxonomy_version == 2, timeout=10000)
    press(qtbot, "g")
    assert w.guidelines.isVisible() and focused() is w.view.panel
    assert pane.heading.text() == "Rubric" and pane.taxonomy_heading.text() == "Error taxonomy"
    assert "only if actionable" in pane.taxonomy_browser.toPlainText()
    assert w.controller.guideline_version == 200_001
    press(qtbot, "4")
    wait_saved(qtbot, w)
    w.close()
    ui = [r for r in _judgments(path) if r["source"] == "ui"]
    assert [(r["guideline_version"], r["taxonomy_guideline_version"]) for r in ui] == [(1, 2)]


def _judgments(path: Path) -> list[dict[str, object]]:
    project = open_project(path)
    try:
        return judgment_history(project)
    finally:
        project.close()


def test_the_taxonomy_editor_saves_versioned_guidelines(qtbot, sample) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.form_editor.dialog import FormEditorDialog
    from medreview.services.bus import ChangeBus
    from medreview.services.tasks import DbExecutor

    make_app()
    path, _rubric_key, tax_key = sample
    db = DbExecutor()
    project = db.submit(open_project, path).result()
    try:
        dlg = FormEditorDialog(project, db, ChangeBus(), FormKind.TAXONOMY, author="Dr Lead")
        qtbot.addWidget(dlg)
        dlg.confirm_drop = lambda: True  # type: ignore[method-assign]
        dlg.show()
        qtbot.waitUntil(lambda: dlg.loaded, timeout=10000)
        assert [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())][-1] == "&Guidelines"
        assert "error taxonomy" in dlg.guideline_edit.placeholderText()
        for text in ("# Severity\nmajor = could harm", "# Severity\nmajor = likely harm"):
            dlg.guideline_edit.setPlainText(text)
            assert dlg.guideline_dirty and not dlg.form_dirty
            dlg.save()
            qtbot.waitUntil(lambda: not dlg.saving and not dlg.guideline_dirty, timeout=10000)
        assert dlg.guideline is not None and dlg.guideline.version == 2
        assert "Guidelines saved as version 2." in dlg.status.text()
        history = db.submit(form_editing.guideline_history, project, tax_key).result()
        assert [(g.version, g.author) for g in history] == [(2, "Dr Lead"), (1, "Dr Lead")]
        assert "likely harm" in history[0].text
        dlg.close()
    finally:
        db.submit(project.close).result()
        db.shutdown()


def test_guidelines_arriving_late_never_replace_what_the_lead_typed(qtbot, sample) -> None:
    """The stored guidelines load after the form: text typed in between stays, unsaved (the
    CI flake where a late load put an older version back while a save was on its way)."""
    from medreview.qt.app import make_app
    from medreview.qt.form_editor.dialog import FormEditorDialog
    from medreview.services.bus import ChangeBus
    from medreview.services.tasks import DbExecutor

    make_app()
    path, _rubric_key, _tax_key = sample
    db = DbExecutor()
    project = db.submit(open_project, path).result()
    try:
        dlg = FormEditorDialog(project, db, ChangeBus(), FormKind.TAXONOMY, author="Dr Lead")
        qtbot.addWidget(dlg)
        dlg.confirm_drop = lambda: True  # type: ignore[method-assign]
        dlg.show()
        qtbot.waitUntil(lambda: dlg.loaded, timeout=10000)
        qtbot.wait(200)  # the stored (empty) guidelines have arrived too
        dlg.guideline_edit.setPlainText("# Typed before the load arrived")
        dlg._show_guidelines([])  # a load that answers only now
        assert dlg.guideline_edit.toPlainText() == "# Typed before the load arrived"
        assert dlg.guideline_dirty
        dlg.save()
        qtbot.waitUntil(lambda: not dlg.saving, timeout=10000)
        assert dlg.guideline is not None and dlg.guideline.version == 1
        assert not dlg.guideline_dirty
    finally:
        db.submit(project.close).result()
        db.shutdown()
