"""The long ratings table read column by column (the input of the project statistics).

``tables.ratings_long`` used to build one ORM entity per revision and one dict of 14 fields
per answer; at a million judgments (8M answers) those objects took minutes and gigabytes the
allocator kept after they were freed. Here one Core query returns plain tuples of just the
fields needed, fetched in batches, and ``LongColumns`` takes the judgments a batch at a time:
each column grown by a few C-level passes over the batch, no Python call per answer (one per
judgment and per answer took 2x the time of reading and parsing the judgments). Answers json
parsed as new float and str objects per answer are replaced by one shared object per distinct
value (``_Answers``, as ``SharedValues`` does in place): kept one per answer, they pinned the
memory of everything freed around them (1 GB of a 2.1 GB table at 8M answers).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from itertools import chain
from math import nan
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from medreview.domain.not_assessed import NotAssessedTally
from medreview.errors import ProjectError
from medreview.stats.value_codes import OTHER, ValueCoder
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
from medreview.storage.revisions import gc_paused
from medreview.storage.table_read import column_batches

if TYPE_CHECKING:
    import pandas as pd

    from medreview.stats.answer_codes import AnswerCodes

COLUMNS = ("output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
           "question_id", "value", "confidence", "rationale", "status", "revision_no",
           "form_key", "form_version")
_BATCH = 20_000  # revisions fetched at a time
_PER_ANSWER = ("question_id", "value", "confidence")
_ZERO, _NEG_ZERO = 0.0, -0.0
_SHARED_MAX = 65_536  # distinct values remembered (per type in ``SharedValues``; then
# start again: bounded)
_FLUSH = 256  # judgments queued, then their answers taken in a few passes over the batch
_TEXT_TYPES = frozenset({str, type(None)})  # a per-judgment column of these: coded as read
_TEXTS_MAX = 1 << 18  # distinct texts coded per column (past that: a list, as pandas reads)


class SharedValues:
    """One object per distinct float or str answer. Equal values of one type are the same
    value (floats but for 0.0 / -0.0, shared per sign, and NaN, left alone: sets tell NaN
    objects apart); other types (bool, int, lists, dicts) are left as they are: small ints
    and bools are shared by Python already. A survivor per answer would pin the memory pool
    around it (a shared object lives in one). (``LongColumns`` shares by the same rules as
    it codes the answers, ``_Answers``; this shares one dict's values in place.)"""

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
    with gc_paused():
        return _read(project, pseudonymise, include_drafts, keep_not_assessed,
                     tally).frame(COLUMNS)


def read_ratings_coded(project: Project, *, pseudonymise: bool = False,
                       tally: NotAssessedTally | None = None) -> tuple[pd.DataFrame, AnswerCodes]:
    """``read_ratings_long``'s frame (finished judgments) and its answers' codes, which
    ``stats.project.project_stats`` reads instead of the answers' objects."""
    with gc_paused():
        return _read(project, pseudonymise, False, False, tally).frame_and_codes(COLUMNS)


def _read(project: Project, pseudonymise: bool, include_drafts: bool,
          keep_not_assessed: bool, tally: NotAssessedTally | None) -> LongColumns:
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
    columns = LongColumns([c for c in COLUMNS if c not in _PER_ANSWER])
    not_assessed = tally if tally is not None else NotAssessedTally()
    with project.read() as s:
        q = q.where(not_attention(s, JudgmentRow.output_id))  # attention items: not cases
        # (plain driver rows, each column through its type's processor: storage.table_read)
        rows = (row for batch in column_batches(s.connection(), q, _BATCH) for row in batch)
        for (output_id, case_id, ext, model, rater, kind, answers, annotations, conf, score,
             why, status, rev, fkey, fver) in rows:
            if type(answers) is not dict:  # a hostile file: one line naming the judgment
                raise unreadable_answers(project, output_id, rater, answers)
            answers = dict(answers)
            if not keep_not_assessed:
                answers = not_assessed.take(answers, kind, (output_id, rater))
            if score is not None:
                answers[SCORE_QUESTION_ID] = score
            if answers:
                per_question = None
                if annotations or (conf is not None and type(conf) is not float):
                    conf, per_question = checked_confidences(project, output_id, rater, conf,
                                                             annotations)
                columns.add((output_id, case_id, ext, model, rater, kind, why, status, rev,
                             fkey, fver), answers, conf, per_question)
    return columns


_JSON_KINDS = {list: "a list", str: "a text", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


def unreadable_answers(project: Project, output_id: Any, rater: Any,
                       answers: Any) -> ProjectError:
    """The line for a judgment whose stored answers are not a JSON object (a hostile file)."""
    return _unreadable(project, output_id, rater, "answers",
                       f"{_JSON_KINDS.get(type(answers), 'a value')}, not a JSON object")


def checked_confidences(project: Project, output_id: Any, rater: Any, conf: Any,
                        annotations: Any) -> tuple[float | None, Mapping[str, Any] | None]:
    """A stored judgment's confidence as a float (or None) and its per-question confidences
    from its annotations (or None); a value that is neither is one line naming the judgment.
    (Every reader of the long table's answers checks them here.)"""
    if conf is not None and type(conf) is not float:
        conf = _stored_float(project, output_id, rater, conf)
    if not annotations:
        return conf, None
    try:
        return conf, question_confidences(annotations)
    except (TypeError, ValueError) as exc:
        raise _unreadable(project, output_id, rater, "annotations", str(exc)) from None


def _unreadable(project: Project, output_id: Any, rater: Any, what: str,
                why: str) -> ProjectError:
    # bounded: a hostile name or value must not make the line as long as itself
    return ProjectError(f"its stored {what} cannot be read: {why[:120]}",
                        source=str(project.path),
                        item=f"the judgment of output {output_id} by {str(rater)[:60]!r}")


def _stored_float(project: Project, output_id: Any, rater: Any, conf: Any) -> float:
    """A confidence stored as something else than a float (SQLite keeps any type)."""
    try:
        return float(conf)
    except (TypeError, ValueError):
        raise _unreadable(project, output_id, rater, "confidence",
                          f"{type(conf).__name__} {str(conf)[:40]!r} is not a number") from None


class _Codes(dict[str, int]):
    """Text -> its code, a new code for a new text (``__missing__``: looked up in C);
    ``names`` the texts by code (the objects the dict keeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __missing__(self, key: str) -> int:
        code = self[key] = len(self)
        self.names.append(key)
        return code


# The answers' types whose equal values are the same value (zero floats aside): kept as keys.
_KEYED_TYPES = frozenset({str, int, float, bool, type(None)})


class _Answers(dict[tuple[type, Any], int]):
    """(type, answer) -> its entry in ``objects`` (one shared object per distinct answer
    of each type) and ``codes`` (its ``ValueCoder`` code): one look-up in C both shares
    the object (``SharedValues``' job) and codes it. Keyed by type too: True, 1 and 1.0
    share a code but stay objects of their own type. Never kept as keys (a new look-up in
    Python each time): NaN (not equal to itself: each would be a new key), zero floats
    (0.0 == -0.0: one shared object per sign) and types JSON does not make (numpy's
    floats, ``Decimal``: their equal values may differ, left as they are). Unhashable
    answers are ``other``'s."""

    def __init__(self, coder: ValueCoder) -> None:
        super().__init__()
        self._coder = coder
        self.objects: list[Any] = []
        self.codes = array("i")
        self._zeros: dict[bool, int] = {}  # negative? -> the entry of that signed zero

    def _new(self, value: Any, code: int) -> int:
        self.objects.append(value)
        self.codes.append(code)
        return len(self.objects) - 1

    def __missing__(self, key: tuple[type, Any]) -> int:
        t, v = key
        if t not in _KEYED_TYPES:  # not from JSON (numpy's floats, Decimal): as they are
            return self._new(v, self._coder[v])  # (an equal one may differ: -0 and 0)
        if t is float and not v:  # 0.0 or -0.0: one entry per sign
            neg = math.copysign(1.0, v) < 0
            entry = self._zeros.get(neg)
            if entry is None:
                zero = _NEG_ZERO if neg else _ZERO
                entry = self._zeros[neg] = self._new(zero, self._coder[zero])
            return entry
        code = self._coder[v]
        if v != v:  # NaN: left as it is, a new entry (as a key, it would never be found)
            return self._new(v, code)
        entry = self[key] = self._new(v, code)
        return entry

    def other(self, value: Any) -> int:
        """``value``'s entry, an unhashable one (a list) a new entry coded ``OTHER``."""
        try:
            return self[(type(value), value)]
        except TypeError:
            return self._new(value, OTHER)


class _JudgmentColumn:
    """One value per judgment. While every value is a text (or None) and there are not too
    many distinct ones, kept as codes (one look-up in C per value) and made a categorical
    from its distinct texts; else (numbers, mixed or too many texts) as a list of the
    values, its dtype inferred by pandas from them all, as it always was."""

    def __init__(self) -> None:
        self._texts: _Codes | None = _Codes()
        self._codes = array("i")
        self._values: list[Any] = []

    def extend(self, values: Sequence[Any]) -> None:
        texts = self._texts
        if texts is not None:
            if _TEXT_TYPES.issuperset(map(type, values)) and len(texts) < _TEXTS_MAX:
                self._codes.fromlist(list(map(texts.__getitem__, values)))
                return
            self._decode()
        self._values.extend(values)

    def _decode(self) -> None:
        """From codes to the list of values (equal texts: the same values)."""
        if self._texts is not None:
            self._values = _objects_column(self._texts.names, _int32(self._codes),
                                           as_list=True)
            self._texts, self._codes = None, array("i")

    def repeated(self, reps: Any) -> Any:
        """The column, each judgment's value repeated per answer (``reps``); texts as a
        categorical with their sorted distinct texts as categories (the order a sort or
        group-by of the text gives), codes as small as they fit."""
        import numpy as np
        import pandas as pd

        texts = self._texts
        if texts is not None:
            distinct = pd.Series(texts.names)  # the dtype all the values would infer
            if isinstance(distinct.dtype, pd.StringDtype):
                ranks, uniq = pd.factorize(distinct, sort=True)
                codes = ranks.astype(_code_dtype(len(uniq))).take(_int32(self._codes))
                self._codes = array("i")
                return pd.Categorical.from_codes(np.repeat(codes, reps), categories=uniq)
            self._decode()  # None only: the values, as pandas infers them
        s = pd.Series(self._values)  # a column's dtype inferred from its values, as per answer
        self._values = []
        if isinstance(s.dtype, pd.StringDtype):  # (a list of too many texts)
            codes, uniq = pd.factorize(s, sort=True)
            return pd.Categorical.from_codes(
                np.repeat(codes.astype(_code_dtype(len(uniq))), reps), categories=uniq)
        return s.repeat(reps).array  # numbers; None or mixed objects


class LongColumns:
    """The long table built a batch of judgments at a time, with one Python object per
    judgment and none per answer but the value: question ids as int32 codes (one str per
    distinct id), each answer an int32 index of its shared object and code (``_Answers``),
    confidences as a float array, the columns with one value per judgment kept once per
    judgment and repeated per answer at the end, their text as categoricals (a value
    repeated per answer took its bytes per answer: 0.9 of 1.3 GB at 8M answers).

    ``add`` only queues a judgment; every ``_FLUSH`` judgments their answers go through a
    few passes over the whole batch (``map`` over C methods: no Python call per answer),
    as one Python call per judgment and per answer took most of the table's time."""

    def __init__(self, per_judgment: Sequence[str]) -> None:
        self._names = list(per_judgment)
        self._cols = [_JudgmentColumn() for _ in self._names]
        self._qids = _Codes()
        self._qcodes = array("i")
        self._vcoder = ValueCoder()  # each answer's code, for the statistics (answer_codes)
        self._answers = _Answers(self._vcoder)
        self._entries = array("i")  # each answer's entry in ``_answers``
        self._conf = array("d")  # per judgment (repeated per answer at the end) ...
        self._pq_at = array("q")  # ... but for the answers with their own confidence
        self._pq_conf = array("d")
        self._counts = array("q")
        self._batch: list[tuple[Sequence[Any], dict[str, Any], Any,
                                Mapping[str, Any] | None]] = []

    def add(self, judgment: Sequence[Any], answers: dict[str, Any], conf: Any,
            per_question: Mapping[str, Any] | None = None) -> None:
        """One judgment: its per-judgment values (in ``per_judgment`` order), its non-empty
        answers by question id, its confidence (or per question, falling back to it).
        ``answers`` must not change afterwards (it is read at the batch's end)."""
        self._batch.append((judgment, answers, conf, per_question))
        if len(self._batch) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        """The queued judgments into the columns (each column grown from one list: an
        array's ``extend`` from an iterator costs twice its ``fromlist``)."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        judgments, dicts, confs, per_qs = zip(*batch, strict=True)
        del batch
        width = len(self._cols)
        if any(n != width for n in set(map(len, judgments))):
            raise ValueError(f"a judgment's values are not the {width} columns {self._names}")
        counts = list(map(len, dicts))
        if any(per_qs):  # per-question confidences: those judgments' answers one by one
            conf = [nan] * len(confs)
            at = len(self._entries)
            for i, (d, c, pq, n) in enumerate(zip(dicts, confs, per_qs, counts, strict=True)):
                if pq:
                    self._pq_at.extend(range(at, at + n))
                    self._pq_conf.fromlist([_float(pq.get(q, c)) for q in d])
                else:
                    conf[i] = _float(c)
                at += n
        else:
            conf = [nan if c is None else float(c) for c in confs]  # (``_float``)
        qcodes = list(map(self._qids.__getitem__, chain.from_iterable(dicts)))
        values = list(chain.from_iterable(map(dict.values, dicts)))
        del dicts
        answers = self._answers
        if len(answers) > _SHARED_MAX:
            answers.clear()
        try:
            entries = list(map(answers.__getitem__, zip(map(type, values), values, strict=True)))
        except TypeError:  # an unhashable answer (a list): one by one
            entries = list(map(answers.other, values))
        self._entries.fromlist(entries)
        self._qcodes.fromlist(qcodes)
        self._conf.fromlist(conf)
        self._counts.fromlist(counts)
        for col, column in zip(self._cols, zip(*judgments, strict=True), strict=True):
            col.extend(column)

    def frame_and_codes(self, columns: Sequence[str]) -> tuple[pd.DataFrame, AnswerCodes]:
        """``frame`` and its answers' codes (``stats.answer_codes``), row for row."""
        import numpy as np

        from medreview.stats.answer_codes import AnswerCodes

        df = self.frame(columns)
        codes = np.frombuffer(self._answers.codes, dtype=np.int32).take(self._entry_index()) \
            if len(df) else np.zeros(0, dtype=np.int32)
        return df, AnswerCodes(df, codes, self._vcoder.uniques)

    def _entry_index(self) -> Any:
        return _int32(self._entries)

    def _value_column(self) -> Any:
        return _objects_column(self._answers.objects, self._entry_index())

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """The table with ``columns`` (the per-judgment ones, question_id, value,
        confidence); its text columns categoricals with sorted categories (the order a sort
        or group-by of the text gives)."""
        import numpy as np
        import pandas as pd

        self._flush()
        if not self._entries:
            return pd.DataFrame([], columns=list(columns))
        reps = np.frombuffer(self._counts, dtype=np.int64)
        data: dict[str, Any] = {}
        for name, col in zip(self._names, self._cols, strict=True):
            data[name] = col.repeated(reps)
        qids = self._qids.names
        order = sorted(range(len(qids)), key=qids.__getitem__)
        rank = np.empty(len(qids), dtype=np.int32)
        rank[order] = np.arange(len(qids), dtype=np.int32)
        data["question_id"] = pd.Categorical.from_codes(
            rank.take(np.frombuffer(self._qcodes, dtype=np.int32)),
            categories=pd.Index([qids[i] for i in order]))
        data["value"] = self._value_column()
        conf = np.repeat(np.frombuffer(self._conf, dtype=np.float64), reps)
        conf[np.frombuffer(self._pq_at, dtype=np.int64)] = np.frombuffer(self._pq_conf,
                                                                         dtype=np.float64)
        data["confidence"] = conf
        # (copy=False: the columns are new and this frame's alone; a copy of each took 1.3 s
        # at 8M answers)
        return pd.DataFrame(data, columns=list(columns), copy=False)


_OBJECT_TYPES = (list, dict)  # answers of these types: pandas keeps the column as objects


def _int32(codes: array[int]) -> Any:
    import numpy as np

    return np.frombuffer(codes, dtype=np.int32)


def _objects_column(objects: list[Any], entries: Any, *, as_list: bool = False) -> Any:
    """The ``value`` column: each answer's shared object by its entry (``as_list``: a
    list, whatever the objects). Pandas infers a
    list's dtype from its values (all floats: float64) but not an object array's, so an
    object array only where the list would give one anyway: some answer a list or a dict,
    or bools beside ints (``True == 1``: pandas never merges them). Else the list."""
    import numpy as np
    import pandas as pd

    column = np.fromiter(objects, dtype=object, count=len(objects)).take(entries)
    types = set(map(type, objects))
    if not as_list and (types.intersection(_OBJECT_TYPES) or {bool, int} <= types):
        return pd.Series(column, dtype=object, copy=False).array
    return column.tolist()


def _code_dtype(n: int) -> Any:
    import numpy as np

    return np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32


def _float(conf: Any) -> float:
    return float(conf) if conf is not None else float("nan")
