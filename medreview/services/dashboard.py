"""Statistics for a project: read the ratings on the DB side, compute on the work side.

``load_inputs`` is the database half (fast, one read through ``storage.tables``); ``compute``
the pure half (may take seconds on big projects, cancellable). The app runs them on its two
executors; the command line calls ``project_statistics`` which does both.
``compute_dashboard`` is what the app's dashboard shows (per rater pair and per model at once).

The statistics themselves live in ``medreview.stats`` and take plain tables: the judge
calibration view's ``judge_calibration`` (``stats.judge_reference``), ``reference_labels``
(``stats.reference``) and ``disagreeing_outputs`` (``stats.disagreement``) are re-exported
here for the screens and the command line. "Same answer" and "the physicians' majority"
(strict: more than half) are the core's rules in ``medreview.domain.consensus``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medreview.domain.not_assessed import NOT_ASSESSED_COLUMNS, NotAssessedTally
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.questions import project_questions
from medreview.stats.disagreement import disagreeing_outputs
from medreview.stats.judge_reference import (
    JudgeCalibration,
    ReferenceComparison,
    calibration_questions,
    judge_calibration,
    judge_raters,
)
from medreview.stats.reference import question_label, reference_labels
from medreview.stats.tables import POOLED_CRITERIA, RatingTables
from medreview.storage import tables
from medreview.storage.project import Project

if TYPE_CHECKING:
    from medreview.stats.project import ProjectStats

__all__ = [
    "POOLED_CRITERIA", "JudgeCalibration", "ReferenceComparison", "StatsInputs",
    "calibration_questions", "compute", "compute_dashboard", "disagreeing_outputs",
    "judge_calibration", "judge_raters", "load_inputs", "not_assessed_table",
    "project_statistics", "question_label", "reference_labels", "render_report",
]


@dataclass(frozen=True)
class StatsInputs(RatingTables):
    """The project's rating tables (``storage.tables.ratings_long``, ``gold_table``, the
    questions) plus its name for titles and what the ratings left out as not assessed."""

    project_name: str
    not_assessed: NotAssessedTally = field(default_factory=NotAssessedTally)
    # ``ratings``' answers as codes (``stats.answer_codes``): the statistics read those
    # instead of the answers' objects; ignored for any other frame.
    codes: Any = None


def load_inputs(project: Project, *, pseudonymise: bool = False) -> StatsInputs:
    tally = NotAssessedTally(marks=True)
    ratings, codes = tables.ratings_coded(project, pseudonymise=pseudonymise, tally=tally)
    gold = tables.gold_table(project)
    return StatsInputs(
        ratings=ratings,
        gold=gold if not gold.empty else None,
        questions=project_questions(project),
        project_name=project.name,
        not_assessed=tally,
        codes=codes,
    )


def not_assessed_table(tally: NotAssessedTally) -> Any:
    """``NotAssessedTally.rows`` as a table (the stats report's ``not_assessed``)."""
    import pandas as pd

    return pd.DataFrame(tally.rows(), columns=list(NOT_ASSESSED_COLUMNS))


def compute(
    inputs: StatsInputs,
    *,
    by: str | None = None,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ProjectStats:
    import dataclasses

    from medreview.stats.project import project_stats

    stats = project_stats(
        inputs.ratings, inputs.questions, inputs.gold, by=by, ci=ci, progress=progress, token=token,
        codes=inputs.codes,
    )
    return dataclasses.replace(stats, not_assessed=not_assessed_table(inputs.not_assessed))


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


def compute_dashboard(
    inputs: StatsInputs,
    *,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ProjectStats:
    """The by-rater tables (rater pairs, judge, ceiling, calibration) plus agreement per model,
    in one pass over the questions (``by="rater+model"``). The agreement table holds scopes
    ``physicians`` and ``rater_pair`` (in question order), then ``model``.
    """
    import dataclasses

    import pandas as pd

    def percent(done: int, total: int | None = None, message: str = "") -> None:
        progress(round(100 * done / total) if total else 0, 100, message)

    stats = compute(inputs, by="rater+model", ci=ci, progress=percent, token=token)
    a = stats.agreement
    is_model = a["scope"] == "model"
    agreement = pd.concat([a[~is_model], a[is_model]], ignore_index=True)
    return dataclasses.replace(stats, agreement=agreement)
