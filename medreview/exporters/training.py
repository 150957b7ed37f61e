"""Training exports from gold labels: chat SFT, preference pairs, per-criterion table.

* ``sft_records``: one chat example per output with gold labels — system: the rubric; user: the
  case and the answer; assistant: the gold verdict as JSON ``{"answers": {...}, "rationale"}``.
  ``style="messages"`` is the OpenAI chat fine-tuning shape (also TRL's conversational
  language-modeling shape); ``style="prompt_completion"`` is TRL's conversational
  prompt-completion shape.
* ``preference_records``: pairs of answers to the same case — from a gold *pairwise* answer
  (the output carrying it is side "A"; its partner is the case's only other output) or from a
  difference of gold scores (rubric scoring rule, e.g. HealthBench points) of at least
  ``min_margin``. ``style="trl"`` gives ``{"prompt", "chosen", "rejected"}`` (conversational,
  explicit prompt: DPOTrainer); ``style="openai"`` the OpenAI preference fine-tuning shape.
* ``criteria_rows``: HealthBench-style rows (criterion, met, explanation) from the gold labels of
  per-case criteria, with each physician's label under a pseudonym (names only on request).

Every builder returns ``(case key, record)`` pairs so that ``medreview.exporters.splits`` can
split by case. No record carries a rater's name unless ``real_names`` is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any, Literal

from medreview.domain.rubric import Form, Question, QuestionKind
from medreview.errors import InputError
from medreview.exporters.loaded import ExportData
from medreview.storage.exports import ExportCase, GoldLabel
from medreview.storage.project import Project

Record = tuple[str, dict[str, Any]]
SftStyle = Literal["messages", "prompt_completion"]
PrefStyle = Literal["trl", "openai"]


def _describe_question(q: Question) -> str:
    line = f"- `{q.id}` ({q.kind.value}): {q.prompt}"
    if q.points is not None:
        line += f" [{q.points:+g} points]"
    if q.options:
        line += " Options: " + ", ".join(f"{o.value!r} = {o.label}" for o in q.options) + "."
    if q.categories:
        line += " Categories: " + ", ".join(c.id for c in q.categories) + "."
    if q.severities:
        line += " Severities: " + ", ".join(repr(o.value) for o in q.severities) + "."
    return line


def render_rubric(rubric: Form, taxonomy: Form | None = None) -> str:
    """The system prompt: the grader's task, the reply format and every question."""
    parts = [
        "You are a physician grading an AI model's answer to a medical case.",
        f"Rubric: {rubric.name} (v{rubric.version}).",
    ]
    if rubric.description:
        parts.append(rubric.description)
    questions = [q for q in rubric.questions if q.kind is not QuestionKind.TEXT]
    if taxonomy is not None:
        questions += list(taxonomy.questions)
    parts.append("Questions:")
    parts += [_describe_question(q) for q in questions]
    if rubric.per_case_criteria:
        parts.append("Each case also lists its own criteria (`criterion:<key>`): answer true if "
                     "the answer meets the criterion, false if not.")
    parts.append('Reply with JSON only: {"answers": {"<question id>": <answer>, ...}, '
                 '"rationale": "<why>"}. Error answers are lists of {"category", "severity"}.')
    return "\n".join(parts)


def render_case(case: ExportCase, answer: str) -> str:
    """The user turn: the conversation, context documents, case criteria and the answer."""
    parts = ["# Conversation"]
    parts += [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in case.messages]
    for d in case.context:
        parts.append(f"\n# Context: {d.get('title') or d.get('kind', 'document')}\n"
                     f"{d.get('text', '')}")
    if case.criteria:
        parts.append("\n# Case criteria")
        parts += [_describe_question(q) for q in case.criteria]
    parts.append(f"\n# Answer to grade\n{answer}")
    return "\n".join(parts)


_VERDICT = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False)'s


def _verdict(gold: dict[str, GoldLabel], fallback_rationale: str) -> str:
    answers = {qid: g.value for qid, g in sorted(gold.items()) if not qid.startswith("_")}
    notes = [f"{qid}: {g.rationale}" for qid, g in sorted(gold.items()) if g.rationale]
    rationale = "\n".join(notes) if notes else fallback_rationale
    return _VERDICT.encode({"answers": answers, "rationale": rationale})


def name_scrubber(project: Project, data: ExportData | None = None) -> Callable[[str], str]:
    """Replace every rater's name in free text by their pseudonym (longest names first)."""
    pairs = sorted((data or ExportData(project)).raters, key=lambda p: -len(p[0]))

    def scrub(text: str) -> str:
        for name, pseudonym in pairs:
            if name and name in text:
                text = text.replace(name, pseudonym)
        return text

    return scrub


