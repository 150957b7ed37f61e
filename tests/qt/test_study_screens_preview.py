"""The study-design screenshots (docs/screenshots) are built on real demo content: the screens
``medreview.qt.preview`` stages show numbers, a gold comparison, blinded comments, a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.qt import preview


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("study-screens")


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDREVIEW_HOME", str(tmp_path / "home"))


def _cells(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_lead_screens_show_the_demo_round_and_escalations(qapp, folder: Path) -> None:  # type: ignore[no-untyped-def]
    qual = preview.make_screen("qualification", folder)
    try:
        rows = _cells(qual.table)
        assert {r[0] for r in rows} >= {"Dr. Amara Okafor", "Dr. Lukas Brandt", "Dr. Mei Tanaka"}
        assert all(r[1] == "5/5" and r[2].endswith(" %") and r[5] == "passed" for r in rows)
    finally:
        preview._close(qual)
    esc = preview.make_screen("escalation", folder)
    try:
        rows = _cells(esc.table)
        assert rows and all(r[2] == "Dr. Ingrid Solberg" and r[4].startswith("disagreement")
                            for r in rows)
        assert esc.status.text().startswith("Would escalate")
    finally:
        preview._close(esc)


def test_rater_screens_show_gold_comments_and_a_reason(qapp, folder: Path) -> None:  # type: ignore[no-untyped-def]
    from medreview.domain.not_assessed import is_not_applicable
    from medreview.qt.grading.cannot_assess_dialog import CannotAssessDialog
    from medreview.qt.grading.peer_comments import CommentsDialog
    from medreview.qt.study.qualification import FeedbackDialog

    shot = preview.make_screen("qualification-feedback", folder)
    try:
        text = shot.parent().findChild(FeedbackDialog).text.toPlainText()
        assert "answered as the gold" in text and "Gold rationale" in text
        assert shot.pixmap().width() >= 1200
    finally:
        preview._close(shot)
    shot = preview.make_screen("peer-comments", folder)
    try:
        text = shot.parent().findChild(CommentsDialog).text.toPlainText()
        assert "Rater 1" in text and "Rater 2" in text
        assert "Okafor" not in text and "Brandt" not in text  # blinded
    finally:
        preview._close(shot)
    shot = preview.make_screen("cannot-assess", folder)
    try:
        w = shot.parent()
        dlg = w.findChild(CannotAssessDialog)
        assert dlg.reason() == "missing_context" and dlg.note.text()
        assert any(is_not_applicable(v) for v in w.controller.draft.answers.values())
    finally:
        preview._close(shot)
