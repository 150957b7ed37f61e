"""The judge development loop as use-cases: the held-out split, evaluating judge runs (prompt
versions) against gold on it, drawing few-shot examples from training cases, and starting a
run with them. The numbers are ``medreview.stats.judge_eval``'s; this module reads the project
and says, in one line, what is wrong with a request (unknown run, no gold, empty split).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medreview.domain.consensus import answer_key
from medreview.domain.rubric import QuestionKind
from medreview.domain.split import PARTS, SplitSpec, assign_split, check_train_only
from medreview.errors import InputError, JudgeError, StatsError
from medreview.judge.config import JudgeConfig
from medreview.judge.fewshot import FewShotExample, correction, pick_examples
from medreview.progress import CancelToken, Progress, no_progress
from medreview.services.dashboard import load_inputs
from medreview.services.judging import (
    JudgeRunInfo,
    JudgeRunSummary,
    judge_run_info,
    list_judge_runs,
    run_judge,
    stored_examples,
)
from medreview.stats.judge_eval import (
    POOLED,
    JudgeEvaluation,
    Version,
    categories_of,
    collect_items,
    evaluate,
    not_assessed,
)
from medreview.stats.recalibration import Method
from medreview.storage import tables
from medreview.storage.judge_split import read_split_setting, write_split_setting
from medreview.storage.project import Project

__all__ = ["EvalInputs", "JudgeEvalReport", "RunVersion", "TextTable", "case_split",
           "compute_evaluation", "correction_candidates", "evaluate_runs",
           "few_shot_examples", "judge_run_choices", "load_eval_inputs", "parse_runs",
           "report_heading", "report_notes", "report_tables", "run_judge_few_shot",
           "set_split_spec", "split_spec", "split_spec_with"]


# --- the split ---------------------------------------------------------------------------------


def split_spec(project: Project) -> SplitSpec:
    """The project's recorded split (the default seed and fractions if none is recorded)."""
    raw = read_split_setting(project)
    return SplitSpec() if raw is None else SplitSpec.from_dict(raw)


def set_split_spec(project: Project, spec: SplitSpec) -> None:
    """Record the split. Changing it after prompts were tuned on train breaks the hold-out:
    evaluations flag (and leave out) test cases a run drew examples from."""
    write_split_setting(project, spec.to_dict())


def case_split(project: Project, spec: SplitSpec | None = None) -> dict[str, str]:
    """Case key -> train / dev / test for every case of the project."""
    spec = spec or split_spec(project)
    keys = tables.cases_table(project)["case_external_id"].astype(str)
    return dict(assign_split(keys, spec))


# --- runs as versions --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunVersion:
    run_id: int
    label: str
    rater: str
    model: str
    template_key: str
    template_hash: str
    status: str
    few_shot_cases: tuple[str, ...] = ()  # cases the run's few-shot examples came from

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "label": self.label, "rater": self.rater,
                "model": self.model, "template": self.template_key,
                "template_hash": self.template_hash, "status": self.status,
                "few_shot_examples": len(self.few_shot_cases)}


def parse_runs(text: str) -> list[str]:
    refs = [r.strip() for r in text.split(",") if r.strip()]
    if not refs:
        raise InputError("no judge run given; list run ids like --runs 1,2", item="--runs")
    if len(refs) > 8:
        raise InputError(f"{len(refs)} runs given; compare at most 8", item="--runs")
    if len(set(refs)) != len(refs):
        raise InputError("a run is listed twice", item="--runs")
    return refs


def _resolve(project: Project, ref: int | str) -> JudgeRunInfo:
    text = str(ref).strip()
    if text.isdigit() and len(text) < 12:
        return judge_run_info(project, int(text))
    for run in list_judge_runs(project):
        if run.uid == text:
            return run
    raise JudgeError("no such judge run in this project", item=text)


