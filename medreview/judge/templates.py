"""Versioned, hashed prompt templates, one per rubric style, and the tasks built from them.

Styles (``TEMPLATES`` keys):

* ``healthbench`` — one request per criterion (met / not met, with an explanation), the
  structure of HealthBench's grader (one call per rubric item, signed points shown);
* ``form`` — one request for all Likert / choice / number questions of the form;
* ``medval`` — one request for error questions (category + severity + quoted words) together
  with the form's scales, such as MedVAL's overall risk level;
* ``pairwise`` — one request comparing two responses to the same case.

``auto`` picks per question kind. Changing any text here must bump the template's ``version``:
its ``sha256`` is stored with every run, so results of different wording are never mixed.
Every prompt shows the JSON schema of the reply too, for servers without structured output.

Few-shot slot: ``plan_tasks(..., few_shot=examples)`` adds physicians' corrections
(``medreview.judge.fewshot``) to each request whose questions they concern, just before the
reply schema; ``style_hash(style, few_shot)`` then covers them. Without examples the prompts
and hashes are exactly those of the plain templates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medreview.domain.rubric import CASE_CRITERION_PREFIX, Option, Question, QuestionKind
from medreview.judge.fewshot import FewShotExample, examples_hash, render_examples

STYLES = ("auto", "healthbench", "form", "medval", "pairwise")
CHOICE_KINDS = frozenset({QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE,
                          QuestionKind.MULTI_CHOICE, QuestionKind.NUMBER})
# Kinds the judge never answers: free text is the physician's own voice.
UNJUDGED_KINDS = frozenset({QuestionKind.TEXT})


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_of(obj: Any) -> str:
    return hashlib.sha256(_canon(obj).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PromptTemplate:
    key: str
    version: int
    system: str
    instructions: str

    @property
    def sha256(self) -> str:
        return sha256_of({"key": self.key, "version": self.version, "system": self.system,
                          "instructions": self.instructions})


@dataclass(frozen=True)
class CaseContext:
    """What the judge is shown of a case (the same the physician sees, minus DICOM)."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    context: tuple[tuple[str, str], ...] = ()  # (title, text)
    images: tuple[str, ...] = ()  # data: URLs, only when images are enabled for the run


@dataclass(frozen=True)
class JudgeTask:
    """One request's worth of work: the messages, the reply schema, the questions it answers."""

    item_key: str
    template: PromptTemplate
    questions: tuple[Question, ...]
    messages: tuple[dict[str, Any], ...]
    schema: dict[str, Any]
    answer_text: str = ""  # the graded response, to locate quoted error spans
    other_text: str = ""  # pairwise: response B
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def request_hash(self) -> str:
        return sha256_of({"messages": list(self.messages), "schema": self.schema,
                          "template": self.template.sha256})


_SYSTEM = ("You are an experienced physician reviewing answers written by an AI assistant for "
           "a medical study. You grade strictly by the instructions and reply only with JSON.")

_REPLY = """# Reply
Reply with a single JSON object and no other text, matching this JSON schema:
```json
{schema}
```"""

HEALTHBENCH = PromptTemplate("healthbench", 1, _SYSTEM, """\
Below is a conversation that ends with the assistant's response, and one criterion from a \
grading rubric. Decide whether the response shows the behaviour the criterion describes.

# Conversation
{conversation}

# Response to grade (last assistant turn)
{answer}

# Criterion (worth {points} points)
{criterion}

# How to decide
- A criterion made of several requirements is met only when all of them are met.
- Lists introduced by "for example", "such as" or "including" are illustrations: the response \
does not need to mention every listed item to meet the criterion.
- A criterion with negative points describes something undesirable. Still report whether that \
behaviour is present: a good response usually leaves such a criterion unmet (false).
- Grade only the final response; earlier turns are context.

"explanation": one to three sentences on why the criterion is or is not met.
"criteria_met": true if the response meets the criterion, false otherwise.
"confidence": how sure you are of criteria_met, from 0 (guess) to 1 (certain).
""")

FORM = PromptTemplate("form", 1, _SYSTEM, """\
Below is a conversation that ends with the assistant's response. Rate the response on each \
question, as a physician filling in the study form would.

# Conversation
{conversation}

# Response to grade (last assistant turn)
{answer}

# Questions
{questions}

For every question give "value" (one of the allowed values exactly as written), \
"explanation" (one or two sentences) and "confidence" (from 0 = guess to 1 = certain).
""")

MEDVAL = PromptTemplate("medval", 1, _SYSTEM, """\
Below is a task input and the AI-generated output for it. Check the output for clinically \
relevant errors, then answer the questions.

# Input
{conversation}

# Output to check
{answer}

# How to decide
- Count something as an error only if it matters clinically for this task: think of clinical \
understanding, decisions and patient safety.
- For tasks that call for a short output, ask whether a left-out detail matters clinically; \
for long outputs, ask whether added content contradicts or goes beyond the input.
- For every error give its category id, its severity, the exact words of the output it \
concerns in "quote" (empty if it is an omission) and a short explanation. An empty list means \
no error was found.

# Questions
{questions}

For every question give "value", "explanation" (one or two sentences) and "confidence" \
(from 0 = guess to 1 = certain).
""")

