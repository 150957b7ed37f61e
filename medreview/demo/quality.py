"""The demo's qualification round and retests, so the Qualification dialog and the Raters
tab's test-retest columns show real numbers.

* **Qualification round**: ``QUAL_ITEMS`` demo answers every physician rated get a gold label
  (the answer's known truth per criterion, with a one-line rationale) and are each
  physician's qualification items. Their demo answers are their round: the scores differ
  (each physician's simulated accuracy), and the pass mark is set at or below the lowest
  score (at most 80 %), so all three passed, one with a lower score.
* **Retests**: ``RETEST_FRACTION`` of each physician's finished items, chosen with the demo's
  seed, were served again after ``DELAY_DAYS`` and re-rated blind (simulated with the same
  accuracy), as retest revisions. The demo's ratings are all written when it is built, so
  the retests are dated their delay after that (in the future of the build): the Raters
  tab counts only retests at least 7 days after the first answer.

Everything is seeded; the demo's own rows are not changed (retest revisions never become
the study answer); these are added after them (``build_full_demo``).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

from medreview.demo.build import PHYSICIANS, SEED, load_demo_cases
from medreview.importers.healthbench import criterion_key
from medreview.services.qualification import round_status, set_up_round
from medreview.services.retests import choose_retests
from medreview.storage import tables
from medreview.storage.adjudication import append_gold
from medreview.storage.gold import project_gold
from medreview.storage.project import Project, open_project
from medreview.storage.rater_quality import record_retest
from medreview.storage.retests import retest_items, retest_overview

QUAL_ITEMS = 5
MAX_PASS_MARK = 0.8
RETEST_FRACTION = 0.1
DELAY_DAYS = 7.0
BY = "demo lead"


def _truths(project: Project) -> dict[int, dict[str, bool]]:
    """Output id -> criterion question -> the demo answer's truth."""
    from medreview.storage.assignments import output_infos

    ids = {(o.case_external_id, o.model): o.output_id for o in output_infos(project)}
    out: dict[int, dict[str, bool]] = {}
    for c in load_demo_cases():
        qids = [f"criterion:{criterion_key(i, k['criterion'])}"
                for i, k in enumerate(c["criteria"])]
        for a in c["answers"]:
            oid = ids.get((c["id"], a["model"]))
            if oid is not None:
                out[oid] = dict(zip(qids, a["met"], strict=True))
    return out


def _finals(project: Project) -> dict[str, dict[int, dict[str, Any]]]:
    finals: dict[str, dict[int, dict[str, Any]]] = {}
    for r in tables.current_revisions(project, rater_kind="physician"):
        finals.setdefault(str(r["rater"]), {})[int(r["output_id"])] = r
    return finals


def _qualification(project: Project, rng: random.Random, truths: dict[int, dict[str, bool]],
                   finals: dict[str, dict[int, dict[str, Any]]]) -> None:
    names = tuple(name for name, _acc in PHYSICIANS)
    have_gold = set(project_gold(project))
    by_all = set.intersection(*(set(finals.get(n, {})) for n in names))
    pool = sorted(o for o in by_all if o in truths and o not in have_gold)
    items = sorted(rng.sample(pool, min(QUAL_ITEMS, len(pool))))
    for oid in items:
        for qid, met in truths[oid].items():
            append_gold(project, oid, qid, met, provenance="imported",
                        rationale="Reference standard: the answer "
                                  f"{'meets' if met else 'does not meet'} this criterion.")
    set_up_round(project, names, output_ids=tuple(items), by=BY)
    scores = [r.score for r in round_status(project) if r.score is not None]
    lowest = min(scores) if scores else MAX_PASS_MARK
    mark = min(MAX_PASS_MARK, math.floor(lowest * 20 + 1e-9) / 20)  # a round 5 %
    set_up_round(project, names, output_ids=tuple(items), pass_mark=mark, by=BY)


def _retests(project: Project, rng: random.Random, truths: dict[int, dict[str, bool]],
             finals: dict[str, dict[int, dict[str, Any]]]) -> None:
    choose_retests(project, fraction=RETEST_FRACTION, delay_days=DELAY_DAYS, seed=SEED,
                   by=BY)
    accuracy = dict(PHYSICIANS)
    for name, oids in retest_items(project).items():
        if name not in accuracy:  # a physician added to the demo elsewhere
            continue
        for oid in oids:
            first = finals[name][oid]
            truth = truths.get(oid)
            if truth is None:
                continue
            answers: dict[str, Any] = {q: (t if rng.random() < accuracy[name] else not t)
                                       for q, t in truth.items()}
            if "errors" in first["answers"]:
                answers["errors"] = first["answers"]["errors"]
            at = first["created_at"] + dt.timedelta(days=DELAY_DAYS + rng.uniform(1, 14))
            record_retest(project, name, oid, answers,
                          time_on_task_s=round(rng.uniform(40, 240), 1), at=at)


def add_to_demo(path: Path) -> None:
    """Add the qualification round and the answered retests to the demo at ``path``."""
    rng = random.Random(SEED + 181)
    project = open_project(path)
    try:
        truths = _truths(project)
        finals = _finals(project)
        _qualification(project, rng, truths, finals)
        _retests(project, rng, truths, finals)
        assert all(r.open == 0 for r in retest_overview(project))  # none left waiting
    finally:
        project.close()
