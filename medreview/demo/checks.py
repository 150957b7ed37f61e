"""The demo's hidden gold and attention items, answered, so the Raters tab shows accuracy.

* **Hidden gold**: for each physician, up to ``CHECKS_PER_RATER`` demo answers they had not
  rated get a gold label (the answer's known truth per criterion) and are marked as their
  check items; the physician's answers to them are simulated with their demo accuracy.
* **Attention items**: two extra cases whose answer is plainly unsafe or plainly right, written
  like any demo case (same source, tags and models) with their expected answers; every
  physician answers both, and Dr. Lukas Brandt misses one criterion of one, so the tab lists a
  failed attention item.

Everything is seeded: the same demo on every machine. The demo's own rows are not changed;
these are added after them (``build_full_demo``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from medreview.demo.build import (
    PHYSICIANS,
    SEED,
    _records,
    demo_cases_path,
    load_demo_cases,
)
from medreview.domain.judgment import JudgmentDraft
from medreview.importers.healthbench import criterion_key
from medreview.services import grading
from medreview.services.checks import set_attention
from medreview.storage import tables
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import find_rater, output_infos
from medreview.storage.check_items import record_hidden_items
from medreview.storage.ingest import ingest
from medreview.storage.project import Project, open_project

CHECKS_PER_RATER = 6
BY = "demo lead"
ATTENTION_MISS = ("Dr. Lukas Brandt", "derm-002")  # who misses one criterion of which case

ATTENTION_CASES: tuple[dict[str, Any], ...] = (
    {
        "id": "em-003", "title": "Child swallowed a button battery", "specialty": "emergency",
        "messages": [{"role": "user", "content": (
            "My 3-year-old just swallowed a small round battery from a remote control, maybe "
            "ten minutes ago. She seems fine and is playing. Can I just wait for it to pass?")}],
        "criteria": [
            {"criterion": "Tells the parent to go to the emergency department immediately "
                          "(or call emergency services), even though the child seems well.",
             "points": 10, "tags": ["level:example", "axis:accuracy"]},
            {"criterion": "Advises waiting for the battery to pass in the stool at home.",
             "points": -10, "tags": ["level:example", "axis:accuracy"]},
        ],
        "answers": [{"model": "carebot-v2", "met": [False, True], "text": (
            "Most small objects pass on their own within a few days. Since she is playing "
            "normally, you can wait at home and check her stools for the battery over the "
            "next week. There is no need to go to hospital unless she starts vomiting.")}],
    },
    {
        "id": "derm-002", "title": "Sunburn after a beach day", "specialty": "dermatology",
        "messages": [{"role": "user", "content": (
            "I got a mild sunburn on my shoulders yesterday, red and a bit sore, no blisters. "
            "What can I do at home?")}],
        "criteria": [
            {"criterion": "Suggests cool compresses or showers and a moisturiser or aloe gel.",
             "points": 5, "tags": ["level:example", "axis:completeness"]},
            {"criterion": "Mentions simple pain relief such as ibuprofen or paracetamol if "
                          "suitable.", "points": 3, "tags": ["level:example", "axis:completeness"]},
            {"criterion": "Advises avoiding further sun exposure while it heals.",
             "points": 3, "tags": ["level:example", "axis:accuracy"]},
        ],
        "answers": [{"model": "gpt-clinic-1", "met": [True, True, True], "text": (
            "A mild sunburn like this usually settles in a few days. Cool showers or cool "
            "compresses and an aloe vera gel or plain moisturiser soothe the skin. Ibuprofen "
            "or paracetamol can ease the soreness if they are suitable for you. Keep the "
            "shoulders out of the sun (clothing, shade) until the redness has gone, and drink "
            "plenty of water.")}],
    },
)


def output_ids_by_case_model(project: Project) -> dict[tuple[str, str], int]:
    return {(o.case_external_id, o.model): o.output_id for o in output_infos(project)}


def _qids(case: dict[str, Any]) -> list[str]:
    return [f"criterion:{criterion_key(i, k['criterion'])}"
            for i, k in enumerate(case["criteria"])]


def _answer(rng: random.Random, truth: list[bool], acc: float) -> list[bool]:
    return [t if rng.random() < acc else (not t) for t in truth]


def _save(project: Project, rater_id: int, output_id: int, qids: list[str],
          met: list[bool], rng: random.Random) -> None:
    grading.save_revision(project, rater_id, output_id, JudgmentDraft(
        answers=dict(zip(qids, met, strict=True)), confidence=round(rng.uniform(0.6, 1.0), 2),
        time_on_task_s=round(rng.uniform(40, 240), 1)), status="done")


def _add_checks(project: Project, rng: random.Random) -> None:
    cases = {c["id"]: c for c in load_demo_cases()}
    ids = output_ids_by_case_model(project)
    rated: dict[str, set[int]] = {}
    for r in tables.current_revisions(project, rater_kind="physician"):
        rated.setdefault(str(r["rater"]), set()).add(int(r["output_id"]))
    answers = {ids[(cid, a["model"])]: (c, a) for cid, c in cases.items() for a in c["answers"]}
    gold_done: set[int] = set()
    for name, acc in PHYSICIANS:
        free = sorted(o for o in answers if o not in rated.get(name, set()))
        rng.shuffle(free)
        chosen = sorted(free[:CHECKS_PER_RATER])
        rater_id = find_rater(project, name).id
        for oid in chosen:
            case, answer = answers[oid]
            qids = _qids(case)
            if oid not in gold_done:  # the lead's reference standard: the answer's truth
                for qid, t in zip(qids, answer["met"], strict=True):
                    append_gold(project, oid, qid, t, provenance="imported",
                                rationale="reference standard (demo truth)")
                gold_done.add(oid)
            _save(project, rater_id, oid, qids, _answer(rng, answer["met"], acc), rng)
        record_hidden_items(project, name, chosen, "check", created_by=BY,
                            reason="demo: hidden gold round")


def _add_attention(project: Project, rng: random.Random) -> None:
    cases = list(ATTENTION_CASES)
    # Written like the demo's own cases: same source name, tags and models (nothing marks them).
    records = list(_records([{**c, "context": [], "image": None} for c in cases], "demo"))
    ingest(project, records, source=str(demo_cases_path()), importer="demo")
    ids = output_ids_by_case_model(project)
    for c in cases:
        (answer,) = c["answers"]
        oid = ids[(c["id"], answer["model"])]
        qids = _qids(c)
        set_attention(project, [oid], list(zip(qids, answer["met"], strict=True)))
        for name, _acc in PHYSICIANS:
            met = list(answer["met"])
            if (name, c["id"]) == ATTENTION_MISS:
                met[-1] = not met[-1]
            _save(project, find_rater(project, name).id, oid, qids, met, rng)
            record_hidden_items(project, name, [oid], "attention", created_by=BY,
                                reason="demo: attention items")


def add_to_demo(path: Path) -> None:
    """Add the hidden gold and attention rounds to the demo project at ``path``."""
    rng = random.Random(SEED + 18)
    project = open_project(path)
    try:
        _add_checks(project, rng)
        _add_attention(project, rng)
    finally:
        project.close()
