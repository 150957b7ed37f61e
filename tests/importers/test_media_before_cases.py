"""Media imported before their cases wait under the case key and are attached by the import that
adds the case (folder names or a manifest), all or nothing; ``medreview info`` says what waits.

End to end: real DICOM and PNG files, a real project on SQLite, the CLI and
``services.importing.import_file``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.errors import ImportFailed
from medreview.services.importing import import_file
from medreview.storage.models import AttachmentRow, CaseRow
from medreview.storage.pending_media import waiting_media
from medreview.storage.project import Project, create_project, open_project
from tests.importers.helpers import write
from tests.importers.test_media import TEST_FILES, _ct_series, _image


def _cases_jsonl(path: Path, *ids: str, bad_last: bool = False) -> Path:
    lines = [json.dumps({"id": i, "prompt": f"Case {i}: what is shown?"}) for i in ids]
    if bad_last:
        lines.append("{not json")
    return write(path, "\n".join(lines) + "\n")


@pytest.fixture
def media_root(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "media"
    _image(root / "caseA" / "cxr.png", "PNG")
    sops = _ct_series(root / "caseA" / "ct")
    (root / "caseB").mkdir()
    (root / "caseB" / "mr.dcm").write_bytes((TEST_FILES / "MR_small.dcm").read_bytes())
    return root, sops


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = create_project(tmp_path / "proj", "p")
    p.close()
    return open_project(tmp_path / "proj")


def _rows(project: Project) -> list[tuple[str, AttachmentRow]]:
    with project.read() as s:
        return [(ext, a) for a, ext in s.execute(
            select(AttachmentRow, CaseRow.external_id)
            .join(CaseRow, CaseRow.id == AttachmentRow.case_id))]


def _attached(project: Project) -> list[tuple[str, str, int]]:
    return sorted((ext, a.kind, a.sort_index) for ext, a in _rows(project))


def test_media_first_then_cases_by_folder_name(project: Project, media_root: tuple[Path, list[str]],
                                               tmp_path: Path) -> None:
    root, sops = media_root
    _fmt, summary = import_file(project, root, options={"left_out": []})
    assert summary.added == {"series waiting for their cases": 2,
                             "files waiting for their cases": 5}
    assert _attached(project) == []
    waiting = waiting_media(project)
    assert (waiting.series, waiting.files, waiting.case_keys) == (2, 5, ("caseA", "caseB"))
    assert waiting.sentence() == "2 series (5 files) waiting for their cases: caseA, caseB"

    # the same folder again: nothing new waits
    _fmt, again = import_file(project, root, options={"left_out": []})
    assert not again.added and again.skipped == {"files waiting for their cases": 5}

    # a case import that adds caseA attaches its image and CT series in slice order
    _fmt, cases = import_file(project, _cases_jsonl(tmp_path / "a.jsonl", "caseA", "caseC"))
    assert cases.added["cases"] == 2
    assert (cases.added["attachments"], cases.added["series"]) == (4, 1)
    assert _attached(project) == [("caseA", "dicom", 0), ("caseA", "dicom", 1),
                                  ("caseA", "dicom", 2), ("caseA", "image", 0)]
    ct = sorted((a for _ext, a in _rows(project) if a.kind == "dicom"),
                key=lambda a: a.sort_index)
    assert [a.sop_uid for a in ct] == sops
    assert len({a.series_id for a in ct}) == 1
    waiting = waiting_media(project)
    assert (waiting.series, waiting.files, waiting.case_keys) == (1, 1, ("caseB",))

    # media for a case that exists are attached directly, as before
    _image(root / "caseC" / "photo.png", "PNG")
    _fmt, direct = import_file(project, root, options={"left_out": []})
    assert direct.added == {"attachments": 1}
    assert waiting_media(project).files == 1


def test_failed_case_import_keeps_media_waiting(project: Project,
                                                media_root: tuple[Path, list[str]],
                                                tmp_path: Path) -> None:
    root, _sops = media_root
    import_file(project, root, options={"left_out": []})
    blobs = sorted(p for p in (project.path / "media").rglob("*") if p.is_file())
    assert len(blobs) == 5
    with pytest.raises(ImportFailed):
        import_file(project, _cases_jsonl(tmp_path / "bad.jsonl", "caseB", bad_last=True))
    assert _attached(project) == []
    assert waiting_media(project).files == 5  # nothing attached, nothing lost
    assert sorted(p for p in (project.path / "media").rglob("*") if p.is_file()) == blobs
    _fmt, ok = import_file(project, _cases_jsonl(tmp_path / "b.jsonl", "caseB"))
    assert (ok.added["attachments"], ok.added["series"]) == (1, 1)
    assert _attached(project) == [("caseB", "dicom", 0)]


def test_failed_media_import_leaves_no_waiting_rows_or_blobs(project: Project,
                                                             tmp_path: Path) -> None:
    root = tmp_path / "media"
    _image(root / "c1" / "a.png", "PNG")
    (root / "c2").mkdir()
    write(root / "c2" / "b.png", "not a png")  # the importer refuses the folder on this file
    with pytest.raises(ImportFailed, match="not a valid image/png"):
        import_file(project, root, options={"left_out": []})
    assert waiting_media(project).files == 0
    assert [p for p in (project.path / "media").rglob("*") if p.is_file()] == []


def test_manifest_case_key_and_cli_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--name", "p"]) == 0
    root = tmp_path / "incoming"
    _image(root / "x" / "cxr.png", "PNG")
    (root / "x" / "mr.dcm").write_bytes((TEST_FILES / "MR_small.dcm").read_bytes())
    write(root / "manifest.csv", "case_key,path,view\nq7,x/cxr.png,frontal\nq7,x/mr.dcm,\n")
    capsys.readouterr()
    assert main(["import", str(proj), str(root)]) == 0
    out = capsys.readouterr().out
    assert "1 series waiting for their cases" in out and "2 files waiting for their cases" in out

    assert main(["info", str(proj)]) == 0
    info = capsys.readouterr().out
    assert "1 series (2 files) waiting for their cases: q7" in info
    assert main(["info", str(proj), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    counts = doc["counts"]
    assert (counts["series_waiting_for_cases"], counts["files_waiting_for_cases"]) == (1, 2)
    assert doc["waiting_for_cases"] == {"series": 1, "files": 2, "case_keys": ["q7"]}

    assert main(["import", str(proj), str(_cases_jsonl(tmp_path / "c.jsonl", "q7"))]) == 0
    out = capsys.readouterr().out
    assert "2 attachments" in out and "1 series" in out
    assert main(["info", str(proj), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert (counts["series_waiting_for_cases"], counts["files_waiting_for_cases"]) == (0, 0)
    assert counts["attachments"] == 2
    with open_project(proj) as project:
        rows = _rows(project)
    assert sorted((ext, a.kind) for ext, a in rows) == [("q7", "dicom"), ("q7", "image")]
    assert [a.meta for _ext, a in rows if a.kind == "image"] == [{"view": "frontal"}]
