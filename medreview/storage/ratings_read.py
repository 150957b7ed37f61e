"""The long ratings table read column by column (the input of the project statistics).

``tables.ratings_long`` used to build one ORM entity per revision and one dict of 14 fields
per answer; at a million judgments (8M answers) those objects took minutes and gigabytes the
allocator kept after they were freed. Here one Core query returns plain tuples of just the
fields needed, fetched in batches, and each column is a list extended once per judgment
(``[value] * k``). Answers json parsed as new float and str objects per answer are replaced by
one shared object per distinct value (``SharedValues``): kept one per answer, they pinned the
memory of everything freed around them (1 GB of a 2.1 GB table at 8M answers).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from medreview.domain.not_assessed import NotAssessedTally
from medreview.storage.check_items import not_attention
from medreview.storage.models import (
    CaseRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project
from medreview.storage.rating_columns import SCORE_QUESTION_ID, question_confidences

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
           "question_id", "value", "confidence", "rationale", "status", "revision_no",
           "form_key", "form_version")
_BATCH = 20_000  # revisions fetched at a time
_PER_ANSWER = ("question_id", "value", "confidence")
_ZERO, _NEG_ZERO = 0.0, -0.0
_SHARED_MAX = 65_536  # distinct values remembered per type (then start again: bounded)


class SharedValues:
    """One object per distinct float or str answer. Equal values of one type are the same
    value (floats but for 0.0 / -0.0, shared per sign, and NaN, left alone: sets tell NaN
    objects apart); other types (bool, int, lists, dicts) are left as they are: small ints
    and bools are shared by Python already. A survivor per answer would pin the memory pool
    around it (a shared object lives in one)."""

    def __init__(self) -> None:
        self._floats: dict[float, float] = {}
        self._strs: dict[str, str] = {}

    def share(self, answers: dict[str, Any]) -> None:
        """Replace ``answers``' float and str values in place by their shared objects."""
        floats, strs = self._floats, self._strs
        for qid, v in answers.items():
            t = type(v)
            if t is float:
                if v:  # NaN too (never equal: a new entry each time, left as it is)
                    answers[qid] = floats.setdefault(v, v) if v == v else v
                else:  # 0.0 == -0.0: one shared object per sign
                    answers[qid] = _NEG_ZERO if math.copysign(1.0, v) < 0 else _ZERO
            elif t is str:
                answers[qid] = strs.setdefault(v, v)
        if len(floats) > _SHARED_MAX:
            floats.clear()
        if len(strs) > _SHARED_MAX:
            strs.clear()


def read_ratings_long(project: Project, *, pseudonymise: bool = False,
                      include_drafts: bool = False, keep_not_assessed: bool = False,
                      tally: NotAssessedTally | None = None) -> pd.DataFrame:
    """``tables.ratings_long``: same rows, order, columns and dtypes as one dict per answer.

    "Not applicable" answers and cannot-assess judgments are missing here (no row), so no
    statistic counts them (``domain.not_assessed``); ``tally`` counts them for the reports.
    ``keep_not_assessed`` keeps them as stored (exports label them)."""
    import numpy as np
    import pandas as pd

    q = (
        select(
            JudgmentRow.output_id, OutputRow.case_id, CaseRow.external_id, OutputRow.model,
            RaterRow.pseudonym if pseudonymise else RaterRow.name, RaterRow.kind,
            JudgmentRevisionRow.answers, JudgmentRevisionRow.annotations,
            JudgmentRevisionRow.confidence, JudgmentRevisionRow.overall_score,
            JudgmentRevisionRow.rationale, JudgmentRow.status, JudgmentRevisionRow.revision_no,
            FormRow.key, FormRow.version,
        )
        .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
              & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
        .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
        .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
        .join(CaseRow, CaseRow.id == OutputRow.case_id)
        .join(FormRow, FormRow.id == JudgmentRevisionRow.form_id)
        .order_by(JudgmentRow.output_id, RaterRow.id)  # as ``current_revisions``
    )
    if not include_drafts:
        q = q.where(JudgmentRow.status == "done")
    # Per answer: question, value, confidence. The other columns hold one value per judgment
    # (repeated per answer at the end, as typed arrays: no list of 8M pointers per column).
    qid_c: list[Any] = []
    value_c: list[Any] = []
    conf_c: list[float] = []
    per_judgment: dict[str, list[Any]] = {c: [] for c in COLUMNS if c not in _PER_ANSWER}
    (out_c, case_c, ext_c, model_c, rater_c, kind_c, why_c, status_c, rev_c, fkey_c,
     fver_c) = per_judgment.values()
    counts: list[int] = []
    shared = SharedValues()
    not_assessed = tally if tally is not None else NotAssessedTally()
    with project.read() as s:
        q = q.where(not_attention(s, JudgmentRow.output_id))  # attention items: not cases
        result = s.execute(q.execution_options(yield_per=_BATCH))
        for (output_id, case_id, ext, model, rater, kind, answers, annotations, conf, score,
             why, status, rev, fkey, fver) in result:
            answers = dict(answers)
            if not keep_not_assessed:
                answers = not_assessed.take(answers, kind, (output_id, rater))
            if score is not None:
                answers[SCORE_QUESTION_ID] = score
            k = len(answers)
            if not k:
                continue
            shared.share(answers)
            qid_c += answers.keys()
            value_c += answers.values()
            per_q = question_confidences(annotations) if annotations else None
            if per_q:
                conf_c += [_float(per_q.get(qid, conf)) for qid in answers]
            else:
                conf_c += [_float(conf)] * k
            counts.append(k)
            for col, v in ((out_c, output_id), (case_c, case_id), (ext_c, ext),
                           (model_c, model), (rater_c, rater), (kind_c, kind), (why_c, why),
                           (status_c, status), (rev_c, rev), (fkey_c, fkey), (fver_c, fver)):
                col.append(v)
    if not value_c:
        return pd.DataFrame([], columns=list(COLUMNS))
    reps = np.asarray(counts, dtype=np.intp)
    # A column's dtype is inferred from the set of its values, the same once per judgment
    # as once per answer; then each value is repeated for the judgment's answers.
    data: dict[str, Any] = {c: pd.Series(v).repeat(reps).array
                            for c, v in per_judgment.items()}
    data.update(question_id=qid_c, value=value_c, confidence=conf_c)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _float(conf: Any) -> float:
    return float(conf) if conf is not None else float("nan")
