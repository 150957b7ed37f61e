"""Statistics for a project: read the ratings on the DB side, compute on the work side.

``load_inputs`` is the database half (fast, one read); ``compute`` the pure half (may take
seconds on big projects, cancellable). The app runs them on its two executors; the command line
calls ``project_statistics`` which does both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medreview.domain.rubric import Question
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.questions import project_questions
from medreview.storage import tables
from medreview.storage.project import Project

if TYPE_CHECKING:
    from medreview.stats.project import ProjectStats


@dataclass(frozen=True)
class StatsInputs:
    ratings: Any  # pandas DataFrame, long format (storage.tables.ratings_long)
    gold: Any  # pandas DataFrame or None
    questions: dict[str, Question]
    project_name: str


def load_inputs(project: Project, *, pseudonymise: bool = False) -> StatsInputs:
    ratings = tables.ratings_long(project, pseudonymise=pseudonymise)
    gold = tables.gold_table(project)
    return StatsInputs(
        ratings=ratings,
        gold=gold if not gold.empty else None,
        questions=project_questions(project),
        project_name=project.name,
    )


def compute(
    inputs: StatsInputs,
    *,
    by: str | None = None,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ProjectStats:
    from medreview.stats.project import project_stats

    return project_stats(
        inputs.ratings, inputs.questions, inputs.gold, by=by, ci=ci, progress=progress, token=token
    )


def project_statistics(
    project: Project,
    *,
    by: str | None = None,
    ci: bool = True,
    pseudonymise: bool = False,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> tuple[StatsInputs, ProjectStats]:
    inputs = load_inputs(project, pseudonymise=pseudonymise)
    return inputs, compute(inputs, by=by, ci=ci, progress=progress, token=token)


def render_report(inputs: StatsInputs, stats: ProjectStats) -> str:
    from medreview.stats.report import render_html

    return render_html(stats, f"{inputs.project_name}: agreement and judge calibration")
