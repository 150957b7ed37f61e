"""A rater's judgments: the grading queue, one item with its newest revision, saving a
draft, undo and the revision history. Every function opens its own unit of work on the
project and returns plain values (``read_models``), never rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from medreview.domain.consensus import blind_label
from medreview.domain.judgment import JudgmentDraft, annotation_from_dict, annotation_to_dict
from medreview.domain.records import ContextDocument, Message
from medreview.domain.rubric import Form, case_criterion_question
from medreview.errors import MedreviewError
from medreview.storage.escalations import reason_in as escalation_reason_in
from medreview.storage.forms import active_form_rows, form_from_row
from medreview.storage.models import (
    AssignmentRow,
    AttachmentRow,
    CaseRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    SeriesRow,
)
from medreview.storage.project import Project
from medreview.storage.queue_marks import with_marks
from medreview.storage.read_models import (
    AttachmentView,
    CaseView,
    ItemView,
    QueueRow,
    RevisionView,
    SeriesView,
)
from medreview.storage.revisions import (
    RETEST_SOURCE,
    RevisionContent,
    append_revision,
    content_of,
)
from medreview.storage.study_serving import (
    arrange_queue,
    retest_draft,
    retest_in_progress,
    save_source,
)

__all__ = [
    "Saved",
    "Undone",
    "content_from_draft",
    "load_item",
    "queue_rows",
    "revision_history",
    "save_draft",
    "undo_last",
    "workload",
]


@dataclass(frozen=True)
class Saved:
    revision_no: int | None  # None: identical to the newest revision, nothing written
    status: str


@dataclass(frozen=True)
class Undone:
    revision_no: int | None  # None: nothing to undo, nothing written
    status: str
    draft: JudgmentDraft | None  # the content restored


def queue_rows(project: Project, rater_id: int) -> list[QueueRow]:
    """The rater's queue in order: their assignments if any, else every output."""
    with project.read() as s:
        has_assignments = (
            s.scalar(select(AssignmentRow.id).where(AssignmentRow.rater_id == rater_id).limit(1))
            is not None
        )
        judg = (
            select(
                JudgmentRow.output_id,
                JudgmentRow.status,
                JudgmentRow.flagged,
                JudgmentRow.updated_at,
            )
            .where(JudgmentRow.rater_id == rater_id)
            .subquery()
        )
        cols = (
            OutputRow.id,
            OutputRow.case_id,
            CaseRow.external_id,
            CaseRow.title,
            OutputRow.model,
            CaseRow.tags,
            judg.c.status,
            judg.c.flagged,
            judg.c.updated_at,
        )
        if has_assignments:
            q = (
                select(*cols, AssignmentRow.position, AssignmentRow.blind_label)
                .join(OutputRow, OutputRow.id == AssignmentRow.output_id)
                .join(CaseRow, CaseRow.id == OutputRow.case_id)
                .outerjoin(judg, judg.c.output_id == OutputRow.id)
                .where(AssignmentRow.rater_id == rater_id)
                .order_by(AssignmentRow.position)
            )
            rows = s.execute(q).all()
            return with_marks(s, rater_id, arrange_queue(
                s, rater_id, [_queue_row(r[:9], r[9], r[10]) for r in rows]))
        q = (
            select(*cols)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .outerjoin(judg, judg.c.output_id == OutputRow.id)
            .order_by(OutputRow.case_id, OutputRow.id)
        )
        out: list[QueueRow] = []
        per_case: dict[int, int] = defaultdict(int)
        for pos, r in enumerate(s.execute(q).all()):
            idx = per_case[r[1]]
            per_case[r[1]] += 1
            out.append(_queue_row(r, pos, blind_label(idx)))
        return with_marks(s, rater_id, arrange_queue(s, rater_id, out))


def _queue_row(r: Any, position: int, label: str) -> QueueRow:
    status = r[6] or "todo"
    return QueueRow(
        output_id=r[0],
        case_id=r[1],
        case_external_id=r[2],
        case_title=r[3] or r[2],
        model=r[4],
        blind_label=label,
        status=status,
        flagged=bool(r[7]),
        tags=tuple(r[5] or ()),
        position=position,
        updated_at=r[8],
    )


def _draft_of(row: JudgmentRevisionRow) -> JudgmentDraft:
    return JudgmentDraft(
        answers=dict(row.answers),
        annotations=tuple(annotation_from_dict(a) for a in row.annotations),
        rationale=row.rationale,
        confidence=row.confidence,
        flagged=row.flagged,
        skipped=row.skipped,
        time_on_task_s=row.time_on_task_s,
        overall_score=row.overall_score,
    )


