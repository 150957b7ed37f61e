"""Finished ratings written whole: raters, the judge run they came from and their revisions,
in one transaction (the demo's simulated study is one such batch).

Raters are created in the order given (their pseudonyms follow it), the judge run before its
rater, and revisions in the order given under the active rubric and taxonomy, each scored by
``append_revision`` like every other write path. A rating names its output by case and model;
one that names no output, or an ambiguous one, refuses the whole batch in one line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.errors import ProjectError
from medreview.storage.base import utcnow
from medreview.storage.forms import active_form_rows
from medreview.storage.models import CaseRow, JudgeRunRow, OutputRow
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision


@dataclass(frozen=True)
class FinishedJudgeRun:
    """A judge run whose replies arrived elsewhere: recorded as finished, with its usage."""

    uid: str
    model: str
    base_url: str  # never a secret
    template_key: str
    template_version: int
    template_hash: str
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    n_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class BatchRating:
    """One rater's finished revision of the output of ``model`` for case ``case_external_id``."""

    rater: str  # a name among the batch's physicians or its judge
    case_external_id: str
    model: str
    content: RevisionContent
    source: Literal["import", "judge"]


@dataclass(frozen=True)
class RatingBatch:
    physicians: tuple[str, ...]
    ratings: tuple[BatchRating, ...]
    judge: str | None = None  # the judge rater's name; needs ``judge_run``
    judge_run: FinishedJudgeRun | None = None


@dataclass(frozen=True)
class BatchWritten:
    rater_ids: dict[str, int]
    judge_run_id: int | None
    revisions: int


def _output_ids(s: Session) -> dict[tuple[str, str], int | None]:
    """(case external id, model) -> output id; None where the pair names several outputs."""
    rows = s.execute(select(CaseRow.external_id, OutputRow.model, OutputRow.id)
                     .join(CaseRow, CaseRow.id == OutputRow.case_id)).all()
    seen = Counter((str(c), str(m)) for c, m, _ in rows)
    return {(str(c), str(m)): (int(i) if seen[(str(c), str(m))] == 1 else None)
            for c, m, i in rows}


def _add_run(s: Session, run: FinishedJudgeRun) -> int:
    row = JudgeRunRow(uid=run.uid, model=run.model, base_url=run.base_url,
                      template_key=run.template_key, template_version=run.template_version,
                      template_hash=run.template_hash, params=dict(run.params),
                      status="finished", finished_at=utcnow(), notes=run.notes,
                      n_requests=run.n_requests, prompt_tokens=run.prompt_tokens,
                      completion_tokens=run.completion_tokens)
    s.add(row)
    s.flush()
    return row.id


def write_rating_batch(project: Project, batch: RatingBatch) -> BatchWritten:
    """Write ``batch`` in one transaction: all of it, or nothing."""
    if (batch.judge is None) != (batch.judge_run is None):
        raise ProjectError("a judge's ratings need the judge run they came from")
    with project.transaction() as s:
        rubric, taxonomy = active_form_rows(s)
        if rubric is None:
            raise ProjectError("the project has no rubric yet; add one before writing ratings")
        run_id = _add_run(s, batch.judge_run) if batch.judge_run is not None else None
        raters = {name: get_or_create_rater(s, name, "physician") for name in batch.physicians}
        if batch.judge is not None:
            raters[batch.judge] = get_or_create_rater(s, batch.judge, "judge",
                                                      judge_run_id=run_id)
        outputs = _output_ids(s)
        for n, r in enumerate(batch.ratings, start=1):
            rater = raters.get(r.rater)
            if rater is None:
                raise ProjectError(f"rating {n} names rater {r.rater[:80]!r}, "
                                   "who is not among the batch's raters")
            key = (r.case_external_id, r.model)
            if key not in outputs:
                raise ProjectError(f"rating {n}: no output of model {r.model[:80]!r} "
                                   f"for case {r.case_external_id[:80]!r}")
            output_id = outputs[key]
            if output_id is None:
                raise ProjectError(f"rating {n}: case {r.case_external_id[:80]!r} has several "
                                   f"outputs of model {r.model[:80]!r}")
            append_revision(s, rater_id=rater.id, output_id=output_id, content=r.content,
                            form_id=rubric.id, taxonomy_id=taxonomy.id if taxonomy else None,
                            author=rater.name, source=r.source)
        return BatchWritten({name: row.id for name, row in raters.items()}, run_id,
                            len(batch.ratings))