def sft_records(
    project: Project,
    *,
    style: SftStyle = "messages",
    provenances: tuple[str, ...] | None = None,
    real_names: bool = False,
    data: ExportData | None = None,
) -> list[Record]:
    """One chat example per output with gold labels (optionally only some provenances).

    Rationales are free text written by physicians: unless ``real_names``, any rater name in
    them is replaced by that rater's pseudonym. ``data``: what this export run already read.
    """
    return list(iter_sft_records(project, style=style, provenances=provenances,
                                 real_names=real_names, data=data))


def iter_sft_records(
    project: Project,
    *,
    style: SftStyle = "messages",
    provenances: tuple[str, ...] | None = None,
    real_names: bool = False,
    data: ExportData | None = None,
) -> Iterator[Record]:
    """``sft_records`` one at a time, in output id order (the gold labels and outputs read a
    window at a time: ``ExportData``)."""
    data = data or ExportData(project)
    make = sft_maker(project, data, style=style, provenances=provenances,
                     real_names=real_names)
    for oid, gold in data.gold.items():  # (in output id order)
        found = make(oid, gold)
        if found is not None:
            yield found


def sft_maker(project: Project, data: ExportData, *, style: SftStyle = "messages",
              provenances: tuple[str, ...] | None = None, real_names: bool = False
              ) -> Callable[[int, dict[str, GoldLabel]], Record | None]:
    """The SFT record of one output and its gold labels (None: no record), for a pass over
    the gold labels in output id order."""
    if style not in ("messages", "prompt_completion"):
        raise InputError(f"unknown SFT style {style!r}")
    rubric, taxonomy = data.forms
    system = render_rubric(rubric, taxonomy)
    scrub = name_scrubber(project, data) if not real_names else (lambda t: t)

    def make(oid: int, gold: dict[str, GoldLabel]) -> Record | None:
        if provenances is not None:
            gold = {q: g for q, g in gold.items() if g.provenance in provenances}
        if not gold:
            return None
        o = data.output(oid)
        if o is None:
            return None
        case = data.case(o.case_id)
        user = render_case(case, o.text)
        fallback = data.fallback_rationale(oid)
        assistant = scrub(_verdict(gold, fallback if fallback is not None
                                   else "Graded against the rubric."))
        if style == "messages":
            rec: dict[str, Any] = {"messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant}]}
        else:
            rec = {"prompt": [{"role": "system", "content": system},
                              {"role": "user", "content": user}],
                   "completion": [{"role": "assistant", "content": assistant}]}
        return case.external_id, rec

    return make


def gold_scores(project: Project, *, score_question: str | None = None,
                data: ExportData | None = None) -> dict[int, float]:
    """Output -> score from gold labels: a numeric question, or the rubric's scoring rule.

    With the rule, every case criterion must have a gold label (an unlabelled criterion would
    silently count as not met).
    """
    return (data or ExportData(project)).scores(score_question)


def _pair_record(prompt: list[dict[str, str]], chosen: str, rejected: str, margin: float | None,
                 style: PrefStyle) -> dict[str, Any]:
    if style == "openai":
        return {"input": {"messages": prompt},
                "preferred_output": [{"role": "assistant", "content": chosen}],
                "non_preferred_output": [{"role": "assistant", "content": rejected}]}
    rec: dict[str, Any] = {"prompt": prompt,
                           "chosen": [{"role": "assistant", "content": chosen}],
                           "rejected": [{"role": "assistant", "content": rejected}]}
    if margin is not None:
        rec["margin"] = round(margin, 6)
    return rec


def _prompt_of(case: ExportCase) -> list[dict[str, str]]:
    msgs = [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))}
            for m in case.messages]
    # The policy answers the conversation's last user turn: drop a trailing assistant turn.
    while msgs and msgs[-1]["role"] == "assistant":
        msgs.pop()
    return [m for m in msgs if m["content"].strip()]


def compared_outputs(project: Project, data: ExportData | None = None
                     ) -> dict[tuple[int, str], int]:
    """(output, pairwise question) → the output the raters saw as "B": the most common one
    their current answers record (ties: the lowest id, so exports are deterministic)."""
    return (data or ExportData(project)).compared


def preference_records(
    project: Project,
    *,
    style: PrefStyle = "trl",
    score_question: str | None = None,
    min_margin: float = 0.0,
    include_margin: bool = False,
    data: ExportData | None = None,
) -> tuple[list[Record], list[dict[str, Any]]]:
    """Preference pairs and a provenance sidecar (one row per record, same order)."""
    records: list[Record] = []
    sidecar: list[dict[str, Any]] = []
    for key, (rec, side) in iter_preference_records(
            project, style=style, score_question=score_question, min_margin=min_margin,
            include_margin=include_margin, data=data):
        records.append((key, rec))
        sidecar.append(side)
    return records, sidecar


