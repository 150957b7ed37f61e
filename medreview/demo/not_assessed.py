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

from sqlalchemy import select

from medreview.demo.build import PHYSICIANS, SEED, load_demo_cases
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, REASONS, cannot_assess_value
from medreview.storage.assignments import output_infos
from medreview.storage.forms import active_form_rows
from medreview.storage.models import JudgmentRow
from medreview.storage.project import open_project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision

N_MARKS = len(REASONS)
NOTE = "The answer refers to vital signs that the case does not give."


def add_to_demo(path: Path) -> None:
    project = open_project(path)
    try:
        ids = {(o.case_external_id, o.model): o.output_id for o in output_infos(project)}
        demo_outputs = sorted(ids[(c["id"], a["model"])] for c in load_demo_cases()
                              for a in c["answers"] if (c["id"], a["model"]) in ids)
        with project.transaction() as s:
            rubric, taxonomy = active_form_rows(s)
            assert rubric is not None
            raters = {name: get_or_create_rater(s, name, "physician").id for name, _ in PHYSICIANS}
            taken = {(int(r), int(o)) for r, o in s.execute(
                select(JudgmentRow.rater_id, JudgmentRow.output_id))}
            free = [(name, oid) for name, rid in raters.items() for oid in demo_outputs
                    if (rid, oid) not in taken]
            rng = random.Random(SEED + 18)
            for (name, oid), reason in zip(sorted(rng.sample(free, min(N_MARKS, len(free)))),
                                           REASONS, strict=False):
                entry = cannot_assess_value(reason, NOTE if reason == "other" else "")
                append_revision(s, rater_id=raters[name], output_id=oid, content=RevisionContent(
                    answers={CANNOT_ASSESS_KEY: entry}, status="done"), form_id=rubric.id,
                    taxonomy_id=taxonomy.id if taxonomy else None, author=name, source="import")
    finally:
        project.close()
