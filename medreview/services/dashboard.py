"""Statistics for a project: read the ratings on the DB side, compute on the work side.

``load_inputs`` is the database half (fast, one read); ``compute`` the pure half (may take
seconds on big projects, cancellable). The app runs them on its two executors; the command line
calls ``project_statistics`` which does both. ``compute_dashboard`` is what the app's dashboard
shows (per rater pair and per model at once); ``disagreeing_outputs`` and ``judge_calibration``
serve the judge calibration view (the judge against each physician, the physicians' majority
and gold labels, next to the physician ceiling).

"Same answer" and "the physicians' majority" (strict: more than half) are the core's rules in
``medreview.domain.consensus``, shared with the adjudication queue and the gold export.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medreview.domain import consensus
from medreview.domain.rubric import Question, QuestionKind
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.questions import project_questions
from medreview.storage import tables
from medreview.storage.project import Project

if TYPE_CHECKING:
    from medreview.stats.project import ProjectStats


@dataclass(frozen=True)
class StatsInputs:
    ratings: Any  # pandas DataFrame, long format (storage.tables.ratings_long)
    gold: Any  # pandas DataFrame or None
    questions: dict[str, Question]
    project_name: str


def load_inputs(project: Project, *, pseudonymise: bool = False) -> StatsInputs:
    ratings = tables.ratings_long(project, pseudonymise=pseudonymise)
    gold = tables.gold_table(project)
    return StatsInputs(
        ratings=ratings,
        gold=gold if not gold.empty else None,
        questions=project_questions(project),
        project_name=project.name,
    )


def compute(
    inputs: StatsInputs,
    *,
    by: str | None = None,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ProjectStats:
    from medreview.stats.project import project_stats

    return project_stats(
        inputs.ratings, inputs.questions, inputs.gold, by=by, ci=ci, progress=progress, token=token
    )


def project_statistics(
    project: Project,
    *,
    by: str | None = None,
    ci: bool = True,
    pseudonymise: bool = False,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> tuple[StatsInputs, ProjectStats]:
    inputs = load_inputs(project, pseudonymise=pseudonymise)
    return inputs, compute(inputs, by=by, ci=ci, progress=progress, token=token)


def render_report(inputs: StatsInputs, stats: ProjectStats) -> str:
    from medreview.stats.report import render_html

    return render_html(stats, f"{inputs.project_name}: agreement and judge calibration")


# The dashboard and the judge calibration view ---------------------------------------------------
#
# Everything below is Qt-free: the app runs it on its work executor (after ``load_inputs`` on
# the database thread) and gets plain values back.

POOLED_CRITERIA = "criterion:*"  # the pooled per-case criteria, as in stats.project
_CRITERION_PREFIX = "criterion:"


def compute_dashboard(
    inputs: StatsInputs,
    *,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> ProjectStats:
    """The by-rater tables (rater pairs, judge, ceiling, calibration) plus agreement per model.

    ``project_stats`` groups by one thing at a time; the per-model pass runs on the physicians'
    ratings only (judge blocks do not depend on the grouping), so the judge is computed once.
    The agreement table holds scopes ``physicians``, ``rater_pair`` and ``model``.
    """
    import dataclasses

    import pandas as pd

    def part(lo: int, hi: int) -> Progress:
        def report(done: int, total: int | None = None, message: str = "") -> None:
            frac = done / total if total else 0.0
            progress(lo + round((hi - lo) * frac), 100, message)

        return report

    pairs = compute(inputs, by="rater", ci=ci, progress=part(0, 75), token=token)
    ratings = inputs.ratings
    physicians = dataclasses.replace(inputs, ratings=ratings[ratings["rater_kind"] == "physician"])
    per_model = compute(physicians, by="model", ci=ci, progress=part(75, 100), token=token)
    model_rows = per_model.agreement[per_model.agreement["scope"] == "model"]
    parts = [t for t in (pairs.agreement, model_rows) if not t.empty]
    agreement = pd.concat(parts, ignore_index=True) if parts else pairs.agreement
    return dataclasses.replace(pairs, agreement=agreement, meta={**pairs.meta, "by": "rater+model"})


def question_label(inputs: StatsInputs, question_id: str) -> str:
    """A short human name for a question id (the id itself when the prompt is unknown)."""
    if question_id == POOLED_CRITERIA:
        return "All per-case criteria (pooled)"
    q = inputs.questions.get(question_id)
    if q is None or not q.prompt:
        return question_id
    prompt = q.prompt if len(q.prompt) <= 60 else q.prompt[:57] + "…"
    return prompt if question_id == "score" else f"{question_id}: {prompt}"


def _question_rows(ratings: Any, question_id: str) -> Any:
    if question_id == POOLED_CRITERIA:
        return ratings[ratings["question_id"].str.startswith(_CRITERION_PREFIX)]
    return ratings[ratings["question_id"] == question_id]


def _kind(inputs: StatsInputs, question_id: str) -> QuestionKind | None:
    """The kind that decides "same answer" (the pooled criteria are criteria)."""
    if question_id == POOLED_CRITERIA or question_id.startswith(_CRITERION_PREFIX):
        return QuestionKind.CRITERION
    q = inputs.questions.get(question_id)
    return q.kind if q is not None else None


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _is_numeric_question(inputs: StatsInputs, question_id: str) -> bool:
    q = inputs.questions.get(question_id)
    return q is not None and q.kind == QuestionKind.NUMBER


def _labels(rows: Any) -> dict[tuple[int, str], Any]:
    """(output id, question id) -> answer, missing answers left out."""
    return {
        (int(o), str(q)): v
        for o, q, v in zip(rows["output_id"], rows["question_id"], rows["value"], strict=True)
        if not _missing(v)
    }




def reference_labels(
    inputs: StatsInputs, question_id: str, reference: str, *, model: str | None = None
) -> dict[tuple[int, str], Any]:
    """The reference answer per (output id, question id) for a judge comparison.

    ``reference``: ``physician:<name>``; ``majority`` (the answer of more than half the
    physicians, ``consensus.majority``; items without one are left out; the physicians' mean
    for numeric questions); ``gold`` (newest gold labels).
    """
    ratings = _question_rows(inputs.ratings, question_id)
    if model is not None:
        ratings = ratings[ratings["model"] == model]
    phys = ratings[ratings["rater_kind"] == "physician"]
    if reference.startswith("physician:"):
        return _labels(phys[phys["rater"] == reference.split(":", 1)[1]])
    if reference == "gold":
        gold = inputs.gold
        if gold is None or gold.empty:
            return {}
        g = _question_rows(gold, question_id)
        keep = {int(o) for o in ratings["output_id"]} if model is not None else None
        out = _labels(g)
        return out if keep is None else {k: v for k, v in out.items() if k[0] in keep}
    if reference != "majority":
        raise ValueError(f"unknown reference {reference!r}")
    grouped: dict[tuple[int, str], list[Any]] = {}
    for key, v in _labels_multi(phys):
        grouped.setdefault(key, []).append(v)
    if _is_numeric_question(inputs, question_id):
        return {k: sum(float(x) for x in vs) / len(vs) for k, vs in grouped.items()}
    kind = _kind(inputs, question_id)
    out = {k: consensus.majority(vs, kind) for k, vs in grouped.items()}
    return {k: v for k, (v, has) in out.items() if has}


def _labels_multi(rows: Any) -> list[tuple[tuple[int, str], Any]]:
    return [
        ((int(o), str(q)), v)
        for o, q, v in zip(rows["output_id"], rows["question_id"], rows["value"], strict=True)
        if not _missing(v)
    ]


def _differs(a: Any, b: Any, numeric: bool, kind: QuestionKind | None) -> bool:
    if numeric:
        return abs(float(a) - float(b)) > 1e-9
    return not consensus.same_answer(kind, a, b)


def disagreeing_outputs(
    inputs: StatsInputs,
    question_id: str,
    *,
    model: str | None = None,
    raters: tuple[str, ...] | list[str] | None = None,
    judge: str | None = None,
    reference: str = "physicians",
) -> list[int]:
    """Output ids where the compared raters disagree on a question (sorted).

    Without ``judge``: outputs where the physicians (only ``raters`` if given) gave more than
    one distinct answer. With ``judge``: outputs where the judge's answer differs from
    ``reference`` — ``physicians`` (any of them, or of ``raters``), ``physician:<name>``,
    ``majority`` or ``gold`` (see ``reference_labels``). ``question_id`` may be
    ``criterion:*`` (every per-case criterion; an output counts once).
    """
    numeric = _is_numeric_question(inputs, question_id)
    kind = _kind(inputs, question_id)
    rows = _question_rows(inputs.ratings, question_id)
    if model is not None:
        rows = rows[rows["model"] == model]
    phys = rows[rows["rater_kind"] == "physician"]
    if raters is not None:
        phys = phys[phys["rater"].isin(list(raters))]
    out: set[int] = set()
    if judge is None:
        seen: dict[tuple[int, str], set[Any]] = {}
        for key, v in _labels_multi(phys):
            seen.setdefault(key, set()).add(consensus.answer_key(kind, v))
        out = {k[0] for k, vals in seen.items() if len(vals) > 1}
        return sorted(out)
    jlabels = _labels(rows[rows["rater"] == judge])
    if reference == "physicians":
        for key, v in _labels_multi(phys):
            j = jlabels.get(key)
            if j is not None and _differs(j, v, numeric, kind):
                out.add(key[0])
        return sorted(out)
    ref = reference_labels(inputs, question_id, reference, model=model)
    return sorted({k[0] for k, j in jlabels.items()
                   if k in ref and _differs(j, ref[k], numeric, kind)})


def judge_raters(inputs: StatsInputs) -> list[str]:
    """Names of the judge raters that have answers in the project."""
    r = inputs.ratings
    return sorted(str(x) for x in r.loc[r["rater_kind"] == "judge", "rater"].unique())


def calibration_questions(inputs: StatsInputs, judge: str) -> list[str]:
    """Questions the judge answered that a calibration view can compare (rubric order), with
    the per-case criteria pooled into ``criterion:*``."""
    r = inputs.ratings
    answered = set(r.loc[r["rater"] == judge, "question_id"])
    out: list[str] = []
    pooled = False
    for qid in inputs.questions:
        if qid not in answered:
            continue
        if qid.startswith(_CRITERION_PREFIX):
            pooled = True
        elif _judge_kind(inputs, qid) is not None:
            out.append(qid)
    return ([POOLED_CRITERIA] if pooled else []) + out


def _judge_kind(inputs: StatsInputs, question_id: str) -> tuple[str, tuple[Any, ...] | None] | None:
    """(kind for stats.judge, declared categories) or None for unsupported question kinds."""
    from medreview.domain.rubric import QuestionKind

    if question_id == POOLED_CRITERIA:
        return "binary", (False, True)
    q = inputs.questions.get(question_id)
    if q is None:
        return None
    if q.kind == QuestionKind.CRITERION:
        return "binary", (False, True)
    if q.kind == QuestionKind.NUMBER:
        return "numeric", None
    cats = tuple(q.option_values()) or None
    if q.kind == QuestionKind.ORDINAL:
        return "ordinal", cats
    if q.kind == QuestionKind.SINGLE_CHOICE:
        return "nominal", cats
    if q.kind == QuestionKind.PAIRWISE:
        return "nominal", cats or ("A", "B", "tie")
    return None


@dataclass(frozen=True)
class ReferenceComparison:
    """The judge against one reference (a physician, the physicians' majority, gold)."""

    reference: str  # physician:<name> | majority | gold
    label: str
    agreement: Any  # DataFrame from stats.judge (statistic, variant, value, ci_low, ci_high, ...)
    confusion: Any  # DataFrame (rows = reference label, columns = judge label) or None
    leniency: float  # mean signed difference judge - reference (booleans as 0/1); NaN if n/a
    leniency_ci: tuple[float, float]
    calibration: Any  # stats.calibration.Calibration or None
    items: Any  # DataFrame: output_id, question_id, case_external_id, model, judge, reference,
    #             confidence, agree
    note: str = ""

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def disagreeing_output_ids(self) -> list[int]:
        it = self.items
        return sorted({int(o) for o in it.loc[~it["agree"], "output_id"]}) if len(it) else []

    def value(self, statistic: str, variant: str = "pooled") -> float:
        t = self.agreement
        if t is None or t.empty:
            return float("nan")
        hit = t[(t["statistic"] == statistic) & (t["variant"] == variant)]
        return float(hit["value"].iloc[0]) if len(hit) else float("nan")


@dataclass(frozen=True)
class JudgeCalibration:
    judge: str
    question_id: str
    question_label: str
    kind: str  # binary | ordinal | nominal | numeric
    references: tuple[ReferenceComparison, ...]
    ceiling: Any  # DataFrame from stats.judge.judge_vs_ceiling (may be empty)
    physicians: tuple[str, ...]
    note: str = ""

    def reference(self, name: str) -> ReferenceComparison:
        for r in self.references:
            if r.reference == name:
                return r
        raise KeyError(name)


def _as_number(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    return float("nan")


def _leniency(items: Any, seed: int, n_resamples: int) -> tuple[float, tuple[float, float]]:
    """Mean signed difference judge - reference with a percentile bootstrap over outputs."""
    import numpy as np

    nan = float("nan")
    d = np.array([_as_number(j) - _as_number(r) for j, r in
                  zip(items["judge"], items["reference"], strict=True)], dtype=float)
    ok = ~np.isnan(d)
    if not ok.any():
        return nan, (nan, nan)
    outs = items["output_id"].to_numpy()[ok]
    d = d[ok]
    # Per-output sums, so an output's criteria move together in the bootstrap.
    uniq, inv = np.unique(outs, return_inverse=True)
    sums = np.bincount(inv, weights=d, minlength=uniq.size)
    counts = np.bincount(inv, minlength=uniq.size).astype(float)
    value = float(sums.sum() / counts.sum())
    if uniq.size < 2 or n_resamples <= 0:
        return value, (nan, nan)
    rng = np.random.default_rng(seed)
    pick = rng.multinomial(uniq.size, np.full(uniq.size, 1.0 / uniq.size), size=n_resamples)
    reps = (pick @ sums) / (pick @ counts)
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return value, (float(lo), float(hi))


def _comparison(
    inputs: StatsInputs,
    question_id: str,
    judge_rows: Any,
    reference: str,
    label: str,
    kind: str,
    cats: tuple[Any, ...] | None,
    ci: bool,
) -> ReferenceComparison:
    import pandas as pd

    from medreview.errors import StatsError
    from medreview.stats.calibration import calibration
    from medreview.stats.judge import judge_agreement
    from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED

    numeric = kind == "numeric"
    qkind = _kind(inputs, question_id)
    ref = reference_labels(inputs, question_id, reference)
    jr = judge_rows
    meta = {(int(o), str(q)): (c, m, float(conf)) for o, q, c, m, conf in zip(
        jr["output_id"], jr["question_id"], jr["case_external_id"], jr["model"],
        jr["confidence"], strict=True)}
    rows = []
    for key, j in _labels_multi(judge_rows):
        r = ref.get(key)
        if r is None:
            continue
        case, model, conf = meta[key]
        rows.append({"output_id": key[0], "question_id": key[1], "case_external_id": case,
                     "model": model, "judge": j, "reference": r, "confidence": conf,
                     "agree": not _differs(j, r, numeric, qkind)})
    items = pd.DataFrame(rows, columns=["output_id", "question_id", "case_external_id", "model",
                                        "judge", "reference", "confidence", "agree"])
    empty = pd.DataFrame()
    nan = float("nan")
    if items.empty:
        return ReferenceComparison(reference, label, empty, None, nan, (nan, nan), None, items,
                                   "no output has both a judge answer and this reference")
    note = ""
    try:
        res = judge_agreement(items[["reference"]], items["judge"].to_numpy(dtype=object),
                              kind, categories=cats, ci=ci)  # type: ignore[arg-type]
        table, confusion = res.table, res.confusion
        if confusion is not None:
            confusion = confusion.rename(index=lambda s: s.replace("physician=", ""),
                                         columns=lambda s: s.replace("judge=", ""))
    except StatsError as e:
        table, confusion, note = empty, None, f"undefined: {e}"
    lenient, lenient_ci = _leniency(items, DEFAULT_SEED, DEFAULT_RESAMPLES if ci else 0)
    cal = None
    if not numeric:
        conf = items[items["confidence"].notna()]
        if len(conf):
            cal = calibration(conf["confidence"].to_numpy(float),
                              conf["agree"].to_numpy(float))
    return ReferenceComparison(reference, label, table, confusion, lenient, lenient_ci, cal,
                               items, note)


def judge_calibration(
    inputs: StatsInputs,
    judge: str,
    question_id: str,
    *,
    ci: bool = True,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> JudgeCalibration:
    """The judge against each physician, the physicians' majority and gold (if any), with the
    physician-versus-physician ceiling on the same items.

    Calibration: the judge's confidence in its own answer against whether that answer matches
    the reference (10 equal-width bins), as in ``stats.project``.
    """
    import pandas as pd

    from medreview.errors import StatsError
    from medreview.stats.judge import judge_vs_ceiling
    from medreview.stats.tables import to_wide

    label = question_label(inputs, question_id)
    spec = _judge_kind(inputs, question_id)
    ratings = _question_rows(inputs.ratings, question_id)
    phys_rows = ratings[ratings["rater_kind"] == "physician"]
    physicians = tuple(sorted(str(x) for x in phys_rows["rater"].unique()))
    judge_rows = ratings[ratings["rater"] == judge]
    if spec is None or judge_rows.empty:
        why = ("this question kind has no judge comparison" if spec is None
               else f"{judge} has not answered this question")
        return JudgeCalibration(judge, question_id, label, spec[0] if spec else "", (),
                                pd.DataFrame(), physicians, why)
    kind, cats = spec
    majority = "Physician mean" if kind == "numeric" else "Physician majority"
    refs = [(f"physician:{p}", p) for p in physicians] + [("majority", majority)]
    if inputs.gold is not None and not _question_rows(inputs.gold, question_id).empty:
        refs.append(("gold", "Gold labels"))
    out: list[ReferenceComparison] = []
    for step, (ref, ref_label) in enumerate(refs):
        if token is not None:
            token.raise_if_cancelled()
        progress(step, len(refs) + 1, f"judge vs {ref_label}")
        out.append(_comparison(inputs, question_id, judge_rows, ref, ref_label, kind, cats, ci))
    progress(len(refs), len(refs) + 1, "physician ceiling")
    ceiling = pd.DataFrame()
    index = ["output_id", "question_id"]
    wide = to_wide(phys_rows, index)
    jw = to_wide(judge_rows, index)
    if not wide.empty and not jw.empty:
        common = wide.index.intersection(jw.index)
        # Fewer than two physicians on every item: no ceiling to show.
        with contextlib.suppress(StatsError):
            ceiling = judge_vs_ceiling(wide.loc[common], jw.iloc[:, 0].loc[common].to_numpy(),
                                       kind, categories=cats)  # type: ignore[arg-type]
    progress(len(refs) + 1, len(refs) + 1, "done")
    return JudgeCalibration(judge, question_id, label, kind, tuple(out), ceiling, physicians)
