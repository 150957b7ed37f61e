"""The demo's "cannot assess" marks, so the dashboard's "Not assessed" table shows real numbers.

The demo leaves about one answer in eight unrated by each physician; ``N_MARKS`` of those
(chosen with the demo's seed) are marked "cannot assess" by that physician, one per reason.
A cannot-assess judgment rates nothing (``domain.not_assessed``): agreement, judge and score
statistics are exactly those of the demo without them, and the demo's own rows are unchanged.
Added after everything else (``build_full_demo``).
"""

from __future__ import annotations

import random
from pathlib import Path

from medreview.demo.build import PHYSICIANS, SEED, load_demo_cases
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, REASONS, cannot_assess_value
from medreview.services import grading
from medreview.storage import tables
from medreview.storage.assignments import find_rater, output_infos
from medreview.storage.project import open_project

N_MARKS = len(REASONS)
NOTE = "The answer refers to vital signs that the case does not give."


def add_to_demo(path: Path) -> None:
    project = open_project(path)
    try:
        ids = {(o.case_external_id, o.model): o.output_id for o in output_infos(project)}
        demo_outputs = sorted(ids[(c["id"], a["model"])] for c in load_demo_cases()
                              for a in c["answers"] if (c["id"], a["model"]) in ids)
        raters = {name: find_rater(project, name).id for name, _ in PHYSICIANS}
        taken = {(str(r["rater"]), int(r["output_id"]))
                 for r in tables.current_revisions(project, rater_kind="physician")}
        free = [(name, oid) for name in raters for oid in demo_outputs
                if (name, oid) not in taken]
        rng = random.Random(SEED + 18)
        for (name, oid), reason in zip(sorted(rng.sample(free, min(N_MARKS, len(free)))),
                                       REASONS, strict=False):
            entry = cannot_assess_value(reason, NOTE if reason == "other" else "")
            grading.save_revision(project, raters[name], oid,
                                  JudgmentDraft(answers={CANNOT_ASSESS_KEY: entry}),
                                  status="done")
    finally:
        project.close()