_PAIRS = 20_000  # candidate pairs whose answers and cases are read together


def iter_preference_records(
    project: Project,
    *,
    style: PrefStyle = "trl",
    score_question: str | None = None,
    min_margin: float = 0.0,
    include_margin: bool = False,
    data: ExportData | None = None,
) -> Iterator[tuple[str, tuple[dict[str, Any], dict[str, Any]]]]:
    """``preference_records`` one (record, sidecar row) at a time: the candidate pairs come
    from the gold labels (in output order) and the scores, and the answers' texts and the
    cases' prompts are read for ``_PAIRS`` candidates at a time."""
    if style not in ("trl", "openai"):
        raise InputError(f"unknown preference style {style!r}")
    data = data or ExportData(project)
    seen: set[tuple[int, int]] = set()
    n = 0
    batch: list[tuple[int, int, int, float | None, str]] = []
    for candidate in _pair_candidates(data, score_question, min_margin):
        batch.append(candidate)
        if len(batch) >= _PAIRS:
            for found in _pairs(project, batch, seen, style, include_margin, n):
                n += 1
                yield found
            batch = []
    for found in _pairs(project, batch, seen, style, include_margin, n):
        n += 1
        yield found


def _pair_candidates(data: ExportData, score_question: str | None, min_margin: float
                     ) -> Iterator[tuple[int, int, int, float | None, str]]:
    """(case, winner, loser, margin, source) in the order pairs are made: pairwise gold
    answers first (by output), then gold score differences (by case)."""
    output_cases, by_case = data.output_cases, data.by_case
    pairwise_ids = _pairwise_ids(data)
    # 1) pairwise gold answers, where the partner is known: the one the raters were shown
    #    (recorded with their answers), else the case's only other output
    if pairwise_ids:
        for oid, labels in data.gold.items():  # (in output id order)
            if oid not in output_cases:
                continue
            case_id = output_cases[oid]
            siblings = [x for x in by_case[case_id] if x != oid]
            compared: dict[str, int] | None = None
            for g in labels.values():
                if g.value not in ("A", "B") or g.question_id not in pairwise_ids:
                    continue
                if compared is None:
                    compared = data.compared_of(oid)
                other = compared.get(g.question_id)
                if other is None or other not in siblings:
                    if len(siblings) != 1:
                        continue
                    other = siblings[0]
                win, lose = (oid, other) if g.value == "A" else (other, oid)
                yield case_id, win, lose, None, f"pairwise:{g.question_id}"
    # 2) gold score differences
    scores = data.scores(score_question)
    for case_id, oids in sorted(by_case.items()):
        scored = sorted(o for o in oids if o in scores)
        for a, b in combinations(scored, 2):
            diff = scores[a] - scores[b]
            if abs(diff) <= 0 or abs(diff) < min_margin:
                continue
            win, lose = (a, b) if diff > 0 else (b, a)
            yield case_id, win, lose, abs(diff), "gold score"


def _pairs(project: Project, batch: list[tuple[int, int, int, float | None, str]],
           seen: set[tuple[int, int]], style: PrefStyle, include_margin: bool, n: int
           ) -> Iterator[tuple[str, tuple[dict[str, Any], dict[str, Any]]]]:
    """The records of a batch of candidates (``seen``: the pairs already made)."""
    if not batch:
        return
    from medreview.storage.exports import outputs_and_cases

    outputs, cases = outputs_and_cases(project, (x for c in batch for x in c[1:3]),
                                       (c[0] for c in batch))
    for case_id, win, lose, margin, source in batch:
        if (win, lose) in seen or (lose, win) in seen:
            continue
        prompt = _prompt_of(cases[case_id])
        if not prompt or outputs[win].text == outputs[lose].text:
            continue
        seen.add((win, lose))
        key = cases[case_id].external_id
        yield key, (_pair_record(prompt, outputs[win].text, outputs[lose].text,
                                 margin if include_margin else None, style),
                    {"row": n, "case_external_id": key, "chosen_output_id": win,
                     "rejected_output_id": lose, "chosen_model": outputs[win].model,
                     "rejected_model": outputs[lose].model, "margin": margin,
                     "source": source})
        n += 1


def _pairwise_ids(data: ExportData) -> set[str]:
    return {q.id for q in data.questions.values() if q.kind is QuestionKind.PAIRWISE}


def criteria_rows(project: Project, *, real_names: bool = False,
                  data: ExportData | None = None) -> list[Record]:
    """HealthBench-style rows: one per output x case criterion with a gold label."""
    return list(iter_criteria_rows(project, real_names=real_names, data=data))