PAIRWISE = PromptTemplate("pairwise", 1, _SYSTEM, """\
Below is a conversation and two candidate responses to its last turn, A and B. Compare them.

# Conversation
{conversation}

# Response A
{answer}

# Response B
{other}

# Question
{questions}

Do not let the order of the responses, their length or their style sway you. Give "value" \
("A", "B" or "tie" as allowed), "explanation" (one or two sentences) and "confidence" (from \
0 = guess to 1 = certain).
""")

TEMPLATES: dict[str, PromptTemplate] = {t.key: t for t in (HEALTHBENCH, FORM, MEDVAL, PAIRWISE)}


def style_hash(style: str, few_shot: Sequence[FewShotExample] = ()) -> tuple[int, str]:
    """(version, sha256) recorded for a run of ``style`` (``auto`` = all templates together),
    with its few-shot examples, if any, in the hash."""
    if style == "auto":
        version, digest = 1, sha256_of({k: t.sha256 for k, t in sorted(TEMPLATES.items())})
    else:
        t = TEMPLATES[style]
        version, digest = t.version, t.sha256
    if few_shot:
        digest = sha256_of({"template": digest, "few_shot": examples_hash(few_shot)})
    return version, digest


def examples_for(questions: tuple[Question, ...],
                 few_shot: Sequence[FewShotExample]) -> tuple[FewShotExample, ...]:
    """The examples that concern a request's questions (per-case criteria: any of them)."""
    ids = {q.id for q in questions}
    case_criteria = any(q.is_case_criterion for q in questions)
    return tuple(e for e in few_shot if e.question_id in ids
                 or (case_criteria and e.question_id.startswith(CASE_CRITERION_PREFIX)))


# --- rendering -------------------------------------------------------------------------


def render_conversation(case: CaseContext) -> str:
    parts = [f"{role}: {content}" for role, content in case.messages]
    for title, text in case.context:
        parts.append(f"[context document: {title}]\n{text}")
    return "\n\n".join(parts) if parts else "(no conversation)"


def _fmt_value(v: str | int | float) -> str:
    return json.dumps(v, ensure_ascii=False)


def _options_text(options: tuple[Option, ...]) -> str:
    return "\n".join(
        f"  - {_fmt_value(o.value)} = {o.label}" + (f": {o.description}" if o.description else "")
        for o in options
    )


def question_text(q: Question) -> str:
    head = f"## {q.id}: {q.prompt}"
    lines = [head]
    if q.help:
        lines.append(q.help)
    if q.kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        lines.append("Allowed values (choose one):\n" + _options_text(q.options or _AB))
    elif q.kind is QuestionKind.MULTI_CHOICE:
        lines.append("Allowed values (a list of any that apply):\n" + _options_text(q.options))
    elif q.kind is QuestionKind.NUMBER:
        rng = [f"at least {q.minimum:g}" if q.minimum is not None else "",
               f"at most {q.maximum:g}" if q.maximum is not None else ""]
        lines.append("A number" + (" " + ", ".join(r for r in rng if r) if any(rng) else "")
                     + (f" ({q.unit})" if q.unit else "") + ".")
    elif q.kind is QuestionKind.ERROR:
        cats = "\n".join(f"  - {c.id}: {c.label}" + (f" ({c.group})" if c.group else "")
                         + (f": {c.description}" if c.description else "") for c in q.categories)
        lines.append("A list of errors. Categories:\n" + cats)
        if q.severities:
            lines.append("Severities:\n" + _options_text(q.severities))
    return "\n".join(lines)


_AB = (Option("A", "Response A is better"), Option("B", "Response B is better"),
       Option("tie", "They are equally good"))


# --- reply schemas ---------------------------------------------------------------------


def _enum(values: list[str | int | float]) -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": values}
    if all(isinstance(v, str) for v in values):
        schema["type"] = "string"
    elif all(isinstance(v, int) for v in values):
        schema["type"] = "integer"
    elif all(isinstance(v, int | float) for v in values):
        schema["type"] = "number"
    return schema


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    # Every property required and nothing else allowed: what strict structured output needs.
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


_CONF = {"type": "number", "description": "0 = guess, 1 = certain"}
_EXPL = {"type": "string"}