def _version(info: JudgeRunInfo) -> RunVersion:
    examples = stored_examples(dict(info.params))
    extra = f" +{len(examples)} examples" if examples else ""
    label = f"run {info.run_id} ({info.template_key}{extra}, {info.template_hash[:7]})"
    return RunVersion(info.run_id, label, info.rater_name, info.model, info.template_key,
                      info.template_hash, info.status, tuple(e.case_key for e in examples))


# --- the evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeEvalReport:
    project_name: str
    spec: SplitSpec
    part: str
    cases_per_part: dict[str, int]
    runs: tuple[RunVersion, ...]
    evaluation: JudgeEvaluation
    excluded_cases: tuple[str, ...] = ()  # evaluated-part cases some run drew examples from
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation

        def est(e: Any) -> dict[str, float | None]:
            d: dict[str, float | None] = e.to_dict()
            return d

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        labels = [r.label for r in self.runs]
        return {
            "project": self.project_name,
            "split": self.spec.to_dict() | {"part": self.part,
                                            "cases_per_part": self.cases_per_part},
            "runs": [r.to_dict() for r in self.runs],
            "excluded_cases": list(self.excluded_cases),
            "metrics": [{
                "question_id": m.question_id, "question": m.question, "metric": m.metric,
                "n_items": m.n_items, "n_cases": m.n_cases,
                "versions": {lab: est(e) for lab, e in zip(labels, m.versions, strict=True)},
                "differences": {f"{lab} - {labels[0]}": est(e)
                                for lab, e in zip(labels[1:], m.differences, strict=True)},
                "physician_ceiling": est(m.ceiling)} for m in ev.metrics],
            "calibration": [{
                "run": c.version, "method": c.method, "n_train": c.n_train, "n_test": c.n_test,
                "ece_before": num(c.ece_before), "ece_after": num(c.ece_after),
                "brier_before": num(c.brier_before), "brier_after": num(c.brier_after),
                "note": c.note} for c in ev.calibration],
            "self_preference": [{
                "run": p.version, "judge_family": p.family, "same_family": est(p.same_family),
                "other_families": est(p.other_family), "difference": est(p.difference),
                "n_same": p.n_same, "n_other": p.n_other, "note": p.note}
                for p in ev.self_preference],
            "abstention": [{
                "run": a.version, "n_cannot_assess": a.n_cannot_assess,
                "judge_abstained": a.judge_abstained,
                "rate_where_cannot_assess": est(a.rate_cannot_assess),
                "n_assessed": a.n_assessed, "rate_where_assessed": est(a.rate_assessed)}
                for a in ev.abstention],
            "notes": list(self.notes + ev.notes),
        }


@dataclass(frozen=True)
class EvalInputs:
    """What an evaluation reads from the project (the database half; plain values)."""

    project_name: str
    spec: SplitSpec
    part: str
    split: dict[str, str]
    cases_per_part: dict[str, int]
    runs: tuple[RunVersion, ...]
    ratings: Any
    gold: Any
    questions: Any
    points: dict[tuple[str, str], float]
    excluded_cases: tuple[str, ...]
    notes: tuple[str, ...]
    # Physicians' "not applicable" / "cannot assess" marks (NotAssessedTally.marks).
    marks: dict[tuple[Any, Any], frozenset[str]] = field(default_factory=dict)


def judge_run_choices(project: Project) -> list[tuple[int, str]]:
    """(run id, label) of every judge run, oldest first (for pickers)."""
    runs = sorted(list_judge_runs(project), key=lambda r: r.run_id)
    return [(r.run_id, f"{_version(r).label} — {r.model}") for r in runs]


