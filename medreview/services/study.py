"""Study use-cases for the app: assignment, packages, merge, adjudication queue, gold labels.

Each call is one unit of work and returns its result plus a ``Changes`` value naming what the
screens must refresh. The logic lives in ``medreview.study``; this module only adapts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medreview.domain import consensus
from medreview.domain.changes import Changes
from medreview.domain.not_assessed import marks_by_rater
from medreview.progress import Progress, no_progress
from medreview.services import escalation, grading
from medreview.services.readiness import require_rubric
from medreview.services.views import ItemView
from medreview.storage import tables
from medreview.storage.assignments import assignment_state
from medreview.storage.audit import gold_history, judgment_history
from medreview.storage.gold import StoredGold, gold_of_output
from medreview.storage.project import Project
from medreview.storage.project_info import output_overview, project_settings
from medreview.storage.questions import project_questions as stored_questions
from medreview.storage.raters import physician_loads
from medreview.storage.read_models import GoldView, RaterLoad
from medreview.study import adjudicate as adjudication
from medreview.study import assign as assignment
from medreview.study import merge as merging
from medreview.study import package as packaging
from medreview.study.adjudicate import AutoGoldSummary, Disagreement, DisagreementRules
from medreview.study.assign import AssignmentDesign, AssignmentSummary
from medreview.study.merge import MergeReport
from medreview.study.package import PackageInfo
from medreview.study.package_checks import (
    IssuedRecords,
    PackageCheck,
    PackageFolderSummary,
    check_package,
    issued_records,
    package_folder_summary,
    read_package_info,
)

__all__ = [
    "AssignmentDesign",
    "AssignmentOverview",
    "AssignmentPreview",
    "AssignmentSummary",
    "AutoGoldSummary",
    "Disagreement",
    "DisagreementRules",
    "GoldView",
    "IssuedRecords",
    "MergeReport",
    "OutputRatings",
    "PackageCheck",
    "PackageFolderSummary",
    "PackageInfo",
    "RaterLoad",
    "StoredGold",
    "accept_majority",
    "adjudication_queue",
    "assign",
    "assignment_overview",
    "audit_trail",
    "auto_gold",
    "build_package",
    "check_audit_target",
    "check_package",
    "export_audit",
    "export_audit_staged",
    "issued_records",
    "load_output",
    "merge_packages",
    "output_ratings",
    "package_folder_summary",
    "preview_assignment",
    "project_identity",
    "read_package_info",
    "seal_package",
    "set_gold",
    "unpack_package",
]


def assign(project: Project, design: AssignmentDesign) -> tuple[AssignmentSummary, Changes]:
    """Add the design's assignments (creating raters); nothing if they are all there."""
    require_rubric(project, "assigning raters")
    summary = assignment.assign(project, design)
    return summary, Changes(raters=True, queue=frozenset()) if summary.added else Changes()


def build_package(project: Project, rater: str, out: Path) -> PackageInfo:
    """Write ``rater``'s offline package and record it as issued (merge accepts only those)."""
    require_rubric(project, "a rater package")
    return packaging.build_package(project, rater, out)


def unpack_package(file: Path, dest: Path) -> Path:
    """Verify and unpack a package; the returned folder opens as a project."""
    return packaging.unpack_package(file, dest)


def seal_package(folder: Path, out: Path) -> PackageInfo:
    """Seal a graded package folder into a file for the study lead."""
    return packaging.seal_package(folder, out)


def merge_packages(project: Project, files: Sequence[Path],
                   progress: Progress = no_progress) -> tuple[MergeReport, Changes]:
    """Bring graded packages back, all or nothing."""
    started = dt.datetime.now(dt.UTC)
    report = merging.merge_packages(project, files, progress)
    escalated = escalation.after_ratings(project, since=started) if report.added else Changes()
    return report, Changes(raters=True, judgments=frozenset(
        c.output_id for c in report.conflicts)) | (Changes(project=True) if report.added
                                                   else Changes()) | escalated


def adjudication_queue(project: Project, rules: DisagreementRules | None = None, *,
                       include_resolved: bool = False) -> list[Disagreement]:
    return adjudication.adjudication_queue(project, rules, include_resolved=include_resolved)


def set_gold(project: Project, output_id: int, question_id: str, value: Any, *,
             rationale: str, adjudicator: str) -> tuple[StoredGold, Changes]:
    label = adjudication.set_gold(project, output_id, question_id, value, rationale=rationale,
                                  adjudicator=adjudicator)
    return label, Changes(gold=frozenset({output_id}))


def accept_majority(project: Project, output_id: int, question_id: str, *,
                    adjudicator: str, rationale: str = "") -> tuple[StoredGold, Changes]:
    label = adjudication.accept_majority(project, output_id, question_id,
                                         adjudicator=adjudicator, rationale=rationale)
    return label, Changes(gold=frozenset({output_id}))


def auto_gold(project: Project, *, include_single: bool = True
              ) -> tuple[AutoGoldSummary, Changes]:
    """Record the unanimous, majority (and, with ``include_single``, single-rater) labels."""
    summary = adjudication.auto_gold(project, include_single=include_single)
    return summary, Changes(project=True) if summary.added else Changes()


