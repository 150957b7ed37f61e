"""storage.project_info, storage.raters (views and loads), storage.gold.gold_of_output and
storage.db_errors.describe_storage_error: plain values out of a real SQLite project, and the
queries count right."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.exc import OperationalError

from medreview.storage import project_info, raters
from medreview.storage.db_errors import describe_storage_error
from medreview.storage.gold import gold_of_output
from medreview.storage.read_models import GoldView, ProjectInfo, RaterLoad, RaterView
from medreview.study.adjudicate import set_gold
from tests.storage.study_helpers import assert_plain, assign_all, grade, small_study


def test_project_info_counts_what_the_project_holds(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        raters.add_rater(project, "judge-x", "judge")
        info = project_info.project_info(project)
        assert_plain(info)
        assert isinstance(info, ProjectInfo)
        c = info.counts
        assert (c["cases"], c["outputs"], c["physicians"], c["judges"], c["raters"]) == (
            2, 4, 1, 1, 2)
        assert (c["judgments"], c["judgment_revisions"], c["gold_labels"]) == (0, 0, 0)
        assert (c["rubrics"], c["taxonomies"]) == (1, 1)
        assert c["rubric_criteria"] > 0 and c["dicom_series"] == 0
        assert sum(info.models.values()) == 4 and list(info.models) == sorted(info.models)
        assert [r.name for r in info.raters] == ["Dr Lead", "judge-x"]  # by id
        assert {f["kind"] for f in info.forms} == {"rubric", "taxonomy"}
        assert info.schema_revision and info.uid and info.data_may_leave is False
        grade(project, 1, 1, 4)
        c = project_info.project_info(project).counts
        assert (c["judgments"], c["judgments_done"], c["judgment_revisions"]) == (1, 1, 1)


def test_settings_consent_and_reveal_are_written(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        assert project_info.output_overview(project)[:2] == (4, 2)
        project_info.set_consent(project, True, "Dr Lead")
        assert project_info.project_info(project).data_may_leave is True
        project_info.set_consent(project, False, "Dr Lead")
        assert project_info.project_info(project).data_may_leave is False
        project_info.set_reveal_models(project, True)
        from medreview.storage.judgments import load_item

        assert load_item(project, 1, 1).reveal_model is True
        settings = project_info.project_settings(project)
        assert isinstance(settings, dict)
        settings["mutated"] = True  # a copy: the stored settings are untouched
        assert "mutated" not in project_info.project_settings(project)


def test_raters_are_listed_as_views_and_loads_count_assignments_and_done(
        tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        b = raters.add_rater(project, "Dr B")
        assert_plain(b)
        assert isinstance(b, RaterView) and (b.kind, b.pseudonym) == ("physician", "P02")
        assert raters.add_rater(project, "Dr B") == b  # the same rater, not a new one
        raters.add_rater(project, "judge-x", "judge")
        assert [r.name for r in raters.list_raters(project)] == ["Dr B", "Dr Lead", "judge-x"]
        assert [r.name for r in raters.list_raters(project, "judge")] == ["judge-x"]
        ids = assign_all(project, "Dr B")
        grade(project, b.id, ids[0], 3)
        loads = raters.physician_loads(project)
        assert_plain(loads)
        assert loads == (RaterLoad("Dr B", "P02", 4, 1), RaterLoad("Dr Lead", "P01", 0, 0))


def test_gold_of_output_is_the_newest_label_with_its_adjudicator(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        assert gold_of_output(project, 1) == {}
        set_gold(project, 1, "overall", 2, rationale="first", adjudicator="Dr Lead")
        set_gold(project, 1, "overall", 4, rationale="second look", adjudicator="Dr Lead")
        set_gold(project, 2, "overall", 5, rationale="other output", adjudicator="Dr Lead")
        gold = gold_of_output(project, 1)
        assert_plain(gold)
        assert list(gold) == ["overall"]
        g = gold["overall"]
        assert isinstance(g, GoldView)
        assert (g.value, g.revision_no, g.rationale, g.adjudicator, g.provenance) == (
            4, 2, "second look", "Dr Lead", "adjudicated")


def test_storage_errors_are_described_in_words_and_others_are_not() -> None:
    wrapped = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    text = describe_storage_error(wrapped)
    assert text is not None and "disk" in text and "SELECT" not in text
    assert describe_storage_error(sqlite3.DatabaseError("file is not a database")) is not None
    assert describe_storage_error(ValueError("not a database error")) is None
