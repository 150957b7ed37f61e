"""Builders for the study storage tests: a small graded project, and a check that values
handed out by storage are plain (no ORM row, no session)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services.sample_project import build_sample_project
from medreview.storage.assignments import NewAssignment, output_infos, write_assignment
from medreview.storage.base import Base
from medreview.storage.project import Project


def assert_plain(value: Any, path: str = "value") -> None:
    """Fail if ``value`` holds an ORM instance anywhere (dataclass fields and containers)."""
    assert not isinstance(value, Base), f"{path} is an ORM row: {type(value).__name__}"
    assert type(value).__module__.split(".")[0] != "sqlalchemy", f"{path}: {type(value)}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            assert_plain(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_plain(k, f"{path} key")
            assert_plain(v, f"{path}[{k!r}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            assert_plain(v, f"{path}[{i}]")


def small_study(path: Path, *, n_cases: int = 2) -> Project:
    """A sample project (2 models per case) with ``Dr Lead`` and no assignments yet."""
    project, _me = build_sample_project(path, n_cases=n_cases, outputs_per_case=2,
                                        with_dicom=False, rater="Dr Lead")
    return project


def assign_all(project: Project, rater: str, *, seed: int = 7) -> list[int]:
    """Give ``rater`` every output (positions in id order, labels by model order)."""
    ids = [o.output_id for o in output_infos(project)]

    def plan(state: Any) -> list[NewAssignment]:
        return [NewAssignment(rater, oid, i, f"Response {'AB'[i % 2]}")
                for i, oid in enumerate(ids)]

    write_assignment(project, [rater], plan, seed=seed, design_record={"test": True})
    return ids


def grade(project: Project, rater_id: int, output_id: int, overall: int) -> None:
    grading.save_revision(project, rater_id, output_id,
                          JudgmentDraft(answers={"overall": overall}), status="done")
