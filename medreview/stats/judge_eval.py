"""Judge versions against gold on a held-out split: the judge development loop's numbers.

Input is plain tables (``storage.tables.ratings_long`` / ``gold_table`` and the questions), the
judge raters to compare ("versions": one judge run each, e.g. two prompt versions) and a
case -> part map (``domain.split``). Everything is computed on the items of one part (``test``
by default); only the calibration map is fitted, and only on ``train``.

* **Gold** per (output, question): the stored gold label, else what the physicians' answers
  settle (``domain.consensus.derive_gold``: single rater, unanimous or strict majority); an
  item the physicians split on without an adjudicated label has no gold and is left out.
* **Per question** (criteria, ordinal, single-choice and pairwise questions; per-case criteria
  pooled as ``criterion:*``): accuracy, F1 (binary: of "met"; otherwise macro over classes) and
  Cohen's kappa of each version against gold, on the items every version answered; the
  **physician ceiling** (every ordered pair of different physicians on the same item, pooled:
  percent agreement, F1 and kappa); each version's kappa against the physicians themselves
  (pooled judge x physician pairs, the same reference as the ceiling); and each later
  version's difference from the first. CIs are percentile bootstraps over *cases* (all
  outputs of a case move together); versions are resampled with the same cases, so the CI of
  a difference is paired.
* **Calibration**: the judge's confidence against "its answer equals gold", isotonic (pool
  adjacent violators) or Platt, fitted on train and applied to the evaluated part; ECE and
  Brier before and after.
* **Self-preference**: mean signed difference judge - gold (criteria signed by their points, so
  positive = more lenient; ordinal values scaled to 0-1) for answers from the judge's own model
  family and for the others, and the difference between the two, with CIs.
* **Abstention**: where a physician could not assess an item (no value, or a value such as
  "cannot assess" / "N/A"), how often the judge gave no answer, next to the rate elsewhere.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medreview.domain.consensus import answer_key, derive_gold
from medreview.domain.not_assessed import (
    ALL_QUESTIONS,
    CANNOT_WORDS,
    NA_WORDS,
    NOT_APPLICABLE,
    is_not_applicable,
)
from medreview.domain.rubric import CASE_CRITERION_PREFIX, Question, QuestionKind
from medreview.errors import StatsError
from medreview.stats.bootstrap import bootstrap_ci
from medreview.stats.calibration import calibration
from medreview.stats.coding import FloatArray
from medreview.stats.recalibration import Method, fit
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED

POOLED = "criterion:*"
MAX_FEATURE_ELEMENTS = 8_000_000  # per-case bootstrap table of one question (64 MB)
METRICS = ("accuracy", "f1", "kappa")
# Words for "cannot be assessed" in values from elsewhere (stored answers use the markers of
# ``domain.not_assessed``: prior-rating imports turn these words into them).
NOT_ASSESSED = NA_WORDS | CANNOT_WORDS | {"unknown"}
_KINDS = (QuestionKind.CRITERION, QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE,
          QuestionKind.PAIRWISE)


@dataclass(frozen=True)
class Version:
    """One judge to evaluate: a label for tables, its rater name, its model."""

    label: str
    rater: str
    model: str = ""


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float = math.nan
    high: float = math.nan

    def to_dict(self) -> dict[str, float | None]:
        return {k: (v if math.isfinite(v) else None)
                for k, v in (("value", self.value), ("low", self.low), ("high", self.high))}


NAN = Estimate(math.nan)


@dataclass(frozen=True)
class MetricRow:
    question_id: str
    question: str  # a short label
    metric: str  # accuracy | f1 | kappa | kappa_vs_physicians
    n_items: int  # gold items every version answered (kappa_vs_physicians: judged items)
    n_cases: int
    versions: tuple[Estimate, ...]  # in the order of the versions
    differences: tuple[Estimate, ...]  # version k minus version 0, for k >= 1
    ceiling: Estimate  # physician vs physician on the same items


@dataclass(frozen=True)
class CalibrationRow:
    version: str
    method: str
    n_train: int
    n_test: int
    ece_before: float
    ece_after: float
    brier_before: float
    brier_after: float
    train_cases: frozenset[str] = frozenset()  # the cases the map was fitted on
    note: str = ""


@dataclass(frozen=True)
class SelfPreferenceRow:
    version: str
    family: str
    same_family: Estimate  # mean judge - gold on answers from the judge's family
    other_family: Estimate
    difference: Estimate  # same - other: > 0 means the judge favours its own family
    n_same: int
    n_other: int
    note: str = ""


@dataclass(frozen=True)
class AbstentionRow:
    version: str
    n_cannot_assess: int  # items a physician could not assess
    judge_abstained: int  # ... on which the judge gave no answer
    rate_cannot_assess: Estimate
    n_assessed: int
    rate_assessed: Estimate  # abstention where the physicians did assess


@dataclass(frozen=True)
class JudgeEvaluation:
    versions: tuple[Version, ...]
    part: str
    n_cases: int  # cases of the part with gold items
    metrics: tuple[MetricRow, ...]
    calibration: tuple[CalibrationRow, ...]
    self_preference: tuple[SelfPreferenceRow, ...]
    abstention: tuple[AbstentionRow, ...]
    notes: tuple[str, ...] = field(default=())


# --- items -------------------------------------------------------------------------------


def not_assessed(value: Any) -> bool:
    """No answer, "not applicable" / "cannot assess" as stored (``domain.not_assessed``), or
    one of the words for it in a value from elsewhere (a gold label, a judge's text)."""
    if value is None or is_not_applicable(value):
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in NOT_ASSESSED


@dataclass
class _Item:
    case: str
    output_id: int
    model: str
    qid: str  # the real question id (per-case criteria keep theirs)
    group: str  # the question it is analysed under (per-case criteria: POOLED)
    physicians: dict[str, Any] = field(default_factory=dict)
    judges: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    gold: Any = None
    has_gold: bool = False


def _group(qid: str, questions: Mapping[str, Question]) -> str | None:
    if qid.startswith(CASE_CRITERION_PREFIX):
        return POOLED
    q = questions.get(qid)
    if q is None or q.kind not in _KINDS:
        return None
    return qid


def _kind_of(group: str, questions: Mapping[str, Question]) -> QuestionKind:
    return QuestionKind.CRITERION if group == POOLED else questions[group].kind


def categories_of(group: str, questions: Mapping[str, Question]) -> tuple[Any, ...]:
    if group == POOLED:
        return (False, True)
    q = questions[group]
    if q.kind is QuestionKind.CRITERION:
        return (False, True)
    values = tuple(q.option_values())
    if not values and q.kind is QuestionKind.PAIRWISE:
        return ("A", "B", "tie")
    return values


def collect_items(ratings: Any, gold: Any, questions: Mapping[str, Question],
                  versions: Sequence[Version],
                  marks: Mapping[tuple[Any, Any], frozenset[str]] | None = None) -> list[_Item]:
    """One record per (output, question) of a supported kind that a physician or a version
    answered, with the gold label where there is one. ``marks`` are the physicians' "not
    applicable" / "cannot assess" marks (``NotAssessedTally.marks``; the ratings table has no
    row for them): they enter as ``NOT_APPLICABLE`` answers, which every metric leaves out
    and the abstention table reads."""
    judges = {v.rater: v.label for v in versions}
    items: dict[tuple[int, str], _Item] = {}
    cols = ["output_id", "case_external_id", "model", "rater", "rater_kind", "question_id",
            "value", "confidence"]
    missing = [c for c in cols if c not in ratings.columns]
    if missing:
        raise StatsError(f"the ratings table lacks {', '.join(missing)}", item="ratings")
    for oid, case, model, rater, kind, qid, value, conf in ratings[cols].itertuples(
            index=False, name=None):
        qid = str(qid)
        group = _group(qid, questions)
        if group is None:
            continue
        if kind == "physician":
            label = None
        elif rater in judges:
            label = judges[rater]
        else:
            continue
        item = items.get((int(oid), qid))
        if item is None:
            item = items[(int(oid), qid)] = _Item(str(case), int(oid), str(model), qid, group)
        if label is None:
            item.physicians[str(rater)] = value
        else:
            item.judges[label] = value
            if conf is not None and math.isfinite(float(conf)):
                item.confidence[label] = float(conf)
    if marks:
        by_output: dict[int, list[_Item]] = defaultdict(list)
        for (oid, _), item in items.items():
            by_output[oid].append(item)
        for (oid, rater), qids in marks.items():
            for item in by_output.get(int(oid), ()):
                if qids == ALL_QUESTIONS or item.qid in qids:
                    item.physicians.setdefault(str(rater), NOT_APPLICABLE)
    stored: dict[tuple[int, str], Any] = {}
    if gold is not None and len(gold):
        for oid, qid, value in gold[["output_id", "question_id", "value"]].itertuples(
                index=False, name=None):
            stored[(int(oid), str(qid))] = value
    for key, item in items.items():
        if key in stored:
            item.gold, item.has_gold = stored[key], not not_assessed(stored[key])
            continue
        assessed = [v for v in item.physicians.values() if not not_assessed(v)]
        settled = derive_gold(assessed, _kind_of(item.group, questions))
        if settled is not None:
            item.gold, item.has_gold = settled[0], True
    return list(items.values())


# --- metrics on confusion matrices (rows = reference, columns = rated) ----------------------


def _metric_batch(m: FloatArray, metric: str, positive: int | None) -> FloatArray:
    """``metric`` of a stack of q x q confusion matrices (B, q, q); NaN where undefined."""
    total = m.sum(axis=(1, 2))
    diag = np.diagonal(m, axis1=1, axis2=2)
    safe = np.where(total > 0, total, 1.0)
    if metric == "accuracy":
        acc: FloatArray = np.where(total > 0, diag.sum(axis=1) / safe, np.nan)
        return acc
    rows = m.sum(axis=2)
    cols = m.sum(axis=1)
    if metric == "kappa":
        po = diag.sum(axis=1) / safe
        pe = (rows * cols).sum(axis=1) / safe**2
        kappa: FloatArray = np.where((total > 0) & (pe < 1 - 1e-12),
                                     (po - pe) / np.where(pe < 1 - 1e-12, 1 - pe, 1.0), np.nan)
        return kappa
    if metric == "f1":
        denom = rows + cols  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (row + column)
        f1 = np.where(denom > 0, 2 * diag / np.where(denom > 0, denom, 1.0), np.nan)
        if positive is not None:
            out: FloatArray = f1[:, positive]
            return out
        present = denom > 0
        n = present.sum(axis=1)
        macro: FloatArray = np.where(n > 0, np.where(present, f1, 0.0).sum(axis=1)
                                     / np.where(n > 0, n, 1), np.nan)
        return macro
    raise StatsError(f"unknown metric {metric!r}", item="metric")


@dataclass(frozen=True)
class _Options:
    ci: bool
    n_resamples: int
    seed: int
    level: float


def _estimate(features: FloatArray, fn: Callable[[FloatArray], FloatArray],
              opts: _Options) -> Estimate:
    """The statistic on all cases, with a percentile bootstrap CI over cases (rows)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(fn(features.sum(axis=0)[None, :])[0])
    if not opts.ci or not math.isfinite(value):
        return Estimate(value)
    b = bootstrap_ci(features, fn, n_resamples=opts.n_resamples, seed=opts.seed,
                     level=opts.level)
    return Estimate(value, b.low, b.high) if b else Estimate(value)


def block_of(k: int, qq: int) -> slice:
    return slice(k * qq, (k + 1) * qq)


def _question_rows(group: str, label: str, items: list[_Item], labels: list[str],
                   cats: tuple[Any, ...], kind: QuestionKind, opts: _Options) -> list[MetricRow]:
    q = len(cats)
    code = {answer_key(kind, c): i for i, c in enumerate(cats)}

    def c(v: Any) -> int:
        if not_assessed(v):
            return -1
        try:
            return code.get(answer_key(kind, v), -1)
        except TypeError:
            return -1

    cases = sorted({it.case for it in items})
    nv = len(labels)
    qq = q * q
    width = (2 * nv + 1) * qq
    # A question with very many options on very many cases would need a huge per-case table:
    # then every case is one row (point estimates, no CI) rather than unbounded memory.
    collapsed = len(cases) * width > MAX_FEATURE_ELEMENTS
    case_ix = {k: (0 if collapsed else i) for i, k in enumerate(cases)}
    if collapsed:
        opts = _Options(False, opts.n_resamples, opts.seed, opts.level)
    # Per case: each version's confusion vs gold, the physician-pair confusion, and each
    # version's confusion vs the individual physicians.
    feats = np.zeros((1 if collapsed else len(cases), width))
    n_common = 0
    common_cases: set[str] = set()
    judged_pairs = 0
    for it in items:
        row = case_ix[it.case]
        phys = [c(v) for v in it.physicians.values()]
        counts = np.bincount([p for p in phys if p >= 0], minlength=q).astype(np.float64)
        n_phys = int(counts.sum())
        # Ordered pairs of different physicians: n_a * n_b off the diagonal, n (n - 1) on it.
        pairs = np.outer(counts, counts) - np.diag(counts)
        feats[row, block_of(nv, qq)] += pairs.ravel()
        jc = [c(it.judges.get(lab)) for lab in labels]
        for k, j in enumerate(jc):
            if j >= 0:
                feats[row, (nv + 1 + k) * qq + j: (nv + 2 + k) * qq: q] += counts
                judged_pairs += n_phys if k == 0 else 0
        g = c(it.gold) if it.has_gold else -1
        if g >= 0 and all(j >= 0 for j in jc):
            n_common += 1
            common_cases.add(it.case)
            for k, j in enumerate(jc):
                feats[row, k * qq + g * q + j] += 1
    positive = 1 if kind is QuestionKind.CRITERION else None

    def block(k: int) -> slice:
        return slice(k * qq, (k + 1) * qq)

    def metric_of(sl: slice, metric: str) -> Callable[[FloatArray], FloatArray]:
        return lambda s: _metric_batch(s[:, sl].reshape(-1, q, q), metric, positive)

    def diff_of(first: slice, other: slice, metric: str) -> Callable[[FloatArray], FloatArray]:
        fa, fb = metric_of(first, metric), metric_of(other, metric)
        return lambda s: fb(s) - fa(s)

    rows: list[MetricRow] = []
    ceiling_sl = block(nv)
    for metric in METRICS:
        versions = tuple(_estimate(feats, metric_of(block(k), metric), opts)
                         for k in range(nv))
        diffs = tuple(_estimate(feats, diff_of(block(0), block(k), metric), opts)
                      for k in range(1, nv))
        ceiling = _estimate(feats, metric_of(ceiling_sl, metric), opts)
        rows.append(MetricRow(group, label, metric, n_common, len(common_cases), versions,
                              diffs, ceiling))
    vs_phys = tuple(_estimate(feats, metric_of(block(nv + 1 + k), "kappa"), opts)
                    for k in range(nv))
    vs_diffs = tuple(_estimate(feats, diff_of(block(nv + 1), block(nv + 1 + k), "kappa"), opts)
                     for k in range(1, nv))
    rows.append(MetricRow(group, label, "kappa_vs_physicians", judged_pairs,
                          len({it.case for it in items
                               if any(not not_assessed(v) for v in it.physicians.values())}),
                          vs_phys, vs_diffs,
                          _estimate(feats, metric_of(ceiling_sl, "kappa"), opts)))
    return rows


# --- calibration, self-preference, abstention -----------------------------------------------


def _correct(it: _Item, label: str, kind: QuestionKind) -> bool | None:
    v = it.judges.get(label)
    if not it.has_gold or not_assessed(v):
        return None
    try:
        return bool(answer_key(kind, v) == answer_key(kind, it.gold))
    except TypeError:
        return None


def calibrate_version(items: Sequence[_Item], label: str, questions: Mapping[str, Question],
                      split: Mapping[str, str], part: str, method: Method) -> CalibrationRow:
    """Fit on the items of train cases only; ECE/Brier before and after on ``part``."""
    train_x: list[float] = []
    train_y: list[float] = []
    test_x: list[float] = []
    test_y: list[float] = []
    train_cases: set[str] = set()
    for it in items:
        conf = it.confidence.get(label)
        ok = _correct(it, label, _kind_of(it.group, questions))
        if conf is None or ok is None or not 0.0 <= conf <= 1.0:
            continue
        where = split.get(it.case)
        if where == "train":
            train_x.append(conf)
            train_y.append(float(ok))
            train_cases.add(it.case)
        elif where == part:
            test_x.append(conf)
            test_y.append(float(ok))
    nan = math.nan
    if len(test_x) < 2:
        return CalibrationRow(label, method, len(train_x), len(test_x), nan, nan, nan, nan,
                              frozenset(train_cases),
                              f"fewer than 2 {part} items with a confidence")
    before = calibration(test_x, test_y)
    if len(train_x) < 2:
        return CalibrationRow(label, method, len(train_x), len(test_x), before.ece, nan,
                              before.brier, nan, frozenset(train_cases),
                              "fewer than 2 training items with a confidence: no fit")
    mapping = fit(method, train_x, train_y)
    after = calibration(np.clip(mapping(np.asarray(test_x)), 0.0, 1.0), test_y)
    return CalibrationRow(label, method, len(train_x), len(test_x), before.ece, after.ece,
                          before.brier, after.brier, frozenset(train_cases))


_FAMILY_ALIASES = {"chatgpt": "gpt", "o1": "gpt", "o3": "gpt", "o4": "gpt", "meta": "llama",
                   "codellama": "llama", "gemma": "gemini", "mixtral": "mistral",
                   "ministral": "mistral", "qwq": "qwen"}


def model_family(model: str) -> str:
    """The family of a model name: its last path part's leading word, lowercased
    (``gpt-4o-mini`` -> ``gpt``, ``meta-llama/Llama-3-8B`` -> ``llama``, ``qwen2.5:7b`` ->
    ``qwen``)."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    m = re.match(r"[a-z]+", name) or re.match(r"[a-z0-9]+", name)
    word = m.group(0) if m else name
    return _FAMILY_ALIASES.get(word, word)


def _score(it_value: Any, kind: QuestionKind, cats: tuple[Any, ...],
           points: float | None) -> float | None:
    if not_assessed(it_value):
        return None
    if kind is QuestionKind.CRITERION:
        if not isinstance(it_value, bool):
            return None
        return (1.0 if it_value else 0.0) * (-1.0 if (points or 1.0) < 0 else 1.0)
    if kind is QuestionKind.ORDINAL:
        nums = [float(c) for c in cats if isinstance(c, int | float) and not isinstance(c, bool)]
        if len(nums) < 2 or isinstance(it_value, bool) or not isinstance(it_value, int | float):
            return None
        lo, hi = min(nums), max(nums)
        return (float(it_value) - lo) / (hi - lo) if hi > lo else None
    return None


def self_preference(items: Sequence[_Item], version: Version, questions: Mapping[str, Question],
                    points: Mapping[tuple[str, str], float], opts: _Options) -> SelfPreferenceRow:
    family = model_family(version.model)
    cases = sorted({it.case for it in items})
    ix = {k: i for i, k in enumerate(cases)}
    feats = np.zeros((len(cases), 4))  # sum diff same, n same, sum diff other, n other
    cats_cache: dict[str, tuple[Any, ...]] = {}
    for it in items:
        if not it.has_gold:
            continue
        kind = _kind_of(it.group, questions)
        cats = cats_cache.setdefault(it.group, categories_of(it.group, questions))
        pts = points.get((it.case, it.qid))
        if pts is None and it.qid in questions:
            pts = questions[it.qid].points
        j = _score(it.judges.get(version.label), kind, cats, pts)
        g = _score(it.gold, kind, cats, pts)
        if j is None or g is None:
            continue
        col = 0 if model_family(it.model) == family else 2
        feats[ix[it.case], col] += j - g
        feats[ix[it.case], col + 1] += 1
    same = _estimate(feats, lambda s: s[:, 0] / s[:, 1], opts)
    other = _estimate(feats, lambda s: s[:, 2] / s[:, 3], opts)
    diff = _estimate(feats, lambda s: s[:, 0] / s[:, 1] - s[:, 2] / s[:, 3], opts)
    n_same, n_other = int(feats[:, 1].sum()), int(feats[:, 3].sum())
    note = ""
    if not n_same:
        note = f"no graded answer comes from the judge's family ({family})"
    elif not n_other:
        note = f"every graded answer comes from the judge's family ({family})"
    return SelfPreferenceRow(version.label, family, same, other, diff, n_same, n_other, note)


def abstention(items: Sequence[_Item], label: str, judged_outputs: frozenset[int],
               opts: _Options) -> AbstentionRow:
    cases = sorted({it.case for it in items})
    ix = {k: i for i, k in enumerate(cases)}
    feats = np.zeros((len(cases), 4))  # abstained | CA, n CA, abstained | assessed, n assessed
    for it in items:
        if it.output_id not in judged_outputs or not it.physicians:
            continue
        abstained = float(not_assessed(it.judges.get(label)))
        cannot = any(not_assessed(v) for v in it.physicians.values())
        col = 0 if cannot else 2
        feats[ix[it.case], col] += abstained
        feats[ix[it.case], col + 1] += 1
    return AbstentionRow(
        label, int(feats[:, 1].sum()), int(feats[:, 0].sum()),
        _estimate(feats, lambda s: s[:, 0] / s[:, 1], opts), int(feats[:, 3].sum()),
        _estimate(feats, lambda s: s[:, 2] / s[:, 3], opts))



# --- the whole evaluation ----------------------------------------------------------------------


def evaluate(ratings: Any, gold: Any, questions: Mapping[str, Question],
             versions: Sequence[Version], split: Mapping[str, str], *, part: str = "test",
             method: Method = "isotonic", points: Mapping[tuple[str, str], float] | None = None,
             ci: bool = True, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
             level: float = 0.95,
             marks: Mapping[tuple[Any, Any], frozenset[str]] | None = None) -> JudgeEvaluation:
    """Every table of the judge evaluation (see the module doc) on the cases of ``part``;
    ``marks`` as ``collect_items``."""
    if not versions:
        raise StatsError("no judge version to evaluate", item="runs")
    labels = [v.label for v in versions]
    if len(set(labels)) != len(labels):
        raise StatsError("two versions share a label", item="runs")
    opts = _Options(ci, n_resamples, seed, level)
    items = collect_items(ratings, gold, questions, versions, marks)
    in_part = [it for it in items if split.get(it.case) == part]
    gold_cases = {it.case for it in in_part if it.has_gold}
    if not in_part:
        raise StatsError(f"the {part} split has no rated item", item=part)
    if not gold_cases:
        raise StatsError(f"no item of the {part} split has a gold label (adjudicate, or let "
                         "two or more physicians rate the same answers)", item=part)
    by_group: dict[str, list[_Item]] = defaultdict(list)
    for it in in_part:
        by_group[it.group].append(it)
    order = [q for q in questions if q in by_group] + ([POOLED] if POOLED in by_group else [])
    metrics: list[MetricRow] = []
    for group in order:
        kind = _kind_of(group, questions)
        label = "per-case criteria (pooled)" if group == POOLED else questions[group].prompt
        metrics += _question_rows(group, label, by_group[group], labels,
                                  categories_of(group, questions), kind, opts)
    judged: dict[str, set[int]] = defaultdict(set)
    for it in items:
        for lab in it.judges:
            judged[lab].add(it.output_id)
    calib = tuple(calibrate_version(items, v.label, questions, split, part, method)
                  for v in versions)
    prefs = tuple(self_preference(in_part, v, questions, points or {}, opts) for v in versions)
    abst = tuple(abstention(in_part, v.label, frozenset(judged[v.label]), opts)
                 for v in versions)
    notes = []
    for v in versions:
        if v.label not in judged:
            notes.append(f"{v.label}: the judge answered no question of a supported kind")
    return JudgeEvaluation(tuple(versions), part, len(gold_cases), tuple(metrics), calib,
                           prefs, abst, tuple(notes))
