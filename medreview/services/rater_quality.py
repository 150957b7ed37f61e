"""Rater quality for the lead: test-retest, drift against the panel and time per item, per
physician (``medreview raters`` and the dashboard's Raters tab).

One question at a time (coefficients of different questions do not pool): by default the
categorical question with the most answers. Reading (``load_rater_inputs``) and computing
(``compute_rater_report``) are separate so the screen computes off the UI thread.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from medreview.domain.rubric import CASE_CRITERION_PREFIX, Question, QuestionKind
from medreview.errors import InputError
from medreview.services.questions import project_questions
from medreview.stats.gold_accuracy import (
    RaterAccuracy,
    ScoredItem,
    Share,
    item_correct,
    rater_accuracy,
)
from medreview.stats.rater_quality import (
    Answer,
    Coefficient,
    DriftWindow,
    TimeSummary,
    Window,
    busiest,
    categories_of,
    done_per_day,
    drift_by_rater,
    retest,
    scale_of,
    time_summary,
    usable_times,
)
from medreview.storage.check_items import HiddenItems, hidden_items
from medreview.storage.project import Project
from medreview.storage.rater_quality import (
    FinalJudgment,
    RaterRecords,
    RetestPair,
    rater_records,
)
from medreview.storage.revisions import gc_paused

DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_DELAY_DAYS = 7.0
MAX_WINDOW_ITEMS = 100_000
MAX_DELAY_DAYS = 3650  # ten years; far beyond any study, and inside what a timedelta holds
# All per-case criteria pooled: each is met / not met, so (output, criterion) is one binary unit
# (HealthBench reports criterion-level agreement the same way).
CRITERIA = "criteria"
CRITERIA_QUESTION = Question(CRITERIA, QuestionKind.CRITERION, "all case criteria (met / not met)")


@dataclass(frozen=True)
class RaterInputs:
    records: RaterRecords
    questions: dict[str, Question]
    hidden: HiddenItems = field(default_factory=lambda: HiddenItems((), {}))


@dataclass(frozen=True)
class RaterQuality:
    rater: str
    n_done: int
    time: TimeSummary
    per_day: tuple[tuple[dt.date, int, int], ...]  # (day, finished, cumulative)
    n_retest: int  # retest pairs at least the minimum delay apart
    n_retest_too_soon: int  # retest pairs closer than the delay, left out
    retest: tuple[Coefficient, ...]
    drift: tuple[DriftWindow, ...]
    times: tuple[float, ...] = field(default=(), repr=False)  # usable seconds (the histogram)
    gold: RaterAccuracy | None = None  # hidden gold and attention items (None: none assigned)

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(w.label for w in self.drift if w.flagged)

    def to_dict(self) -> dict[str, Any]:
        return {"rater": self.rater, "n_done": self.n_done, "time": self.time.to_dict(),
                "per_day": [[d.isoformat(), n, c] for d, n, c in self.per_day],
                "n_retest": self.n_retest, "n_retest_too_soon": self.n_retest_too_soon,
                "retest": [c.to_dict() for c in self.retest],
                "drift": [w.to_dict() for w in self.drift], "flagged": list(self.flagged),
                "gold": self.gold.to_dict() if self.gold else None}


@dataclass(frozen=True)
class RaterReport:
    question_id: str | None
    question_label: str
    scale: str
    window: str  # "week" or "50 items"
    threshold: float
    min_delay_days: float
    raters: tuple[RaterQuality, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"question_id": self.question_id, "question": self.question_label,
                "scale": self.scale, "window": self.window, "threshold": self.threshold,
                "min_delay_days": self.min_delay_days,
                "raters": [r.to_dict() for r in self.raters], "notes": list(self.notes)}


def parse_window(text: str) -> tuple[Window, int]:
    """``week`` or a number of items (``50``)."""
    t = text.strip().lower()
    if t == "week":
        return "week", 50
    if t.isdigit() and 1 <= int(t) <= MAX_WINDOW_ITEMS:
        return "items", int(t)
    raise InputError(f"window {text!r}: use 'week' or a number of items from 1 to "
                     f"{MAX_WINDOW_ITEMS}", item="--window")


def check_threshold(value: float) -> float:
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise InputError(f"threshold {value}: a kappa threshold lies in [-1, 1]",
                         item="--threshold")
    return value


def load_rater_inputs(project: Project) -> RaterInputs:
    return RaterInputs(rater_records(project), project_questions(project), hidden_items(project))


def _questions(inputs: RaterInputs) -> dict[str, Question]:
    """The rated questions, with the pooled case criteria when the project has any."""
    out = {qid: q for qid, q in inputs.questions.items() if scale_of(str(q.kind)) is not None
           and not q.is_case_criterion}
    if any(f.answers and any(k.startswith(CASE_CRITERION_PREFIX) for k in f.answers)
           for f in inputs.records.finals):
        out[CRITERIA] = CRITERIA_QUESTION
    return out


def question_choices(inputs: RaterInputs) -> list[tuple[str, str]]:
    """(question id, label) of the questions a report can be computed for."""
    return [(qid, f"{qid} — {q.prompt}" if q.prompt else qid)
            for qid, q in sorted(_questions(inputs).items())]


def _units(answers: dict[str, Any], qid: str) -> list[tuple[str, Any]]:
    """(sub-unit, value) of one judgment for question ``qid`` (several for the criteria)."""
    if qid == CRITERIA:
        return [(k, v) for k, v in answers.items() if k.startswith(CASE_CRITERION_PREFIX)]
    return [("", answers[qid])] if qid in answers else []


def _choose_question(inputs: RaterInputs, question: str | None) -> str | None:
    questions = _questions(inputs)
    rated = set(questions)
    if question is not None:
        if question not in rated:
            names = ", ".join(sorted(rated)) or "none"
            raise InputError(f"question {question!r} is not a rated question of this project "
                             f"(choose one of: {names})", item="--question")
        return question
    # How often each answer key occurs, counted once over all finals (in C): a question's
    # units are its key's count, the pooled criteria's the sum over the criteria keys.
    keys = Counter(chain.from_iterable(f.answers for f in inputs.records.finals))
    n_criteria = sum(n for k, n in keys.items() if k.startswith(CASE_CRITERION_PREFIX))
    counts: Counter[str] = Counter()
    numeric: Counter[str] = Counter()
    for qid, q in questions.items():
        (numeric if scale_of(str(q.kind)) == "numeric" else counts)[qid] += (
            n_criteria if qid == CRITERIA else keys.get(qid, 0))
    # No categorical answers: fall back to numeric ones (the score).
    return busiest(+counts) or busiest(+numeric)


@gc_paused()  # (objects per judgment, no cycles: the collector rescanned them all, 20 %)
def compute_rater_report(inputs: RaterInputs, *, question: str | None = None,
                         window: Window = "week", size: int = 50,
                         threshold: float = DEFAULT_THRESHOLD,
                         min_delay_days: float = DEFAULT_MIN_DELAY_DAYS,
                         ci: bool = True) -> RaterReport:
    check_threshold(threshold)
    if not math.isfinite(min_delay_days) or not 0 <= min_delay_days <= MAX_DELAY_DAYS:
        raise InputError(f"minimum retest delay {min_delay_days} days: choose 0 to "
                         f"{MAX_DELAY_DAYS}", item="--min-delay")
    qid = _choose_question(inputs, question)
    wlabel = "week" if window == "week" else f"{size} items"
    raters = sorted({f.rater for f in inputs.records.finals}
                    | {r for r, _k in inputs.hidden.assigned})
    scored = _scored(inputs)
    notes: list[str] = []
    q = _questions(inputs).get(qid) if qid else None
    scale = scale_of(str(q.kind)) if q else None
    cats = categories_of(str(q.kind), q.option_values()) if q else None
    answers = [Answer(f.rater, f.output_id, v, f.at, sub)
               for f in inputs.records.finals if qid for sub, v in _units(f.answers, qid)]
    delay = dt.timedelta(days=min_delay_days)
    finals_of: dict[str, list[FinalJudgment]] = {r: [] for r in raters}
    for f in inputs.records.finals:
        finals_of[f.rater].append(f)
    pairs_of: dict[str, list[RetestPair]] = {}
    for p in inputs.records.retests:
        pairs_of.setdefault(p.rater, []).append(p)
    # every rater's drift from one grouping of the answers (not one pass per rater)
    drifts = drift_by_rater(answers, raters, scale, cats, window=window, size=size,
                            threshold=threshold, ci=ci) \
        if raters and scale and scale != "numeric" else {}
    out = []
    for r in raters:
        mine = finals_of[r]
        pairs = pairs_of.get(r, [])
        kept = [p for p in pairs if p.second_at - p.first_at >= delay]
        coeffs: tuple[Coefficient, ...] = ()
        usable = [(v, dict(_units(p.second, qid)).get(sub)) for p in kept if qid
                  for sub, v in _units(p.first, qid)]
        if scale and usable:
            coeffs = tuple(retest(usable, scale, cats, ci=ci))
        windows: tuple[DriftWindow, ...] = ()
        if scale and scale != "numeric":
            windows = tuple(drifts[r])
        out.append(RaterQuality(
            r, len(mine), time_summary(f.time_on_task_s for f in mine),
            tuple(done_per_day(f.at for f in mine)), len(kept), len(pairs) - len(kept),
            coeffs, windows, tuple(usable_times(f.time_on_task_s for f in mine)[0]),
            _gold(r, inputs, scored)))
    if qid is None:
        notes.append("No finished physician answers to a rated question yet.")
    elif scale == "numeric":
        notes.append(f"{qid} is numeric: drift is computed for categorical questions only.")
    if not inputs.records.retests:
        notes.append("No retest ratings (revisions written with source 'retest') in this "
                     "project: test-retest is empty.")
    return RaterReport(qid, q.prompt if q else "", scale or "", wlabel, threshold,
                       min_delay_days, tuple(out), tuple(notes))


def _scored(inputs: RaterInputs) -> list[ScoredItem]:
    return [ScoredItem(a.rater, a.kind, a.output_id, a.case_external_id,
                       item_correct(a.answers, a.annotations, a.gold, inputs.questions))
            for a in inputs.hidden.answers]


def _gold(rater: str, inputs: RaterInputs, scored: list[ScoredItem]) -> RaterAccuracy | None:
    n_check = inputs.hidden.assigned.get((rater, "check"), 0)
    n_attention = inputs.hidden.assigned.get((rater, "attention"), 0)
    if not n_check and not n_attention:
        return None
    return rater_accuracy(rater, scored, check_assigned=n_check,
                          attention_assigned=n_attention)


def rater_report(project: Project, **kwargs: Any) -> RaterReport:
    return compute_rater_report(load_rater_inputs(project), **kwargs)


# ---------------------------------------------------------------- text for CLI and screen


def fmt(x: float, digits: int = 2) -> str:
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def fmt_coef(c: Coefficient | None) -> str:
    if c is None:
        return ""
    if math.isnan(c.value):
        return "n/a"
    ci = f" [{fmt(c.ci[0])}, {fmt(c.ci[1])}]" if c.ci else ""
    return f"{fmt(c.value)}{ci}"


def _coef(r: RaterQuality, *names: str) -> Coefficient | None:
    return next((c for c in r.retest if c.name in names), None)


def _last_drift(r: RaterQuality) -> DriftWindow | None:
    done = [w for w in r.drift if w.enough and not math.isnan(w.kappa.value)]
    return done[-1] if done else None


SUMMARY_HEADER = ("rater", "done", "median s", "IQR s", "retest n", "retest kappa",
                  "retest alpha", "ICC(3,1)", "ICC(A,1)", "last window kappa", "windows flagged")


def summary_rows(report: RaterReport) -> list[tuple[str, ...]]:
    """One line per physician (the CLI table and the tab's upper table)."""
    rows: list[tuple[str, ...]] = []
    for r in report.raters:
        last = _last_drift(r)
        rows.append((
            r.rater, str(r.n_done), fmt(r.time.median, 1),
            f"{fmt(r.time.q1, 1)}-{fmt(r.time.q3, 1)}" if r.time.n else "-",
            str(r.n_retest), fmt_coef(_coef(r, "kappa", "kappa (linear)")),
            fmt_coef(_coef(r, "alpha")), fmt_coef(_coef(r, "ICC(3,1)")),
            fmt_coef(_coef(r, "ICC(A,1)")),
            f"{last.label}: {fmt_coef(last.kappa)}" if last else "",
            f"{len(r.flagged)} of {len(r.drift)}" if r.drift else ""))
    return rows


DRIFT_HEADER = ("rater", "window", "items", "compared", "kappa [95% CI]", "below threshold")


def drift_rows(report: RaterReport) -> list[tuple[str, ...]]:
    return [(r.rater, w.label, str(w.n_items), str(w.n_compared), fmt_coef(w.kappa),
             "yes" if w.flagged else ("" if w.enough else "too few to flag"))
            for r in report.raters for w in r.drift]


GOLD_HEADER = ("rater", "gold items done", "answers", "accuracy [95% CI]",
               "attention done", "attention passed [95% CI]", "attention failed (case #output)")


def fmt_share(s: Share) -> str:
    if not s.n:
        return "-"
    ci = f" [{fmt(s.ci[0])}, {fmt(s.ci[1])}]" if s.ci else ""
    return f"{fmt(s.value)}{ci}"


def gold_rows(report: RaterReport) -> list[tuple[str, ...]]:
    """Per physician with hidden items: accuracy on gold and attention pass rate."""
    return [(r.rater, f"{g.overall.n_items} of {g.n_check_assigned}", str(g.overall.n),
             fmt_share(g.overall), f"{g.attention.n} of {g.n_attention_assigned}",
             fmt_share(g.attention),
             ", ".join(f"{c} #{o}" for o, c, _m in g.failed_attention))
            for r in report.raters if (g := r.gold) is not None]


GOLD_QUESTION_HEADER = ("rater", "question", "right", "answers", "accuracy [95% CI]")


def gold_question_rows(report: RaterReport) -> list[tuple[str, ...]]:
    return [(r.rater, qid, str(s.k), str(s.n), fmt_share(s))
            for r in report.raters if r.gold for qid, s in r.gold.per_question.items()]