def export_audit(project: Project, outdir: Path, fmt: str = "jsonl", *,
                 pseudonymise: bool = True) -> list[Path]:
    """Write the judgment and gold-label histories as tables; return their paths (the
    audit export's module: rows read and written a chunk at a time)."""
    from medreview.exporters.audit import export_audit as write_audit

    return write_audit(project, outdir, fmt, pseudonymise=pseudonymise)


AUDIT_TABLES = ("judgment_history", "gold_history")


def check_audit_target(outdir: Path, *, overwrite: bool = False) -> bool:
    """Refuse an audit folder before any work (see ``export_audit_staged``); returns whether
    its entries may be replaced."""
    from medreview.exporters.staging import check_target

    if outdir.is_dir() and all(p.name.split(".", 1)[0] in AUDIT_TABLES
                               for p in outdir.iterdir()):
        overwrite = True
    check_target(outdir, overwrite=overwrite)
    return overwrite


def export_audit_staged(project: Project, outdir: Path, fmt: str = "jsonl", *,
                        overwrite: bool = False) -> list[Path]:
    """``export_audit`` into a hidden sibling renamed into place when complete, so a kill
    leaves no partial folder. A folder holding only an earlier audit trail is refreshed
    (its two tables replaced); any other non-empty folder needs ``overwrite``."""
    from medreview.exporters.staging import staged

    outdir = Path(outdir).absolute()
    overwrite = check_audit_target(outdir, overwrite=overwrite)
    with staged(outdir, overwrite=overwrite) as stage:
        names = [p.name for p in export_audit(project, stage, fmt)]
    return [outdir / name for name in names]


def audit_trail(project: Project, output_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every judgment revision and gold label revision of one output."""
    return {"judgments": judgment_history(project, output_id=output_id),
            "gold": gold_history(project, output_id=output_id)}


# --- for the app's study screens (additive; read-only unless stated) ---------------------


@dataclass(frozen=True)
class AssignmentOverview:
    """What the assignment dialog shows before anything is chosen."""

    outputs: int
    cases: int
    models: dict[str, int]
    raters: tuple[RaterLoad, ...]
    designs: tuple[dict[str, Any], ...]  # the designs applied so far (recorded in settings)


@dataclass(frozen=True)
class AssignmentPreview:
    """What ``assign`` would do with a design, computed without writing."""

    summary: AssignmentSummary
    new_per_rater: dict[str, int]
    new_by_model: dict[str, dict[str, int]]  # rater -> model -> new items
    outputs: int


def assignment_overview(project: Project) -> AssignmentOverview:
    outputs, cases, models = output_overview(project)
    designs = tuple((project_settings(project).get("study") or {}).get("assignments") or ())
    return AssignmentOverview(outputs, cases, dict(sorted(models.items())),
                              physician_loads(project), designs)


def preview_assignment(project: Project, design: AssignmentDesign) -> AssignmentPreview:
    """Plan ``design`` against the project's current assignments; nothing is written.

    The same planner as ``assign`` (``study.assign.plan_design``) on the same state, so the
    totals equal what ``assign`` reports afterwards.
    """
    require_rubric(project, "assigning raters")
    design.validate()
    plan = assignment.plan_design(design, assignment_state(project, design.raters))
    return AssignmentPreview(plan.summary, plan.new_per_rater, plan.new_by_model, plan.outputs)


def load_output(project: Project, output_id: int) -> ItemView:
    """An output with its case and images as no particular rater sees it (no draft; the blind
    label follows the case's output order)."""
    return grading.load_item(project, _NO_RATER, output_id)


_NO_RATER = 0  # rater ids start at 1: nobody's judgment or assignment matches


@dataclass(frozen=True)
class OutputRatings:
    """Every physician's finished answer per question of one output, and its current gold."""

    output_id: int
    ratings: dict[str, dict[str, Any]]  # question id -> rater name -> value
    gold: dict[str, GoldView]
    majority: dict[str, Any] = field(default_factory=dict)  # only where a strict majority exists
    # question id (or "*": every question) -> physician -> "N/A" / "cannot assess (reason)":
    # not ratings (out of majority and gold), shown so the adjudicator knows why a cell is empty
    not_assessed: dict[str, dict[str, str]] = field(default_factory=dict)


def output_ratings(project: Project, output_id: int) -> OutputRatings:
    """Like the adjudication queue's ratings (same value rules), for one output only."""
    questions = stored_questions(project)
    revisions = tables.current_revisions(project, rater_kind="physician", output_id=output_id)
    by_item = consensus.physician_ratings(revisions, questions)
    ratings = {qid: dict(sorted(by_rater.items())) for (_oid, qid), by_rater in by_item.items()}
    gold = gold_of_output(project, output_id)
    majorities = {}
    for qid, by_rater in ratings.items():
        q = questions.get(qid)
        value, has = consensus.majority(list(by_rater.values()), q.kind if q else None)
        if has and len(by_rater) >= 2:
            majorities[qid] = value
    return OutputRatings(output_id, ratings, gold, majorities, marks_by_rater(revisions))


def project_identity(project: Project) -> tuple[str, str]:
    """(uid, name) of the project: packages are checked against the uid."""
    return project.uid, project.name