def load_eval_inputs(project: Project, runs: Sequence[int | str], *, part: str = "test",
                     seed: int | None = None) -> EvalInputs:
    """Read what ``compute_evaluation`` needs; every bad request is one line here.

    ``seed`` overrides the recorded split's seed for this evaluation only. Cases of ``part``
    that a run drew few-shot examples from are left out for every run (and named), so the
    numbers stay held out.
    """
    if part not in PARTS:
        raise InputError(f"unknown split {part!r}; choose one of {', '.join(PARTS)}",
                         item="--split")
    if not runs:
        raise InputError("no judge run given", item="--runs")
    versions = [_version(_resolve(project, r)) for r in runs]
    if len({v.run_id for v in versions}) != len(versions):
        raise InputError("a run is listed twice", item="--runs")
    spec = split_spec(project)
    if seed is not None:
        spec = SplitSpec(seed, spec.test_fraction, spec.dev_fraction)
    split = case_split(project, spec)
    counts = Counter(split.values())
    if not counts.get(part):
        raise StatsError(f"the {part} split is empty ({len(split)} cases, seed {spec.seed})",
                         item=part)
    leaked = sorted({c for v in versions for c in v.few_shot_cases if split.get(c) == part})
    if leaked:
        split = {k: ("excluded" if k in leaked else p) for k, p in split.items()}
    inputs = load_inputs(project)
    judges = set(inputs.ratings.loc[inputs.ratings["rater_kind"] == "judge", "rater"])
    notes = [f"{v.label} has no stored judgment yet" for v in versions if v.rater not in judges]
    if leaked:
        notes.append(f"{len(leaked)} {part} case(s) were few-shot examples of a run under this "
                     f"split and are left out (first: {leaked[0]})")
    points = {(str(c), str(q)): float(p) for c, q, p in tables.criteria_table(project)[
        ["case_external_id", "question_id", "points"]].itertuples(index=False, name=None)}
    return EvalInputs(project.name, spec, part, split, {p: counts.get(p, 0) for p in PARTS},
                      tuple(versions), inputs.ratings, inputs.gold, inputs.questions, points,
                      tuple(leaked), tuple(notes), marks=inputs.not_assessed.marks or {})


def compute_evaluation(data: EvalInputs, *, method: Method = "isotonic", ci: bool = True,
                       n_resamples: int = 1000, progress: Progress = no_progress,
                       token: CancelToken | None = None) -> JudgeEvalReport:
    """The numbers (the work half: no database access)."""
    if method not in ("isotonic", "platt"):
        raise InputError(f"unknown calibration {method!r}; choose isotonic or platt",
                         item="--calibration")
    progress(0, 2, "computing")
    if token is not None:
        token.raise_if_cancelled()
    evaluation = evaluate(
        data.ratings, data.gold, data.questions,
        [Version(v.label, v.rater, v.model) for v in data.runs], data.split, part=data.part,
        method=method, points=data.points, ci=ci, n_resamples=n_resamples, marks=data.marks)
    progress(2, 2, "done")
    return JudgeEvalReport(data.project_name, data.spec, data.part, data.cases_per_part,
                           data.runs, evaluation, data.excluded_cases, data.notes)


def evaluate_runs(project: Project, runs: Sequence[int | str], *, part: str = "test",
                  seed: int | None = None, method: Method = "isotonic", ci: bool = True,
                  n_resamples: int = 1000, progress: Progress = no_progress,
                  token: CancelToken | None = None) -> JudgeEvalReport:
    """Judge runs (prompt versions) side by side against gold on ``part`` of the split
    (``load_eval_inputs`` then ``compute_evaluation``)."""
    data = load_eval_inputs(project, runs, part=part, seed=seed)
    return compute_evaluation(data, method=method, ci=ci, n_resamples=n_resamples,
                              progress=progress, token=token)


# --- few-shot examples from physicians' corrections --------------------------------------------


def _first_user_text(messages: Any) -> str:
    for m in messages if isinstance(messages, list) else []:
        if isinstance(m, dict) and m.get("role", "user") == "user":
            return str(m.get("content", ""))
    return ""