def content_from_draft(draft: JudgmentDraft, status: str) -> RevisionContent:
    """What a draft saved with ``status`` stores (a skipped draft is stored as skipped)."""
    return RevisionContent(
        answers=dict(draft.answers),
        annotations=[annotation_to_dict(a) for a in draft.annotations],
        rationale=draft.rationale,
        confidence=draft.confidence,
        overall_score=draft.overall_score,
        time_on_task_s=draft.time_on_task_s,
        flagged=draft.flagged,
        skipped=draft.skipped,
        status="skipped" if draft.skipped else status,
    )


def _blind_label_for(s: Session, rater_id: int, output: OutputRow) -> str:
    label = s.scalar(
        select(AssignmentRow.blind_label).where(
            AssignmentRow.rater_id == rater_id, AssignmentRow.output_id == output.id
        )
    )
    if label:
        return label
    ids = s.scalars(
        select(OutputRow.id).where(OutputRow.case_id == output.case_id).order_by(OutputRow.id)
    ).all()
    return blind_label(list(ids).index(output.id))


def _active_forms(s: Session) -> tuple[Form | None, Form | None]:
    """The forms to grade with: the active ones (a judgment keeps its own version in history)."""
    rubric_row, taxonomy_row = active_form_rows(s)
    return (
        form_from_row(rubric_row) if rubric_row else None,
        form_from_row(taxonomy_row) if taxonomy_row else None,
    )


def load_item(project: Project, rater_id: int, output_id: int) -> ItemView:
    """One output as ``rater_id`` grades it: case, images, documents, forms, newest draft."""
    with project.read() as s:
        output = s.get(OutputRow, output_id)
        if output is None:
            raise MedreviewError("no such output in this project", item=str(output_id))
        case = s.get(CaseRow, output.case_id)
        assert case is not None
        criteria = tuple(
            case_criterion_question(c.key, c.text, c.points, tuple(c.tags)) for c in case.criteria
        )
        case_view = CaseView(
            id=case.id,
            external_id=case.external_id,
            title=case.title or case.external_id,
            messages=tuple(Message(m["role"], m["content"]) for m in case.messages),
            context=tuple(
                ContextDocument(d.get("title", ""), d.get("text", ""), d.get("kind", "note"))
                for d in case.context
            ),
            tags=tuple(case.tags),
            criteria=criteria,
            reference_answer=case.reference_answer,
            metadata=dict(case.meta),
        )
        series, documents = _media_of(s, project, case.id)
        rubric, taxonomy = _active_forms(s)
        judgment = s.scalars(
            select(JudgmentRow).where(
                JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id
            )
        ).first()
        draft = None
        revision_no = 0
        status = "todo"
        if judgment is not None and judgment.current_revision_no:
            rev = s.scalars(
                select(JudgmentRevisionRow).where(
                    JudgmentRevisionRow.judgment_id == judgment.id,
                    JudgmentRevisionRow.revision_no == judgment.current_revision_no,
                )
            ).one()
            draft = _draft_of(rev)
            revision_no = rev.revision_no
            status = judgment.status
        retest = retest_draft(s, rater_id, output_id)  # a due retest: blank, or its own draft
        if retest is not None:
            draft = _draft_of(retest[0]) if retest[0] is not None else None
            revision_no = retest[0].revision_no if retest[0] is not None else 0
            status = retest[1]
        reveal = bool(s.scalar(select(ProjectRow.reveal_models)))
        return ItemView(
            output_id=output.id,
            case=case_view,
            answer=output.text,
            model=output.model,
            blind_label=_blind_label_for(s, rater_id, output),
            reveal_model=reveal,
            series=series,
            documents=documents,
            form=rubric,
            taxonomy=taxonomy,
            draft=draft,
            status=status,
            revision_no=revision_no,
            escalation_reason=escalation_reason_in(s, rater_id, output_id),
        )


def _media_of(
    s: Session, project: Project, case_id: int
) -> tuple[tuple[SeriesView, ...], tuple[AttachmentView, ...]]:
    """A case's images grouped by series (a plain image is its own series) and documents."""
    series_rows = {
        r.id: r for r in s.scalars(select(SeriesRow).where(SeriesRow.case_id == case_id))
    }
    grouped: dict[int | None, list[AttachmentView]] = defaultdict(list)
    documents: list[AttachmentView] = []
    for a in s.scalars(
        select(AttachmentRow)
        .where(AttachmentRow.case_id == case_id)
        .order_by(AttachmentRow.series_id, AttachmentRow.sort_index, AttachmentRow.id)
    ):
        view = AttachmentView(
            a.id,
            a.kind,
            a.filename,
            project.media.path_for(a.sha256),
            a.sha256,
            a.series_id,
            a.sort_index,
            a.frame_count,
        )
        if a.kind == "document":
            documents.append(view)
        else:
            grouped[a.series_id].append(view)
    series: list[SeriesView] = []
    for sid, atts in grouped.items():
        if sid is not None:
            sr = series_rows[sid]
            series.append(
                SeriesView(sid, sr.series_uid, sr.modality or "", sr.description, tuple(atts))
            )
        else:
            for att in atts:  # each plain image is its own one-image "series"
                series.append(SeriesView(None, att.sha256, "", att.filename, (att,)))
    return tuple(series), tuple(documents)


