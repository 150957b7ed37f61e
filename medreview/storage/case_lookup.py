"""Look-ups of stored cases and outputs that imports check their records against."""

from __future__ import annotations

from sqlalchemy import select

from medreview.storage.models import CaseCriterionRow, CaseRow, OutputRow
from medreview.storage.project import Project


def case_criterion_keys(project: Project) -> dict[str, frozenset[str]]:
    """Case external id -> the keys of its per-case criteria (cases without any are absent)."""
    criteria: dict[str, set[str]] = {}
    with project.read() as s:
        rows = s.execute(
            select(CaseRow.external_id, CaseCriterionRow.key).join(
                CaseCriterionRow, CaseCriterionRow.case_id == CaseRow.id
            )
        )
        for external_id, key in rows:
            criteria.setdefault(external_id, set()).add(key)
    return {k: frozenset(v) for k, v in criteria.items()}


def output_ids_by_identity(project: Project) -> dict[tuple[str, str, str], str | None]:
    """(case external id, model, sha256 of the text) -> the stored output's external id.

    An output's identity is (case, model, text); where several rows share it (older data)
    the first stored wins, as in the ingest.
    """
    with project.read() as s:
        return {
            (case, model, sha): ext
            for case, model, sha, ext in s.execute(
                select(CaseRow.external_id, OutputRow.model, OutputRow.text_sha256,
                       OutputRow.external_id)
                .join(CaseRow, CaseRow.id == OutputRow.case_id)
                .order_by(OutputRow.id.desc())
            )
        }