def correction_candidates(project: Project, run: int | str) -> list[FewShotExample]:
    """Every item where run ``run`` disagreed with gold, as a possible example (all cases:
    ``pick_examples`` keeps the training ones)."""
    info = _resolve(project, run)
    inputs = load_inputs(project)
    version = Version("judge", info.rater_name, info.model)
    items = collect_items(inputs.ratings, inputs.gold, inputs.questions, [version],
                          inputs.not_assessed.marks)
    cases = tables.cases_table(project)
    case_text = dict(zip(cases["case_external_id"].astype(str),
                         cases["messages"].map(_first_user_text), strict=True))
    outputs = tables.outputs_table(project)
    answer = dict(zip(outputs["output_id"].astype(int), outputs["text"].astype(str),
                      strict=True))
    prompts = {str(q): str(t) for q, t in tables.criteria_table(project)[
        ["question_id", "criterion"]].itertuples(index=False, name=None)}
    gold_why = {}
    if inputs.gold is not None:
        gold_why = {(int(o), str(q)): str(r or "") for o, q, r in inputs.gold[
            ["output_id", "question_id", "rationale"]].itertuples(index=False, name=None)}
    phys = inputs.ratings[inputs.ratings["rater_kind"] == "physician"]
    why: dict[tuple[int, str], list[tuple[Any, str]]] = {}
    for o, q, v, r in phys[["output_id", "question_id", "value", "rationale"]].itertuples(
            index=False, name=None):
        why.setdefault((int(o), str(q)), []).append((v, str(r or "")))
    out: list[FewShotExample] = []
    for it in items:
        judged = it.judges.get("judge")
        if not it.has_gold or not_assessed(judged):
            continue
        kind = (QuestionKind.CRITERION if it.group == POOLED
                else inputs.questions[it.group].kind)
        if judged not in categories_of(it.group, inputs.questions) and not isinstance(
                judged, bool):
            continue
        if answer_key(kind, judged) == answer_key(kind, it.gold):
            continue
        rationale = gold_why.get((it.output_id, it.qid), "")
        if not rationale:  # a physician who gave the gold answer says why
            rationale = next((r for v, r in why.get((it.output_id, it.qid), [])
                              if r and answer_key(kind, v) == answer_key(kind, it.gold)), "")
        question = prompts.get(it.qid) or (inputs.questions[it.qid].prompt
                                           if it.qid in inputs.questions else it.qid)
        out.append(correction(it.case, it.output_id, it.qid, question,
                              case_text.get(it.case, ""), answer.get(it.output_id, ""),
                              judged, it.gold, rationale))
    return out


def few_shot_examples(project: Project, run: int | str, *, k: int = 4,
                      spec: SplitSpec | None = None) -> tuple[FewShotExample, ...]:
    """Up to ``k`` corrections of run ``run`` from the training split only."""
    spec = spec or split_spec(project)
    split = case_split(project, spec)
    return pick_examples(correction_candidates(project, run), split, k=k, seed=spec.seed)


def run_judge_few_shot(project: Project, config: JudgeConfig, *, from_run: int | str,
                       k: int = 4, style: str = "auto", limit: int | None = None,
                       progress: Progress = no_progress, token: CancelToken | None = None,
                       examples: Sequence[FewShotExample] | None = None,
                       **kwargs: Any) -> tuple[JudgeRunSummary, tuple[FewShotExample, ...]]:
    """A new judge run whose prompts carry ``k`` corrections of ``from_run`` drawn from the
    training split (the split is recorded with the run). Returns the summary and examples."""
    spec = split_spec(project)
    chosen = tuple(examples) if examples is not None else few_shot_examples(
        project, from_run, k=k, spec=spec)
    check_train_only((e.case_key for e in chosen), case_split(project, spec),
                     "the few-shot examples")
    if not chosen:
        raise JudgeError("no correction on the training split to learn from (the run agrees "
                         "with gold on every training item, or there is no gold yet)",
                         item=str(from_run))
    summary = run_judge(project, config, style=style, limit=limit, progress=progress,
                        token=token, few_shot=chosen, split=spec.to_dict(), **kwargs)
    return summary, chosen