def value_schema(q: Question) -> dict[str, Any]:
    if q.kind is QuestionKind.CRITERION:
        return {"type": "boolean"}
    if q.kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        return _enum(q.option_values())
    if q.kind is QuestionKind.PAIRWISE:
        return _enum(q.option_values() or ["A", "B", "tie"])
    if q.kind is QuestionKind.MULTI_CHOICE:
        return {"type": "array", "items": _enum(q.option_values())}
    if q.kind is QuestionKind.NUMBER:
        return {"type": "number"}
    if q.kind is QuestionKind.ERROR:
        entry: dict[str, Any] = {"category": _enum([c.id for c in q.categories])}
        if q.severities:
            entry["severity"] = _enum([s.value for s in q.severities])
        entry["quote"] = {"type": "string"}
        entry["explanation"] = {"type": "string"}
        return {"type": "array", "items": _obj(entry)}
    raise ValueError(f"the judge does not answer {q.kind.value} questions")


def criterion_schema() -> dict[str, Any]:
    return _obj({"explanation": _EXPL, "criteria_met": {"type": "boolean"}, "confidence": _CONF})


def answers_schema(questions: tuple[Question, ...]) -> dict[str, Any]:
    props = {q.id: _obj({"value": value_schema(q), "explanation": _EXPL, "confidence": _CONF})
             for q in questions}
    return _obj({"answers": _obj(props)})


# --- tasks -----------------------------------------------------------------------------


def _messages(template: PromptTemplate, body: str, schema: dict[str, Any],
              images: tuple[str, ...],
              examples: Sequence[FewShotExample] = ()) -> tuple[dict[str, Any], ...]:
    if examples:
        body = body + "\n" + render_examples(examples)
    text = body + "\n" + _REPLY.format(schema=json.dumps(schema, indent=1, ensure_ascii=False))
    content: Any = text
    if images:
        content = [{"type": "text", "text": text}] + [
            {"type": "image_url", "image_url": {"url": url}} for url in images]
    return ({"role": "system", "content": template.system}, {"role": "user", "content": content})


def criterion_task(case: CaseContext, answer: str, question: Question,
                   few_shot: Sequence[FewShotExample] = ()) -> JudgeTask:
    points = f"{question.points:+g}" if question.points is not None else "unspecified"
    body = HEALTHBENCH.instructions.format(conversation=render_conversation(case), answer=answer,
                                           points=points, criterion=question.prompt)
    schema = criterion_schema()
    return JudgeTask(question.id, HEALTHBENCH, (question,),
                     _messages(HEALTHBENCH, body, schema, case.images,
                               examples_for((question,), few_shot)), schema, answer)


def form_task(case: CaseContext, answer: str, questions: tuple[Question, ...],
              template: PromptTemplate = FORM,
              few_shot: Sequence[FewShotExample] = ()) -> JudgeTask:
    body = template.instructions.format(
        conversation=render_conversation(case), answer=answer,
        questions="\n\n".join(question_text(q) for q in questions))
    schema = answers_schema(questions)
    return JudgeTask(template.key, template, questions,
                     _messages(template, body, schema, case.images,
                               examples_for(questions, few_shot)), schema, answer)


def pairwise_task(case: CaseContext, answer_a: str, answer_b: str, question: Question,
                  few_shot: Sequence[FewShotExample] = ()) -> JudgeTask:
    body = PAIRWISE.instructions.format(conversation=render_conversation(case), answer=answer_a,
                                        other=answer_b, questions=question_text(question))
    schema = answers_schema((question,))
    return JudgeTask(f"pairwise:{question.id}", PAIRWISE, (question,),
                     _messages(PAIRWISE, body, schema, case.images,
                               examples_for((question,), few_shot)), schema, answer_a, answer_b)


def plan_tasks(style: str, case: CaseContext, answer: str, questions: tuple[Question, ...],
               *, other_answer: str | None = None,
               few_shot: Sequence[FewShotExample] = ()) -> list[JudgeTask]:
    """The requests that grade ``answer`` on ``questions`` in ``style`` (see module doc),
    with the ``few_shot`` examples that concern each request."""
    if style not in STYLES:
        raise ValueError(f"unknown judge template {style!r}; choose one of {', '.join(STYLES)}")
    crit = tuple(q for q in questions if q.kind is QuestionKind.CRITERION)
    choice = tuple(q for q in questions if q.kind in CHOICE_KINDS)
    errors = tuple(q for q in questions if q.kind is QuestionKind.ERROR)
    pair = tuple(q for q in questions if q.kind is QuestionKind.PAIRWISE)
    tasks: list[JudgeTask] = []
    if style in ("auto", "healthbench"):
        tasks += [criterion_task(case, answer, q, few_shot) for q in crit]
    if style == "medval" or (style == "auto" and errors):
        if errors or choice:
            tasks.append(form_task(case, answer, errors + choice, MEDVAL, few_shot))
    elif style in ("auto", "form") and choice:
        tasks.append(form_task(case, answer, choice, FORM, few_shot))
    if style in ("auto", "pairwise") and other_answer is not None:
        tasks += [pairwise_task(case, answer, other_answer, q, few_shot) for q in pair]
    return tasks