def save_draft(
    project: Project,
    rater_id: int,
    output_id: int,
    content: RevisionContent,
    *,
    source: str = "ui",
    guideline_version: int | None = None,
    uid: str | None = None,
) -> Saved:
    """Append a revision graded with the active forms, unless identical to the newest one;
    one write transaction. ``uid`` names this save: sent again after a lost connection (its
    first COMMIT may have landed), a save whose revision exists already adds nothing."""
    with project.transaction() as s:
        rater = s.get(RaterRow, rater_id)
        if rater is None:
            raise MedreviewError("no such rater", item=str(rater_id))
        if uid is not None:
            landed = s.execute(
                select(JudgmentRevisionRow.revision_no, JudgmentRevisionRow.status)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRevisionRow.uid == uid, JudgmentRow.rater_id == rater_id,
                       JudgmentRow.output_id == output_id)).first()
            if landed is not None:
                return Saved(int(landed[0]), str(landed[1]))
        rubric, taxonomy = active_form_rows(s)
        if rubric is None:
            raise MedreviewError("the project has no rubric to grade with")
        row = append_revision(
            s,
            rater_id=rater_id,
            output_id=output_id,
            content=content,
            form_id=rubric.id,
            taxonomy_id=taxonomy.id if taxonomy else None,
            author=rater.name,
            source=save_source(s, rater_id, output_id, source),
            dedupe=True,
            guideline_version=guideline_version,
            uid=uid,
        )
        return Saved(row.revision_no if row is not None else None, content.status)


def undo_last(project: Project, rater_id: int, output_id: int) -> Undone:
    """Append a revision restoring the state before the newest (history keeps both); an undo
    right after an undo goes one state further back."""
    with project.transaction() as s:
        judgment = s.scalars(
            select(JudgmentRow).where(
                JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id
            )
        ).first()
        if judgment is None or judgment.current_revision_no < 2:
            return Undone(None, judgment.status if judgment else "todo", None)
        if retest_in_progress(s, rater_id, output_id):  # would restore the earlier answer
            return Undone(None, judgment.status, None)
        revs = s.scalars(
            select(JudgmentRevisionRow)
            .where(JudgmentRevisionRow.judgment_id == judgment.id,
                   JudgmentRevisionRow.source != RETEST_SOURCE)  # never the study answer
            .order_by(JudgmentRevisionRow.revision_no.desc())
        ).all()
        # Each undo in a row steps one state further back from the newest revision that was
        # not an undo: with 1, 2, 3 saved, undo restores 2 and the next undo restores 1
        # (restoring "the one before the newest" again would restore 2 a second time).
        undos = next((i for i, r in enumerate(revs) if r.source != "undo"), len(revs))
        target = 2 * undos + 1
        if target >= len(revs):
            return Undone(None, judgment.status, None)
        previous = revs[target]
        rater = s.get(RaterRow, rater_id)
        assert rater is not None
        row = append_revision(
            s,
            rater_id=rater_id,
            output_id=output_id,
            content=content_of(previous),
            form_id=previous.form_id,
            taxonomy_id=previous.taxonomy_id,
            author=rater.name,
            source="undo",
        )
        assert row is not None
        return Undone(row.revision_no, row.status, _draft_of(previous))


def revision_history(project: Project, rater_id: int, output_id: int) -> list[RevisionView]:
    """Every revision of the rater's judgment of an output, oldest first, with its form."""
    with project.read() as s:
        rows = s.execute(
            select(JudgmentRevisionRow, FormRow.key, FormRow.version)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(FormRow, FormRow.id == JudgmentRevisionRow.form_id)
            .where(and_(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id))
            .order_by(JudgmentRevisionRow.revision_no)
        ).all()
        if retest_in_progress(s, rater_id, output_id):  # never the earlier answers, yet
            rows = [r for r in rows if r[0].source == RETEST_SOURCE]
        return [
            RevisionView(
                r.revision_no,
                r.created_at,
                r.author,
                r.source,
                r.status,
                _draft_of(r),
                key,
                version,
            )
            for r, key, version in rows
        ]


def workload(project: Project) -> tuple[int, dict[str, int]]:
    """(assignments, judgments per status): how far the raters of a project have come."""
    with project.read() as s:
        counts = {
            str(k): int(n)
            for k, n in s.execute(
                select(JudgmentRow.status, func.count()).group_by(JudgmentRow.status)
            ).all()
        }
        items = int(s.scalar(select(func.count()).select_from(AssignmentRow)) or 0)
    return items, counts