# --- the comparison as text tables (the command line and the app show the same) ----------------


def _num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "—"


def _cell(e: Any, *, signed: bool = False) -> str:
    if not math.isfinite(e.value):
        return "—"
    value = f"{e.value:+.3f}" if signed else f"{e.value:.3f}"
    if math.isfinite(e.low) and math.isfinite(e.high):
        return f"{value} ({e.low:.3f} to {e.high:.3f})"
    return value


@dataclass(frozen=True)
class TextTable:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def report_tables(report: JudgeEvalReport) -> list[TextTable]:
    """The comparison per question, then calibration, self-preference and abstention."""
    ev = report.evaluation
    letters = [chr(ord("A") + i) for i in range(len(report.runs))]
    head = ("question", "metric", "n items", *letters,
            *(f"{x} − A" for x in letters[1:]), "physician ceiling")
    rows = []
    for m in ev.metrics:
        name = m.question if m.question_id == POOLED else f"{m.question} [{m.question_id}]"
        rows.append((name, m.metric, str(m.n_items), *(_cell(e) for e in m.versions),
                     *(_cell(e, signed=True) for e in m.differences), _cell(m.ceiling)))
    out = [TextTable("Agreement with gold (95 % CI, bootstrap over cases)", head, tuple(rows))]
    out.append(TextTable(
        "Calibration of the judge's confidence (fitted on train, measured on "
        f"{report.part})",
        ("run", "method", "n train", f"n {report.part}", "ECE before", "ECE after",
         "Brier before", "Brier after", "note"),
        tuple((letters[i], c.method, str(c.n_train), str(c.n_test), _num(c.ece_before),
               _num(c.ece_after), _num(c.brier_before), _num(c.brier_after), c.note)
              for i, c in enumerate(ev.calibration))))
    out.append(TextTable(
        "Self-preference (judge − gold; > 0 = more lenient)",
        ("run", "judge family", "own family", "n", "other families", "n", "own − other",
         "note"),
        tuple((letters[i], p.family, _cell(p.same_family, signed=True), str(p.n_same),
               _cell(p.other_family, signed=True), str(p.n_other),
               _cell(p.difference, signed=True), p.note)
              for i, p in enumerate(ev.self_preference))))
    out.append(TextTable(
        "Abstention (the judge gave no answer)",
        ("run", "physician could not assess", "judge abstained", "rate", "assessed items",
         "rate there"),
        tuple((letters[i], str(a.n_cannot_assess), str(a.judge_abstained),
               _cell(a.rate_cannot_assess), str(a.n_assessed), _cell(a.rate_assessed))
              for i, a in enumerate(ev.abstention))))
    return out


def report_heading(report: JudgeEvalReport) -> list[str]:
    c = report.cases_per_part
    lines = [f"{report.project_name}: judge evaluation on the {report.part} split "
             f"(seed {report.spec.seed}; cases train {c['train']}, dev {c['dev']}, "
             f"test {c['test']}; {report.evaluation.n_cases} {report.part} cases with gold)"]
    for letter, r in zip((chr(ord("A") + i) for i in range(len(report.runs))), report.runs,
                         strict=False):
        lines.append(f"  {letter} = {r.label}, model {r.model}, {r.status}")
    return lines


def report_notes(report: JudgeEvalReport) -> list[str]:
    return list(report.notes + report.evaluation.notes)


def split_spec_with(spec: SplitSpec, *, seed: int | None = None,
                    test_fraction: float | None = None,
                    dev_fraction: float | None = None) -> SplitSpec:
    """``spec`` with the given fields changed (each checked: one line if out of range)."""
    return SplitSpec(spec.seed if seed is None else seed,
                     spec.test_fraction if test_fraction is None else test_fraction,
                     spec.dev_fraction if dev_fraction is None else dev_fraction)
