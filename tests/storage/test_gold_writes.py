"""storage.adjudication: gold-label revisions appended and read back as plain values."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.errors import InputError
from medreview.storage.adjudication import NewGold, add_missing_gold, append_gold
from medreview.storage.assignments import find_rater, output_infos
from medreview.storage.audit import gold_history
from medreview.storage.gold import StoredGold, project_gold
from tests.storage.study_helpers import assert_plain, small_study


def test_append_numbers_revisions_and_marks_the_adjudicator(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        oid = output_infos(project)[0].output_id
        first = append_gold(project, oid, "overall", 3, provenance="majority")
        second = append_gold(project, oid, "overall", 4, provenance="adjudicated",
                             rationale="why", adjudicator="Dr Judge")
        assert_plain([first, second])
        assert (first.revision_no, second.revision_no) == (1, 2)
        assert project_gold(project) == {oid: {"overall": StoredGold(
            oid, "overall", 4, "adjudicated", 2, "why")}}
        assert find_rater(project, "Dr Judge").is_adjudicator
        assert [g["adjudicator"] for g in gold_history(project)] == [None, "Dr Judge"]
        with pytest.raises(InputError, match="no such output"):
            append_gold(project, 10_000, "overall", 1, provenance="adjudicated",
                        adjudicator="Dr Other")
        with pytest.raises(InputError, match="no rater"):
            find_rater(project, "Dr Other")  # refused whole: not created either


def test_missing_gold_is_added_only_where_there_is_none(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        a, b = (o.output_id for o in output_infos(project)[:2])
        append_gold(project, a, "overall", 5, provenance="adjudicated", adjudicator="Dr J")
        seen: list[frozenset[tuple[int, str]]] = []

        def decide(have: frozenset[tuple[int, str]]) -> list[NewGold]:
            seen.append(have)
            return [NewGold(a, "overall", 1, "majority"), NewGold(b, "overall", 2, "unanimous"),
                    NewGold(b, "overall", 3, "majority")]

        added = add_missing_gold(project, decide)
        assert_plain(added)
        assert seen == [frozenset({(a, "overall")})]
        assert [(g.output_id, g.value, g.provenance) for g in added] == [(b, 2, "unanimous")]
        gold = project_gold(project)
        assert gold[a]["overall"].value == 5 and gold[b]["overall"].value == 2
