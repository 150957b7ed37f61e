"""The long table's builder as it was before the batch rewrite (``storage.ratings_read`` at
commit 310512f: ``SharedValues`` and ``LongColumns`` one judgment at a time), kept verbatim as
the reference the fast builder must equal (``test_ratings_read_fast``)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from medreview.stats.value_codes import ValueCoder

if TYPE_CHECKING:
    import pandas as pd

    from medreview.stats.answer_codes import AnswerCodes

_NEG_ZERO, _ZERO = -0.0, 0.0
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



class _Codes(dict[str, int]):
    """Text -> its code, a new code for a new text (``__missing__``: looked up in C)."""

    def __missing__(self, key: str) -> int:
        code = self[key] = len(self)
        return code


class LongColumns:
    """The long table built one judgment at a time, with one Python object per judgment and
    none per answer but the value: question ids as int32 codes (one str per distinct id),
    confidences as a float array, the columns with one value per judgment kept once per
    judgment and repeated per answer at the end, their text as categoricals (a value
    repeated per answer took its bytes per answer: 0.9 of 1.3 GB at 8M answers)."""

    def __init__(self, per_judgment: Sequence[str]) -> None:
        self._names = list(per_judgment)
        self._cols: list[list[Any]] = [[] for _ in self._names]
        self._qids = _Codes()
        self._qcodes = array("i")
        self._values: list[Any] = []
        self._vcoder = ValueCoder()  # each answer's code, for the statistics (answer_codes)
        self._vcodes = array("i")
        self._conf = array("d")
        self._counts = array("q")
        self._shared = SharedValues()

    def add(self, judgment: Sequence[Any], answers: dict[str, Any], conf: Any,
            per_question: Mapping[str, Any] | None = None) -> None:
        """One judgment: its per-judgment values (in ``per_judgment`` order), its non-empty
        answers by question id, its confidence (or per question, falling back to it)."""
        self._shared.share(answers)
        self._qcodes.extend(map(self._qids.__getitem__, answers))
        self._values += answers.values()
        vcodes, n = self._vcodes, len(self._vcodes)
        try:
            vcodes.extend(map(self._vcoder.__getitem__, answers.values()))
        except TypeError:  # an unhashable answer (a list): one by one
            del vcodes[n:]
            vcodes.extend(map(self._vcoder.code, answers.values()))
        if per_question:
            self._conf.extend([_float(per_question.get(qid, conf)) for qid in answers])
        else:
            self._conf.extend([_float(conf)] * len(answers))
        self._counts.append(len(answers))
        for col, v in zip(self._cols, judgment, strict=True):
            col.append(v)

    def frame_and_codes(self, columns: Sequence[str]) -> tuple[pd.DataFrame, AnswerCodes]:
        """``frame`` and its answers' codes (``stats.answer_codes``), row for row."""
        import numpy as np

        from medreview.stats.answer_codes import AnswerCodes

        df = self.frame(columns)
        codes = np.frombuffer(self._vcodes, dtype=np.int32) if len(df) \
            else np.zeros(0, dtype=np.int32)
        return df, AnswerCodes(df, codes, self._vcoder.uniques)

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """The table with ``columns`` (the per-judgment ones, question_id, value,
        confidence); its text columns categoricals with sorted categories (the order a sort
        or group-by of the text gives)."""
        import numpy as np
        import pandas as pd

        if not self._values:
            return pd.DataFrame([], columns=list(columns))
        reps = np.frombuffer(self._counts, dtype=np.int64)
        data: dict[str, Any] = {}
        for name, col in zip(self._names, self._cols, strict=True):
            s = pd.Series(col)  # a column's dtype inferred from its values, as per answer
            col.clear()
            if not isinstance(s.dtype, pd.StringDtype):  # numbers; None or mixed objects
                data[name] = s.repeat(reps).array
                continue
            codes, uniq = pd.factorize(s, sort=True)
            data[name] = pd.Categorical.from_codes(
                np.repeat(codes.astype(_code_dtype(len(uniq))), reps), categories=uniq)
        qids = list(self._qids)
        order = sorted(range(len(qids)), key=qids.__getitem__)
        rank = np.empty(len(qids), dtype=np.int32)
        rank[order] = np.arange(len(qids), dtype=np.int32)
        data["question_id"] = pd.Categorical.from_codes(
            rank.take(np.frombuffer(self._qcodes, dtype=np.int32)),
            categories=pd.Index([qids[i] for i in order]))
        data["value"] = self._values
        data["confidence"] = np.frombuffer(self._conf, dtype=np.float64).copy()
        return pd.DataFrame(data, columns=list(columns))


def _code_dtype(n: int) -> Any:
    import numpy as np

    return np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32


def _float(conf: Any) -> float:
    return float(conf) if conf is not None else float("nan")
