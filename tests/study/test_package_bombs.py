"""Hostile package files cost bounded memory, time and disk (security-notes F7, 4a-4c).

Each package is refused by a real ``merge`` and a real pre-merge check in a child process that
reports its peak-RSS growth and time: under 500 MB and a few seconds, for files that claim
gigabytes (the bombs are a few MB: their deflate streams are built, not compressed, see
``zipcraft``). Nothing is left in the child's temp folder or the project folder, and the
project's tables are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from medreview.study.assign import AssignmentDesign, assign
from medreview.study.package import MANIFEST, build_package
from medreview.study.seal import sealed
from tests.study.helpers import study_project
from tests.study.test_package_forgery import table_hash
from tests.study.zipcraft import Member, write_zip

MAX_RSS_GROWTH_MB = 500
MAX_SECONDS = 10.0
MiB = 1 << 20

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from medreview.errors import MedreviewError
from medreview.services import study as svc
from medreview.storage.project import open_project
from medreview.study.merge import merge_packages
project = open_project(Path(sys.argv[1]))
uid = project.uid
issued = svc.issued_records(project)
out = {}
for step in ("check", "merge"):
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    try:
        if step == "check":
            svc.check_package(Path(sys.argv[2]), uid, issued)
        else:
            merge_packages(project, [Path(sys.argv[2])])
        out[step] = "accepted"
    except MedreviewError as e:
        out[step] = e.message
    out[step + "_secs"] = time.monotonic() - t
    out[step + "_rss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
project.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("bombs")
    project = study_project(root / "study", n_cases=3)
    assign(project, AssignmentDesign(("Dr A",), seed=1))
    file = build_package(project, "Dr A", root / "a.mrpkg").path
    project.close()
    with zipfile.ZipFile(file) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    return {"project": root / "study", "file": file, "members": members,
            "manifest": json.loads(members[MANIFEST])}


def _members(h: dict[str, Any], manifest: dict[str, Any] | None = None,
             skip: str = "") -> list[Member]:
    m = manifest if manifest is not None else h["manifest"]
    out = [Member(MANIFEST, json.dumps(m).encode())]
    out += [Member(n, d) for n, d in h["members"].items() if n not in (MANIFEST, skip)]
    return out


def run_merge(h: dict[str, Any], file: Path, tmp_path: Path) -> dict[str, Any]:
    before = table_hash(h["project"])
    tmp = tmp_path / "child-tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    r = subprocess.run([sys.executable, "-c", CHILD, str(h["project"]), str(file)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    for step in ("check", "merge"):
        assert out[step] != "accepted", out
        assert "\n" not in out[step] and str(file) in out[step]
        assert out[f"{step}_rss_mb"] < MAX_RSS_GROWTH_MB, out
        assert out[f"{step}_secs"] < MAX_SECONDS, out
    assert list(tmp.iterdir()) == []  # nothing unpacked into the system temp folder
    assert not list(h["project"].glob(".medreview-merge-*"))
    assert table_hash(h["project"]) == before
    return out


@pytest.mark.sqlite_only(reason="a child process gets the lead's folder")
def test_manifest_padded_to_1_5_gb_is_refused_in_bounded_memory(honest: dict[str, Any],
                                                                tmp_path: Path) -> None:
    members = _members(honest)
    members[0] = Member(MANIFEST, prefix=members[0].data, repeat_chunk=b" " * MiB, repeat=1536)
    file = write_zip(tmp_path / "manifest-bomb.mrpkg", members)
    assert file.stat().st_size < 5 * MiB
    with zipfile.ZipFile(file) as z:  # a valid zip that claims 1.5 GB
        assert z.getinfo(MANIFEST).file_size > 1536 * MiB
    out = run_merge(honest, file, tmp_path)
    assert "manifest is larger than 8 MB" in out["merge"]


@pytest.mark.sqlite_only(reason="a child process gets the lead's folder")
def test_manifest_whose_zip_entry_understates_its_size_is_refused(honest: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    members = _members(honest)
    members[0] = Member(MANIFEST, prefix=members[0].data, repeat_chunk=b" " * MiB, repeat=1536,
                        declared_size=1000)
    out = run_merge(honest, write_zip(tmp_path / "manifest-lie.mrpkg", members), tmp_path)
    assert "damaged" in out["merge"] or "not valid JSON" in out["merge"]


@pytest.mark.parametrize(("target", "mib", "reason"), [
    ("project/media", 3072, "file is larger than the limit (2 GiB)"),
    ("project/media", 1536, "would expand more than 100 times (a zip bomb)"),
    ("project/project.sqlite", 1536, "would expand more than 100 times (a zip bomb)"),
])
@pytest.mark.sqlite_only(reason="a child process gets the lead's folder")
def test_member_bomb_with_its_true_size_is_refused_before_unpacking(
        honest: dict[str, Any], tmp_path: Path, target: str, mib: int, reason: str) -> None:
    """Gigabytes of zeros in a few MB, the size stated truthfully and the manifest re-sealed
    with the package's key (finding 4c)."""
    name = next(n for n in honest["manifest"]["files"] if n.startswith(target))
    m = json.loads(json.dumps(honest["manifest"]))
    m["files"][name] = {"sha256": "0" * 64, "size": mib * MiB}
    members = _members(honest, sealed(m, m["seal_key"]), skip=name)
    members.append(Member(name, repeat_chunk=bytes(MiB), repeat=mib))
    file = write_zip(tmp_path / "member-bomb.mrpkg", members)
    assert file.stat().st_size < 5 * MiB
    out = run_merge(honest, file, tmp_path)
    assert reason in out["merge"] and reason in out["check"]


