"""What the training exports read: newest gold labels, physicians' labels, project questions.

Plain storage reads (this layer may not import ``medreview.study``, where gold labels are
*made*; here they are only read).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from medreview.domain.rubric import Question, case_criterion_question
from medreview.storage import tables
from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, FormRow, GoldLabelRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class Gold:
    output_id: int
    question_id: str
    value: Any
    provenance: str
    rationale: str = ""


def gold_labels(project: Project) -> dict[int, dict[str, Gold]]:
    """Output -> question -> the newest gold label (highest revision)."""
    out: dict[int, dict[str, Gold]] = defaultdict(dict)
    with project.read() as s:
        for g in s.scalars(select(GoldLabelRow).order_by(GoldLabelRow.revision_no)):
            out[g.output_id][g.question_id] = Gold(g.output_id, g.question_id, g.value,
                                                   g.provenance, g.rationale)
    return dict(out)


def physician_labels(project: Project, *, pseudonymise: bool = True
                     ) -> dict[tuple[int, str], dict[str, Any]]:
    """(output, question) -> {rater: answer} from physicians' finished judgments."""
    out: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
    for r in tables.current_revisions(project):
        if r["rater_kind"] != "physician":
            continue
        rater = r["rater_pseudonym"] if pseudonymise else r["rater"]
        for qid, value in r["answers"].items():
            if not qid.startswith("_") and value is not None:
                out[(r["output_id"], qid)][rater] = value
    return dict(out)


def project_questions(project: Project) -> dict[str, Question]:
    """Question id -> question, over every form version and every case criterion."""
    out: dict[str, Question] = {}
    with project.read() as s:
        for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
            for q in form_from_row(row).questions:
                out[q.id] = q
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.id)):
            q = case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
            out[q.id] = q
    return out
