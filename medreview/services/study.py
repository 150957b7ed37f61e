"""Study use-cases for the app: assignment, packages, merge, adjudication queue, gold labels.

Each call is one unit of work and returns its result plus a ``Changes`` value naming what the
screens must refresh. The logic lives in ``medreview.study``; this module only adapts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medreview.domain.changes import Changes
from medreview.progress import Progress, no_progress
from medreview.storage.project import Project
from medreview.study.adjudicate import (
    AutoGoldSummary,
    Disagreement,
    DisagreementRules,
    GoldLabel,
    accept_majority,
    adjudication_queue,
    auto_gold,
    set_gold,
)
from medreview.study.assign import AssignmentDesign, AssignmentSummary, assign
from medreview.study.audit import gold_history, judgment_history
from medreview.study.merge import MergeReport, merge_packages
from medreview.study.package import PackageInfo, build_package, seal_package, unpack_package

__all__ = [
    "AssignmentDesign",
    "DisagreementRules",
    "accept_gold_majority",
    "adjudication_items",
    "assign_raters",
    "audit_trail",
    "export_audit",
    "make_package",
    "merge",
    "open_package",
    "return_package",
    "set_gold_label",
    "settle_agreed",
]


def assign_raters(project: Project, design: AssignmentDesign) -> tuple[AssignmentSummary, Changes]:
    summary = assign(project, design)
    return summary, Changes(raters=True, queue=frozenset()) if summary.added else Changes()


def make_package(project: Project, rater: str, out: Path) -> PackageInfo:
    return build_package(project, rater, out)


def open_package(file: Path, dest: Path) -> Path:
    """Verify and unpack a package; the returned folder opens as a project."""
    return unpack_package(file, dest)


def return_package(folder: Path, out: Path) -> PackageInfo:
    """Seal a graded package folder into a file for the study lead."""
    return seal_package(folder, out)


def merge(project: Project, files: Sequence[Path],
          progress: Progress = no_progress) -> tuple[MergeReport, Changes]:
    report = merge_packages(project, files, progress)
    return report, Changes(raters=True, judgments=frozenset(
        c.output_id for c in report.conflicts)) | (Changes(project=True) if report.added
                                                   else Changes())


def adjudication_items(project: Project, rules: DisagreementRules | None = None, *,
                       include_resolved: bool = False) -> list[Disagreement]:
    return adjudication_queue(project, rules, include_resolved=include_resolved)


def set_gold_label(project: Project, output_id: int, question_id: str, value: Any, *,
                   rationale: str, adjudicator: str) -> tuple[GoldLabel, Changes]:
    label = set_gold(project, output_id, question_id, value, rationale=rationale,
                     adjudicator=adjudicator)
    return label, Changes(gold=frozenset({output_id}))


def accept_gold_majority(project: Project, output_id: int, question_id: str, *,
                         adjudicator: str, rationale: str = "") -> tuple[GoldLabel, Changes]:
    label = accept_majority(project, output_id, question_id, adjudicator=adjudicator,
                            rationale=rationale)
    return label, Changes(gold=frozenset({output_id}))


def settle_agreed(project: Project, *, include_single: bool = True
                  ) -> tuple[AutoGoldSummary, Changes]:
    summary = auto_gold(project, include_single=include_single)
    return summary, Changes(project=True) if summary.added else Changes()


def export_audit(project: Project, outdir: Path, fmt: str = "jsonl", *,
                 pseudonymise: bool = True) -> list[Path]:
    """Write the judgment and gold-label histories as tables; return their paths."""
    import pandas as pd

    from medreview.exporters.tables import write_table

    outdir.mkdir(parents=True, exist_ok=True)
    return [
        write_table(pd.DataFrame(judgment_history(project, pseudonymise=pseudonymise)),
                    outdir / "judgment_history", fmt),
        write_table(pd.DataFrame(gold_history(project, pseudonymise=pseudonymise)),
                    outdir / "gold_history", fmt),
    ]


def audit_trail(project: Project, output_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every judgment revision and gold label revision of one output."""
    return {"judgments": judgment_history(project, output_id=output_id),
            "gold": gold_history(project, output_id=output_id)}
