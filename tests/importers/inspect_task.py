"""Writes inspect-ai logs with the installed inspect-ai (run as a script by the tests).

A tiny task on the offline ``mockllm`` model: two samples (one plain text, one a chat with a
system message and a PNG data-URI image), a solver that asks a follow-up (two generate calls,
so a multi-turn conversation), two epochs, and three scorers: a C/I letter scorer with an
explanation, a numeric one, and ``model_graded_qa`` graded by a second mockllm whose canned
replies alternate GRADE: C / GRADE: I. Every model output carries its usage, so mockllm never
counts tokens (which would download a tokenizer).

Usage: ``python -m tests.importers.inspect_task OUT_DIR`` → ``OUT_DIR/log.eval`` and
``OUT_DIR/log.json`` (the same task run twice, once per log format), and beside each
``samples.<format>.json``: its samples as inspect's own reader returns them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log
from inspect_ai.model import (
    ChatMessageSystem,
    ChatMessageUser,
    ContentImage,
    ContentText,
    ModelOutput,
    ModelUsage,
    get_model,
)
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Score,
    Target,
    accuracy,
    mean,
    model_graded_qa,
    scorer,
)
from inspect_ai.solver import Generate, TaskState, solver

# A 1x1 PNG.
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
FOLLOW_UP = "Are you sure? Answer in one line."


def _out(text: str) -> ModelOutput:
    out = ModelOutput.from_content("mockllm/model", text)
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


@solver
def ask_twice():  # type: ignore[no-untyped-def]
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state = await generate(state)
        state.messages.append(ChatMessageUser(content=FOLLOW_UP))
        return await generate(state)

    return solve


@scorer(metrics=[accuracy()])
def mentions_target():  # type: ignore[no-untyped-def]
    async def score(state: TaskState, target: Target) -> Score:
        ok = target.text.lower() in state.output.completion.lower()
        return Score(
            value=CORRECT if ok else INCORRECT,
            answer=state.output.completion,
            explanation=f"looked for {target.text!r} in the answer",
        )

    return score


@scorer(metrics=[mean()])
def answer_length():  # type: ignore[no-untyped-def]
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value=len(state.output.completion), explanation="characters")

    return score


def task() -> Task:
    grader = get_model(
        "mockllm/model",
        custom_outputs=[_out(f"Reasoning {i}. GRADE: {'CI'[i % 2]}") for i in range(20)],
    )
    return Task(
        dataset=[
            Sample(
                id="q1",
                input="Fever and neck stiffness: first antibiotic?",
                target="ceftriaxone",
                metadata={"specialty": "infectious disease"},
            ),
            Sample(
                id=2,
                input=[
                    ChatMessageSystem(content="Answer as a clinician."),
                    ChatMessageUser(
                        content=[ContentText(text="What does this X-ray show?"),
                                 ContentImage(image=PNG)]
                    ),
                ],
                target="pneumonia",
            ),
        ],
        solver=ask_twice(),
        scorer=[mentions_target(), answer_length(), model_graded_qa(model=grader)],
        epochs=2,
    )


def main(out_dir: Path) -> None:
    for fmt in ("eval", "json"):
        run_dir = out_dir / f"run-{fmt}"
        answers = [_out(f"Answer {i}: ceftriaxone" if i % 4 < 2 else f"Answer {i}: pneumonia")
                   for i in range(40)]
        [log] = inspect_eval(
            task(),
            model="mockllm/model",
            model_args={"custom_outputs": answers},
            log_dir=str(run_dir),
            log_format=fmt,
            display="none",
        )
        if log.status != "success":
            raise SystemExit(f"inspect run failed: {log.error}")
        [written] = list(run_dir.iterdir())
        shutil.move(str(written), out_dir / f"log.{fmt}")
        # The samples as inspect's own reader sees them: the tests' oracle (read here, so the
        # test process never imports inspect_ai, which monkey-patches zipfile).
        samples = read_eval_log(str(out_dir / f"log.{fmt}")).samples or []
        (out_dir / f"samples.{fmt}.json").write_text(
            json.dumps([smp.model_dump(mode="json") for smp in samples]), encoding="utf-8"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