@pytest.mark.sqlite_only(reason="a child process gets the lead's folder")
def test_member_streaming_past_its_declared_size_is_stopped(honest: dict[str, Any],
                                                            tmp_path: Path) -> None:
    """The manifest says 10 bytes; the stream holds 1 GiB: reading stops at the first chunk."""
    name = next(n for n in honest["manifest"]["files"] if n.startswith("project/media"))
    m = json.loads(json.dumps(honest["manifest"]))
    m["files"][name] = {"sha256": "0" * 64, "size": 10}
    members = _members(honest, sealed(m, m["seal_key"]), skip=name)
    members.append(Member(name, repeat_chunk=bytes(MiB), repeat=1024))
    out = run_merge(honest, write_zip(tmp_path / "small-declared.mrpkg", members), tmp_path)
    assert "larger than the manifest or the limits allow" in out["merge"]
    assert out["merge_secs"] < 2


@pytest.mark.sqlite_only(reason="a child process gets the lead's folder")
def test_150000_members_are_refused_without_reading_them(honest: dict[str, Any],
                                                         tmp_path: Path) -> None:
    members = _members(honest) + [Member(f"project/media/x/{i}") for i in range(150_000)]
    file = write_zip(tmp_path / "many.mrpkg", members)
    with zipfile.ZipFile(file) as z:
        assert len(z.infolist()) == 150_000 + len(honest["members"])
    out = run_merge(honest, file, tmp_path)
    assert "too many files in package" in out["merge"]
    assert out["merge_secs"] < 3


def test_size_of_the_wrong_type_is_one_line(honest: dict[str, Any], tmp_path: Path) -> None:
    from medreview.errors import PackageError
    from medreview.study.package import read_manifest

    m = json.loads(json.dumps(honest["manifest"]))
    name = next(iter(m["files"]))
    m["files"][name]["size"] = "lots"
    file = write_zip(tmp_path / "lots.mrpkg", _members(honest, m))
    with pytest.raises(PackageError) as exc:
        read_manifest(file)
    assert "size must be a whole number of bytes, not 'lots'" in exc.value.message
    assert f"files.{name}" in exc.value.message
