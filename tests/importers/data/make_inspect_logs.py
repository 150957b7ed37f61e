"""Rebuild the inspect-ai fixture logs (run: python make_inspect_logs.py).

Writes one small eval log in both forms inspect-ai produces, with the member layout of
inspect-ai >= 0.3.46 (``header.json``, ``_journal/start.json``, ``samples/<id>_epoch_<n>.json``,
``summaries.json``, ``reductions.json``), plus a legacy layout (``start.json`` +
``results.json``, no ``header.json``). Kept beside the fixtures so they can be regenerated.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

HERE = Path(__file__).parent

THYROID = (
    "A 30-year-old woman has a TSH of 0.01 mIU/L and a diffusely enlarged, non-tender thyroid. "
    "Most likely diagnosis?"
)
EVAL = {
    "eval_id": "Yx3kP9tQ2mLr8vWn",
    "run_id": "Hq7Ue2Zs5bNc4dFa",
    "created": "2025-05-01T10:00:00+00:00",
    "task": "medqa_open",
    "task_id": "Tk1Jr6Mp0aBv3cXe",
    "task_version": 0,
    "task_file": "medqa_open.py",
    "task_args": {},
    "dataset": {
        "name": "cases",
        "location": "cases.jsonl",
        "samples": 3,
        "sample_ids": [1, 2, "cxr-017"],
        "shuffled": False,
    },
    "model": "openai/gpt-4o",
    "model_generate_config": {"temperature": 0.0},
    "config": {"epochs": 2},
    "packages": {"inspect_ai": "0.3.120"},
    "scorers": [
        {
            "name": "model_graded_qa",
            "options": {},
            "metrics": [{"name": "inspect_ai/accuracy", "options": {}}],
        }
    ],
}
PLAN = {"name": "plan", "steps": [{"solver": "generate", "params": {}}], "config": {}}
RESULTS = {
    "total_samples": 5,
    "completed_samples": 5,
    "scores": [
        {
            "name": "model_graded_qa",
            "scorer": "model_graded_qa",
            "scored_samples": 4,
            "unscored_samples": 1,
            "params": {},
            "metrics": {"accuracy": {"name": "accuracy", "value": 0.75, "params": {}}},
        }
    ],
}
STATS = {
    "started_at": "2025-05-01T10:00:01+00:00",
    "completed_at": "2025-05-01T10:02:41+00:00",
    "model_usage": {
        "openai/gpt-4o": {"input_tokens": 2100, "output_tokens": 520, "total_tokens": 2620}
    },
}


def _out(text: str, usage: int) -> dict[str, object]:
    return {
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "message": {
                    "id": "m1",
                    "role": "assistant",
                    "content": text,
                    "source": "generate",
                    "model": "gpt-4o-2024-08-06",
                },
                "stop_reason": "stop",
            }
        ],
        "completion": text,
        "usage": {"input_tokens": usage, "output_tokens": 80, "total_tokens": usage + 80},
        "time": 1.7,
    }


SAMPLES = [
    {
        "id": 1,
        "epoch": 1,
        "uuid": "aaaa1111bbbb2222cccc3",
        "input": THYROID,
        "target": "Graves disease",
        "messages": [],
        "output": _out("Graves disease (autoimmune hyperthyroidism).", 400),
        "scores": {
            "model_graded_qa": {
                "value": "C",
                "answer": "Graves disease (autoimmune hyperthyroidism).",
                "explanation": "GRADE: C - matches the target.",
            }
        },
        "metadata": {"specialty": "endocrinology"},
        "store": {},
        "events": [],
        "model_usage": {},
        "attachments": {},
        "started_at": "2025-05-01T10:00:02+00:00",
        "completed_at": "2025-05-01T10:00:05+00:00",
    },
    {
        "id": 1,
        "epoch": 2,
        "uuid": "aaaa1111bbbb2222cccc4",
        "input": THYROID,
        "target": "Graves disease",
        "messages": [],
        "output": _out("Subacute thyroiditis.", 400),
        "scores": {
            "model_graded_qa": {
                "value": "I",
                "explanation": "GRADE: I - a tender gland would be expected.",
            }
        },
        "metadata": {"specialty": "endocrinology"},
        "store": {},
        "events": [],
        "model_usage": {},
        "attachments": {},
    },
    {
        "id": 2,
        "epoch": 1,
        "uuid": "aaaa1111bbbb2222cccc5",
        "input": [
            {"id": "u1", "role": "system", "content": "Answer as a clinician.", "source": "input"},
            {"id": "u2", "role": "user", "content": "attachment://9d1e0f", "source": "input"},
        ],
        "target": ["Start IV ceftriaxone", "Give ceftriaxone"],
        "messages": [],
        "output": _out("Start empirical IV ceftriaxone after blood cultures.", 500),
        "scores": {"model_graded_qa": {"value": "C", "explanation": "Correct."}},
        "metadata": {"specialty": "infectious_disease"},
        "store": {},
        "events": [],
        "model_usage": {},
        "attachments": {
            "9d1e0f": "A 70-year-old with fever, confusion and neck stiffness. First antibiotic?"
        },
    },
    {
        "id": 2,
        "epoch": 2,
        "uuid": "aaaa1111bbbb2222cccc6",
        "input": [
            {"id": "u1", "role": "system", "content": "Answer as a clinician.", "source": "input"},
            {"id": "u2", "role": "user", "content": "attachment://9d1e0f", "source": "input"},
        ],
        "target": ["Start IV ceftriaxone", "Give ceftriaxone"],
        "messages": [],
        "output": {"model": "gpt-4o-2024-08-06", "choices": [], "error": "rate limit"},
        "error": {"message": "RateLimitError", "traceback": "...", "traceback_ansi": "..."},
        "metadata": {"specialty": "infectious_disease"},
        "store": {},
        "events": [],
        "model_usage": {},
        "attachments": {
            "9d1e0f": "A 70-year-old with fever, confusion and neck stiffness. First antibiotic?"
        },
    },
    {
        "id": "cxr-017",
        "epoch": 1,
        "uuid": "aaaa1111bbbb2222cccc7",
        "input": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "65M, CXR attached. What is the most likely diagnosis?",
                    },
                    {"type": "image", "image": "attachment://4f1c"},
                ],
            }
        ],
        "target": "Right lower lobe pneumonia",
        "messages": [],
        "output": {
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": [
                            {"type": "reasoning", "reasoning": "consolidation..."},
                            {"type": "text", "text": "Likely right lower lobe pneumonia."},
                        ],
                        "source": "generate",
                    },
                    "stop_reason": "stop",
                }
            ],
            "completion": "",
            "usage": {"input_tokens": 950, "output_tokens": 210, "total_tokens": 1160},
        },
        "scores": {
            "model_graded_qa": {
                "value": "C",
                "answer": "RLL pneumonia",
                "explanation": "Matches.",
                "metadata": {"grader": "gpt-4.1"},
            }
        },
        "metadata": {"specialty": "pulmonology"},
        "store": {},
        "events": [],
        "model_usage": {},
        "attachments": {"4f1c": "data:image/png;base64,iVBORw0KGgo="},
    },
]


def main() -> None:
    log = {
        "version": 2,
        "status": "success",
        "eval": EVAL,
        "plan": PLAN,
        "results": RESULTS,
        "stats": STATS,
        "samples": SAMPLES,
    }
    (HERE / "inspect_medqa.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    header = {k: v for k, v in log.items() if k != "samples"}
    # inspect writes samples as they finish: deliberately not in (id, epoch) order here.
    order = [4, 2, 0, 3, 1]
    with zipfile.ZipFile(HERE / "inspect_medqa.eval", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_journal/start.json", json.dumps({"version": 2, "eval": EVAL, "plan": PLAN}))
        for i in order:
            s = SAMPLES[i]
            zf.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        zf.writestr(
            "summaries.json", json.dumps([{"id": s["id"], "epoch": s["epoch"]} for s in SAMPLES])
        )
        zf.writestr("reductions.json", json.dumps([]))
        zf.writestr("header.json", json.dumps(header))
    with zipfile.ZipFile(HERE / "inspect_legacy.eval", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("start.json", json.dumps({"version": 1, "eval": EVAL, "plan": PLAN}))
        for s in SAMPLES[:2]:
            zf.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        zf.writestr("results.json", json.dumps(RESULTS))


if __name__ == "__main__":
    main()
