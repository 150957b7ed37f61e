"""Few-shot examples: training cases only, in the prompt only when given, part of the hash."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from medreview.domain.rubric import case_criterion_question
from medreview.errors import InputError
from medreview.judge.fewshot import FewShotExample, correction, pick_examples
from medreview.judge.templates import CaseContext, plan_tasks, style_hash

CASE = CaseContext((("user", "Chest pain for 2 hours, what now?"),))
URGENT = case_criterion_question("urgent", "Advises calling emergency services now.", 8.0)


def example(case: str, qid: str = "criterion:urgent", why: str = "Must say call 911.",
            output_id: int = 1) -> FewShotExample:
    return correction(case, output_id, qid, "Advises calling emergency services.",
                      f"{case} text " * 200, "answer " * 300, False, True, why)


def test_only_training_cases_become_examples() -> None:
    split = {f"c{i}": ("train" if i % 2 else "test") for i in range(20)}
    candidates = [example(f"c{i}", output_id=i) for i in range(20)]
    chosen = pick_examples(candidates, split, k=6, seed=3)
    assert len(chosen) == 2  # at most two per question
    chosen = pick_examples([replace(c, question_id=f"criterion:q{i}")
                            for i, c in enumerate(candidates)], split, k=6, seed=3)
    assert len(chosen) == 6 and all(split[e.case_key] == "train" for e in chosen)
    assert len({e.case_key for e in chosen}) == 6
    # Seeded and stable: the same candidates give the same examples, in any order.
    again = pick_examples(list(reversed([replace(c, question_id=f"criterion:q{i}")
                                         for i, c in enumerate(candidates)])), split, k=6,
                          seed=3)
    assert again == chosen
    with pytest.raises(InputError, match="choose 0 to 20"):
        pick_examples(candidates, split, k=50)


def test_examples_with_a_rationale_come_first_and_excerpts_are_short() -> None:
    split = {"a": "train", "b": "train"}
    chosen = pick_examples([example("a", why=""), example("b", qid="criterion:x")], split, k=1)
    assert chosen[0].case_key == "b"
    assert len(chosen[0].case_excerpt) <= 600 and len(chosen[0].answer_excerpt) <= 600


def test_prompts_without_examples_are_the_plain_templates() -> None:
    plain = plan_tasks("healthbench", CASE, "Call 911.", (URGENT,))
    same = plan_tasks("healthbench", CASE, "Call 911.", (URGENT,), few_shot=())
    assert [t.request_hash for t in plain] == [t.request_hash for t in same]
    assert "Examples" not in json.dumps([t.messages for t in plain])
    assert style_hash("healthbench") == style_hash("healthbench", ())


def test_examples_enter_the_prompt_and_the_hash() -> None:
    ex = (example("c1"),)
    plain = plan_tasks("healthbench", CASE, "Call 911.", (URGENT,))[0]
    shot = plan_tasks("healthbench", CASE, "Call 911.", (URGENT,), few_shot=ex)[0]
    text = shot.messages[1]["content"]
    assert "A judge answered: not met (false)" in text and "Must say call 911." in text
    assert text.index("Examples: earlier judge answers") < text.index("# Reply")
    assert shot.request_hash != plain.request_hash
    assert style_hash("healthbench", ex)[1] != style_hash("healthbench")[1]
    # An example about another form question is not shown with this criterion.
    other = plan_tasks("healthbench", CASE, "x", (URGENT,),
                       few_shot=(example("c1", qid="accuracy"),))[0]
    assert "Examples" not in other.messages[1]["content"]


def test_stored_examples_are_checked_when_read_back() -> None:
    ex = example("c1")
    assert FewShotExample.from_dict(ex.to_dict()) == ex
    for raw in ("x", {"case_key": "c1"}, {**ex.to_dict(), "output_id": "seven"}):
        with pytest.raises(InputError, match="few-shot example"):
            FewShotExample.from_dict(raw)
