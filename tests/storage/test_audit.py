"""storage.audit: every revision, as plain dicts, filtered and pseudonymised on request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from medreview.storage.assignments import find_rater
from medreview.storage.audit import judgment_history
from tests.storage.study_helpers import assert_plain, assign_all, grade, small_study


def test_judgment_history_lists_every_revision_in_order(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        lead = find_rater(project, "Dr Lead")
        grade(project, a.id, ids[1], 2)
        grade(project, a.id, ids[1], 3)
        grade(project, lead.id, ids[0], 4)
        rows = judgment_history(project)
        assert_plain(rows)
        assert [(r["output_id"], r["rater"], r["revision_no"], r["is_current"]) for r in rows] \
            == [(ids[0], "Dr Lead", 1, True), (ids[1], "Dr A", 1, False),
                (ids[1], "Dr A", 2, True)]
        assert [r["answers"]["overall"] for r in rows] == [4, 2, 3]
        assert all(isinstance(r["created_at"], dt.datetime) and r["form_key"] ==
                   "sample-healthbench" for r in rows)
        assert [r["revision_no"] for r in judgment_history(project, rater="Dr A",
                                                           output_id=ids[1])] == [1, 2]
        assert judgment_history(project, output_id=ids[1], rater="Dr Lead") == []
        pseudo = judgment_history(project, output_id=ids[0], pseudonymise=True)
        assert [(r["rater"], r["author"]) for r in pseudo] == [(lead.pseudonym, lead.pseudonym)]
