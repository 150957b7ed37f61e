"""The bundled demo project: synthetic cases, model answers, DICOM images and simulated ratings."""

from __future__ import annotations

import shutil
from pathlib import Path

from medreview.demo.build import build_demo_project
from medreview.progress import Progress, no_progress

__all__ = ["build_demo_project", "build_full_demo"]


def build_full_demo(path: Path, *, progress: Progress = no_progress) -> Path:
    """The demo users open (``medreview demo``, the start page): ``build_demo_project`` plus a
    second judge prompt version (``demo/judge_versions``), so judge evaluation shows real
    numbers. A failure leaves no half-made demo behind. Tests that need only the ratings use
    ``build_demo_project``."""
    from medreview.demo.judge_versions import add_to_demo

    built = build_demo_project(path, progress=progress)
    try:
        add_to_demo(built)
        from medreview.demo.checks import add_to_demo as add_hidden_items
        add_hidden_items(built)  # hidden gold and attention items, answered
        from medreview.demo.escalation import add_to_demo as add_escalations
        add_escalations(built)  # escalation rules and the few items they escalate
        from medreview.demo.quality import add_to_demo as add_quality_rounds
        add_quality_rounds(built)  # a qualification round, answered retests
        from medreview.demo.not_assessed import add_to_demo as add_cannot_assess
        add_cannot_assess(built)  # a few items marked "cannot assess", one per reason
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return built
