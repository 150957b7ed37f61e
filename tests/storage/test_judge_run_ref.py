"""``resume_run`` finds a run by id or by the start of its uid, on either backend.

A uid is hex: about one in sixteen starts with six digits, and such a prefix was taken for an
id only, so resuming by it found nothing (``test_judge_runs`` failed now and then). A prefix
several runs share picks the same run on SQLite and PostgreSQL (the oldest), never whichever
row the database returns first.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from medreview.rubrics.templates import load_template
from medreview.storage.forms import register_form
from medreview.storage.judge_runs import JudgeRunInfo, create_run, resume_run
from medreview.storage.models import JudgeRunRow
from medreview.storage.project import Project, create_project

RUN = {"model": "judge-x", "base_url": "http://127.0.0.1:9/v1", "template_key": "auto",
       "template_version": 1, "template_hash": "h" * 64, "params": {"limit": None},
       "images": False}


def _run(project: Project, uid: str) -> int:
    info = create_run(project, **RUN, status="created")  # type: ignore[arg-type]
    assert isinstance(info, JudgeRunInfo)
    with project.transaction() as s:
        s.execute(update(JudgeRunRow).where(JudgeRunRow.id == info.run_id).values(uid=uid))
    return info.run_id


def _accept(_run: JudgeRunInfo) -> None:
    return None


def test_a_uid_prefix_of_digits_finds_its_run_and_an_id_still_wins(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        with project.transaction() as s:
            register_form(s, load_template("healthbench"))
        first = _run(project, "a" * 32)
        digits = _run(project, "123456" + "b" * 26)
        found = resume_run(project, "123456", _accept)
        assert found is not None and found.run_id == digits
        by_id = resume_run(project, str(first), _accept)
        assert by_id is not None and by_id.run_id == first
        assert resume_run(project, first, _accept) is not None
        assert resume_run(project, "999999", _accept) is None
        assert resume_run(project, 999, _accept) is None


def test_a_shared_prefix_picks_the_oldest_run_on_every_backend(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        with project.transaction() as s:
            register_form(s, load_template("healthbench"))
        ids = [_run(project, f"cafe{n}" + "0" * 27) for n in range(5)]
        # Rows rewritten after insertion sit elsewhere in a PostgreSQL heap: no natural order.
        for run_id in reversed(ids):
            with project.transaction() as s:
                s.execute(update(JudgeRunRow).where(JudgeRunRow.id == run_id)
                          .values(status="stopped"))
        found = resume_run(project, "cafe", _accept)
        assert found is not None and found.run_id == ids[0]
