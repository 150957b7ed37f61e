"""Merging packages: idempotent, order-independent, nothing lost or duplicated, conflicts listed."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medreview.storage.audit import judgment_history
from medreview.storage.project import Project, open_project
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package
from tests.study.helpers import grade_package, study_project


def snapshot(project: Project) -> dict[str, list[tuple[Any, ...]]]:
    """What 'the same project' means: graded revisions by uid, and every current value."""
    hist = judgment_history(project)
    graded = sorted((h["uid"], h["rater"], h["output_id"], h["author"], str(h["created_at"]),
                     json.dumps(h["answers"], sort_keys=True), h["rationale"])
                    for h in hist if h["source"] != "resolve")
    current = sorted((h["rater"], h["output_id"], json.dumps(h["answers"], sort_keys=True),
                      h["rationale"]) for h in hist if h["is_current"])
    return {"graded": graded, "current": current}


def _package_uids(files: list[Path]) -> set[str]:
    """Every revision uid inside the packages (read through a merge into a scratch copy)."""
    import tempfile
    import zipfile

    from sqlalchemy import select

    from medreview.storage.models import JudgmentRevisionRow
    from medreview.study.package import unpack_package

    uids: set[str] = set()
    for f in files:
        with tempfile.TemporaryDirectory() as tmp:
            assert zipfile.is_zipfile(f)
            p = open_project(unpack_package(f, Path(tmp) / "x"))
            with p.read() as s:
                uids |= set(s.scalars(select(JudgmentRevisionRow.uid)))
            p.close()
    return uids


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A base project (closed, to copy) and a pool of graded packages at different stages."""
    root = tmp_path_factory.mktemp("pool")
    project = study_project(root / "base", n_cases=6, dicom=False)
    assign(project, AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.5,
                                     seed=8))
    files: dict[str, Path] = {}
    for name, key in (("Dr A", "a"), ("Dr B", "b"), ("Dr C", "c")):
        out = build_package(project, name, root / f"{key}.mrpkg").path
        # the same package sealed twice: after 2 items, then after all (it extends the first)
        files[f"{key}1"] = grade_package(out, root / key, root / f"{key}1.mrpkg", limit=2)
        files[f"{key}2"] = grade_package(out, root / key, root / f"{key}2.mrpkg", round_no=1)
    # Dr A also graded the same items in a second copy of the package: a true conflict
    files["a_copy"] = grade_package(root / "a.mrpkg", root / "a_copy", root / "a_copy.mrpkg",
                                    limit=3, round_no=7)
    project.close()
    return {"base": root / "base", "files": files, "root": root}


def _fresh(pool: dict[str, object], dest: Path) -> Project:
    shutil.copytree(pool["base"], dest)  # type: ignore[arg-type]
    return open_project(dest)


def test_merge_is_idempotent_and_every_revision_arrives_once(
        pool: dict[str, object], tmp_path: Path) -> None:
    files: dict[str, Path] = pool["files"]  # type: ignore[assignment]
    chosen = [files["a2"], files["b2"], files["c1"]]
    project = _fresh(pool, tmp_path / "p")
    first = merge_packages(project, chosen)
    state = snapshot(project)
    again = merge_packages(project, chosen)
    assert snapshot(project) == state
    assert again.added == 0 and first.added > 0
    graded_uids = [g[0] for g in state["graded"]]
    assert len(graded_uids) == len(set(graded_uids))  # nothing duplicated
    assert _package_uids(chosen) <= set(graded_uids)  # nothing lost
    assert first.conflicts == []
    project.close()


def test_true_conflict_is_listed_keeps_both_and_current_does_not_depend_on_order(
        pool: dict[str, object], tmp_path: Path) -> None:
    files: dict[str, Path] = pool["files"]  # type: ignore[assignment]
    one = _fresh(pool, tmp_path / "one")
    two = _fresh(pool, tmp_path / "two")
    r1 = merge_packages(one, [files["a2"]])
    r1b = merge_packages(one, [files["a_copy"]])
    r2 = merge_packages(two, [files["a_copy"], files["a2"]])
    assert r1.conflicts == [] and len(r1b.conflicts) == 3 and len(r2.conflicts) == 3
    assert snapshot(one) == snapshot(two)
    hist = judgment_history(one)
    per_item = Counter((h["output_id"]) for h in hist if h["source"] == "merge")
    assert max(per_item.values()) >= 2  # both sides' revisions kept
    one.close()
    two.close()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_property_any_packages_any_order_any_repeats_same_project(
        pool: dict[str, object], tmp_path_factory: pytest.TempPathFactory,
        data: st.DataObject) -> None:
    files: dict[str, Path] = pool["files"]  # type: ignore[assignment]
    keys = sorted(files)
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=7), label="merges")
    batches = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=7), label="batches")
    work = tmp_path_factory.mktemp("prop")
    project = _fresh(pool, work / "p")
    i = 0
    for size in batches:  # merge in batches of varying size, files possibly repeated
        if i >= len(chosen):
            break
        merge_packages(project, [files[k] for k in chosen[i:i + size]])
        i += size
    if i < len(chosen):
        merge_packages(project, [files[k] for k in chosen[i:]])
    got = snapshot(project)
    project.close()
    ref_dir = pool["root"] / ("ref-" + "-".join(sorted(set(chosen))))  # type: ignore[operator]
    if not ref_dir.exists():
        ref = _fresh(pool, ref_dir)
        merge_packages(ref, [files[k] for k in sorted(set(chosen))])
        ref.close()
    ref = open_project(ref_dir)
    expected = snapshot(ref)
    ref.close()
    assert got == expected
    uids = [g[0] for g in got["graded"]]
    assert len(uids) == len(set(uids))
