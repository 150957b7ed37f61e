"""The demo's second judge prompt version, made through the real judge pipeline.

The demo's first judge run (``demo-judge-mini``, simulated ratings) is prompt version A. This
module draws few-shot examples from A's corrections on the training split of the project's
split (``services.judge_eval``), and runs ``services.judging.run_judge`` with them (version
B): real plans, the HealthBench template with the few-shot slot, ledger, cache and judge
revisions. Only the endpoint is simulated, in-process and deterministic: it knows each demo
answer's truth and is right a little more often, and better calibrated, than A. Nothing is
sent anywhere (no HTTP connection is made).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from medreview.judge.client import ChatReply, JudgeClient
from medreview.judge.config import JudgeConfig
from medreview.progress import CancelToken
from medreview.services.judge_eval import run_judge_few_shot
from medreview.services.judging import list_judge_runs
from medreview.storage.project import Project

MODEL = "demo-judge-mini"  # the same model as version A: only the prompt changes
BASE_URL = "http://127.0.0.1:8011/v1"
ACCURACY = 0.92
EXAMPLES = 4
_PROMPT = re.compile(r"# Response to grade \(last assistant turn\)\n(?P<answer>.*?)\n\n"
                     r"# Criterion \(worth [^)]*\)\n(?P<criterion>.*?)\n\n# How to decide",
                     re.DOTALL)


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class SimulatedEndpoint:
    """Answers HealthBench criterion requests from the demo's known truth (duck-typed
    ``JudgeClient``: ``complete``, ``dropped_params``, ``close``)."""

    def __init__(self, truth: Mapping[tuple[str, str], bool], accuracy: float = ACCURACY):
        self.truth = truth
        self.accuracy = accuracy

    def complete(self, messages: tuple[dict[str, Any], ...], schema: dict[str, Any], *,
                 n: int = 1, token: CancelToken | None = None) -> ChatReply:
        text = str(messages[-1]["content"])
        m = _PROMPT.search(text)
        key = (m.group("answer").strip(), m.group("criterion").strip()) if m else ("", "")
        truth = self.truth.get(key, False)
        u = _unit("demo-judge-b", *key)
        right = u < self.accuracy
        met = truth if right else not truth
        # Right answers are stated with more confidence than wrong ones, as a calibrated
        # judge would; the value is a pure function of the prompt.
        v = _unit("confidence", *key)
        confidence = round(0.8 + 0.19 * v if right else 0.55 + 0.3 * v, 3)
        reply = json.dumps({"explanation": "Simulated verdict (demo, few-shot prompt).",
                            "criteria_met": met, "confidence": confidence})
        return ChatReply((reply,), (None,), ("stop",), 1000, 60, 1)

    def dropped_params(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass


def demo_truth(cases: list[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """(answer text, criterion text) -> whether the answer meets it, from the demo cases."""
    truth: dict[tuple[str, str], bool] = {}
    for c in cases:
        for a in c["answers"]:
            for k, met in zip(c["criteria"], a["met"], strict=True):
                truth[(str(a["text"]).strip(), str(k["criterion"]).strip())] = bool(met)
    return truth


def add_judge_versions(project: Project, cases: list[dict[str, Any]]) -> None:
    """Version B of the demo judge: few-shot corrections of version A (the first run) from the
    training split, run through the real pipeline against the simulated endpoint."""
    runs = list_judge_runs(project)
    if not runs:
        return
    first = min(r.run_id for r in runs)
    config = JudgeConfig(base_url=BASE_URL, model=MODEL, concurrency=1, logprobs=False)
    client = cast(JudgeClient, SimulatedEndpoint(demo_truth(cases)))
    run_judge_few_shot(project, config, from_run=first, k=EXAMPLES, style="healthbench",
                       client=client)


def add_to_demo(path: Path) -> None:
    """``add_judge_versions`` on the demo project at ``path`` (built by ``build_demo_project``;
    ``medreview demo`` calls this right after building it)."""
    from medreview.demo.build import load_demo_cases
    from medreview.services.projects import open_project

    with open_project(path) as project:
        add_judge_versions(project, load_demo_cases())
