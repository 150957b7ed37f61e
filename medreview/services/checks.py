"""Hidden gold and attention items for the lead: mark attention items with their expected
answer, mix both kinds into physicians' queues at a set rate (``medreview checks``,
``medreview assign --check-rate``). See ``study.checks`` for the rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from medreview.domain.changes import Changes
from medreview.domain.validation import check_answer
from medreview.errors import InputError
from medreview.services.questions import project_questions
from medreview.services.readiness import require_rubric
from medreview.storage.check_items import write_attention_gold
from medreview.storage.project import Project
from medreview.study.checks import CheckDesign, CheckSummary, mix_checks

__all__ = ["CheckDesign", "CheckSummary", "mix", "parse_expected", "set_attention",
           "summary_lines"]


def mix(project: Project, design: CheckDesign, *, created_by: str = ""
        ) -> tuple[CheckSummary, Changes]:
    require_rubric(project, "hidden gold and attention items")
    summary = mix_checks(project, design, created_by=created_by)
    return summary, Changes(raters=True, queue=frozenset()) if summary.added else Changes()


def parse_expected(items: Sequence[str]) -> list[tuple[str, Any]]:
    """``QUESTION=JSON`` pairs (``safe="no"``, ``overall=1``) -> (question, value)."""
    out: list[tuple[str, Any]] = []
    for item in items:
        qid, sep, raw = item.partition("=")
        if not sep or not qid.strip():
            raise InputError("an expected answer is QUESTION=JSON_VALUE", item=item[:200])
        try:
            out.append((qid.strip(), json.loads(raw)))
        except ValueError as exc:
            raise InputError(f"value is not JSON: {exc}", item=item[:200]) from exc
    return out


def set_attention(project: Project, output_ids: Sequence[int],
                  expected: Sequence[tuple[str, Any]]) -> tuple[int, Changes]:
    """Make each output an attention item whose expected answer is ``expected`` (validated
    against the project's questions first: nothing is written if one is not valid)."""
    if not output_ids or not expected:
        raise InputError("an attention item needs output ids and at least one expected answer")
    questions = project_questions(project)
    for qid, value in expected:
        q = questions.get(qid)
        if q is None:
            raise InputError("no such question in this project", item=qid)
        reason = check_answer(q, value)
        if reason:
            raise InputError(f"not a valid expected answer: {reason}", item=qid)
    n = write_attention_gold(project, output_ids, expected)
    return n, Changes(gold=frozenset(output_ids))


def summary_lines(summary: CheckSummary) -> list[str]:
    """What a mixing run did, for the command line (counts per rater are the lead's)."""
    d = summary.design
    total = sum(n for per in summary.added.values() for n in per.values())
    lines = [f"{total} hidden item(s) mixed in (rate {d.rate:g}, attention rate "
             f"{d.attention_rate:g}, seed {d.seed})"]
    for rater, per in sorted(summary.added.items()):
        lines.append(f"  {rater}: " + ", ".join(f"{n} {k}" for k, n in per.items()))
    for kind, per in sorted(summary.short.items()):
        pool = "outputs with gold" if kind == "check" else "attention items"
        lines.append(f"note: too few {pool} left for " + ", ".join(
            f"{r} ({n} short)" for r, n in sorted(per.items())))
    if summary.no_queue:
        lines.append("note: nothing left to mix into for " + ", ".join(summary.no_queue)
                     + " (every item opened)")
    return lines