def iter_criteria_rows(project: Project, *, real_names: bool = False,
                       data: ExportData | None = None) -> Iterator[Record]:
    """``criteria_rows`` one at a time, in output id order."""
    data = data or ExportData(project)
    make = criteria_maker(project, data, real_names=real_names)
    for oid, gold in data.gold.items():  # (in output id order)
        yield from make(oid, gold)


def criteria_maker(project: Project, data: ExportData, *, real_names: bool = False
                   ) -> Callable[[int, dict[str, GoldLabel]], list[Record]]:
    """The criteria rows of one output and its gold labels, for a pass over the gold labels
    in output id order."""
    scrub = name_scrubber(project, data) if not real_names else (lambda t: t)

    def make(oid: int, gold: dict[str, GoldLabel]) -> list[Record]:
        o = data.output(oid)
        if o is None:
            return []
        case = data.case(o.case_id)
        texts = {q.id: q for q in case.criteria}
        found = [(qid, g) for qid, g in sorted(gold.items())
                 if qid in texts and isinstance(g.value, bool)]
        if not found:
            return []
        # the physicians' own labels of this output (only of outputs that have a row)
        ratings = data.physician_labels(oid, pseudonymise=not real_names)
        rows: list[Record] = []
        for qid, g in found:
            q = texts[qid]
            rows.append((case.external_id, {
                "case_external_id": case.external_id,
                "output_id": oid,
                "model": o.model,
                "criterion_id": qid,
                "criterion": q.prompt,
                "points": q.points,
                "met": g.value,
                "explanation": scrub(g.rationale),
                "provenance": g.provenance,
                "rater_labels": dict(sorted(ratings.get((oid, qid), {}).items())),
            }))
        return rows

    return make


# Why an export came out empty ------------------------------------------------------------------
ADJUDICATE_HINT = ("adjudicate (Study → Adjudicate in the app, or `medreview adjudicate PROJECT "
                   "--auto` to record unanimous and majority answers as gold)")


def empty_reason(project: Project, kind: str, *, score_question: str | None = None,
                 min_margin: float = 0.0, data: ExportData | None = None) -> str:
    """Why ``kind`` (sft, dpo, criteria) has no record, and what to do about it.

    Mirrors the conditions of the builders above: every record needs gold labels; a preference
    pair also needs a pairwise gold answer or two outputs of one case whose gold scores differ;
    a criteria row needs a gold label on a per-case criterion. ``data``: what this export run
    already read (the reasons are computed from it, never read again).
    """
    data = data or ExportData(project)
    outputs = data.output_cases
    if not outputs:
        return "the project has no model outputs yet; import some (Project → Import)"
    if not any(g and oid in outputs for oid, g in data.gold.items()):
        return f"no output has a gold label yet; {ADJUDICATE_HINT}"
    if kind == "sft":
        return f"no gold label belongs to a current output; {ADJUDICATE_HINT}"
    if kind == "criteria":
        from medreview.storage.exports import has_case_criteria

        if not has_case_criteria(project):
            return ("the cases have no per-case criteria (HealthBench-style rubric items); "
                    "this export is for such cases — use sft or tables instead")
        return ("no per-case criterion has a yes/no gold label yet; adjudicate the criteria "
                f"({ADJUDICATE_HINT})")
    if kind != "dpo":
        return "nothing to export"
    by_case = data.by_case
    if all(len(v) < 2 for v in by_case.values()):
        return ("every case has a single output: a preference pair needs two answers to the "
                "same case (import another model's outputs)")
    pairwise_ids = _pairwise_ids(data)
    if any(g.value in ("A", "B") and qid in pairwise_ids
           for oid, labels in data.gold.items() if oid in outputs
           for qid, g in labels.items()):
        return ("the pairwise gold answers make no pair: their case has more than two "
                "outputs and the raters' judgments don't record which answer was compared "
                "(grade the pairs in the app, which records it), or the two answers are "
                "identical")
    scores = data.scores(score_question)
    gaps = [abs(scores[a] - scores[b]) for oids in by_case.values()
            for a, b in combinations(sorted(o for o in oids if o in scores), 2)]
    what = (f"gold question {score_question!r}" if score_question
            else "the rubric score (every case criterion gold-labelled)")
    if not gaps:
        return ("no pairwise gold answer (A/B) and no case with two outputs scored by "
                f"{what}; give gold to both answers of a case, or to a pairwise question "
                f"({ADJUDICATE_HINT})")
    if not any(g > 0 for g in gaps):
        return (f"the {len(gaps)} pair(s) of scored outputs have equal gold scores and no "
                "pairwise gold answer (A/B) decides between them: a score gap is needed")
    return (f"no pair of scored outputs differs by at least --min-margin {min_margin:g} "
            f"(largest gap {max(gaps):g}); lower the minimum margin")
