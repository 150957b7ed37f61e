"""The judge screens draw with the shared pieces: data cells show hidden characters marked and
read-only, a run's status takes its tone from ``qt/status.py``, the progress bar is driven like
every other bar, and the dialog's status colours are the shared tones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import Qt

from medreview.services.judging import JudgeFailure, JudgeLive, JudgeRunInfo

RLO = "\u202e"


def _run(run_id: int, status: str, model: str = "fake-judge") -> JudgeRunInfo:
    return JudgeRunInfo(
        run_id=run_id, uid="u", model=model, base_url="http://127.0.0.1:1/v1",
        template_key=f"tmpl{RLO}x", status=status,
        started_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), finished_at=None,
        params={}, images=False, rater_id=None, rater_name="judge", n_done=3, n_failed=1,
        n_cached=0, n_requests=4, prompt_tokens=1200, completion_tokens=30, cost_usd=0.01)


def test_runs_table_cells_are_the_shared_cells_with_status_tones(qtbot: Any) -> None:
    from medreview.qt.judge.runs_table import RunsTable
    from medreview.qt.status import tone_color

    table = RunsTable()
    qtbot.addWidget(table)
    table.active_run = 2
    table.set_runs([_run(1, "cancelled", model=f"evil{RLO}gpt"), _run(2, "running"),
                    _run(3, "done")])
    model, template = table.item(0, 2), table.item(0, 3)
    assert RLO not in model.text() and "⟦U+202E⟧" in model.text()
    assert RLO not in template.text() and "⟦U+202E⟧" in template.text()
    assert not model.flags() & Qt.ItemFlag.ItemIsEditable
    assert table.item(0, 4).foreground().color() == tone_color("warn")
    assert table.item(1, 4).foreground().color() == tone_color("active")  # ours, running
    assert table.item(2, 4).foreground().color() == tone_color("ok")
    assert table.item(0, 7).textAlignment() & Qt.AlignmentFlag.AlignRight
    assert "Resume" in table.item(0, 4).toolTip()


def test_progress_panel_bar_and_failures(qtbot: Any) -> None:
    from medreview.qt.judge.progress_panel import RunProgressPanel

    panel = RunProgressPanel()
    qtbot.addWidget(panel)
    panel.start("New run · fake-judge")
    assert panel.bar.maximum() == 0  # busy until the plan is known
    panel.show_live(JudgeLive(_run(7, "running"), 3, 12, "judging"))
    assert (panel.bar.maximum(), panel.bar.value()) == (12, 3)
    assert panel.bar.format() == "3 / 12 items  (%p%)"
    panel.show_error("the endpoint went away")
    assert panel.bar.maximum() == 12 and panel.state.text() == "Stopped"
    panel.show_failures([JudgeFailure(5, f"case{RLO}9", "urgent", "<b>HTTP 500</b>", 3)])
    reason = panel.failures.item(0, 3)
    assert reason.text() == "<b>HTTP 500</b> (after 3 attempts)"  # shown as typed
    assert "&lt;b&gt;" in reason.toolTip()
    assert "⟦U+202E⟧" in panel.failures.item(0, 0).text()


def test_the_dialog_style_uses_the_shared_tones() -> None:
    from medreview.qt.judge.style import DIALOG_QSS
    from medreview.qt.status import TONES

    for level, tone in (("running", "active"), ("ok", "ok"), ("warn", "warn"),
                        ("error", "error")):
        assert f'QLabel#runState[level="{level}"] {{ background: {TONES[tone]}; }}' in DIALOG_QSS
    assert "{" not in DIALOG_QSS.replace("{ ", "").replace("{\n", "")  # no placeholder left
