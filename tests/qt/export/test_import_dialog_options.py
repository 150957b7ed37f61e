"""The import dialog's Options: the same encoding, --na, --map and --strict as the CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pydicom
import pytest

from medreview.runtime.executors import DbExecutor
from medreview.services.grading import load_item, load_queue
from medreview.services.projects import (
    Project,
    add_rater,
    create_project,
    open_project,
    project_info,
)

DATA = Path(__file__).resolve().parents[2] / "importers" / "data"
CT = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


@pytest.fixture
def dialog(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.import_dialog import ImportDialog
    from medreview.runtime.bus import ChangeBus

    make_app()
    create_project(tmp_path / "p", "options test").close()
    db = DbExecutor()
    project: Project = db.submit(open_project, tmp_path / "p").result()
    dlg = ImportDialog(project, db, ChangeBus())
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    db.submit(project.close).result()
    db.shutdown()


def _run(qtbot, dlg, paths: list[Path]) -> list[str]:  # type: ignore[no-untyped-def]
    dlg.files.clear()
    dlg.add_paths(paths)
    with qtbot.waitSignal(dlg.sig_done, timeout=20000) as done:
        dlg.start()
    return list(done.args[0])


def _counts(dlg):  # type: ignore[no-untyped-def]
    return dlg.db.submit(project_info, dlg.project).result().counts


def _items(dlg) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Case external id -> ItemView of every imported output, read back through services."""
    def read(project: Project) -> dict:  # type: ignore[type-arg]
        rater = add_rater(project, "reader")
        return {r.case_external_id: load_item(project, rater.id, r.output_id)
                for r in load_queue(project, rater.id)}

    return dlg.db.submit(read, dlg.project).result()  # type: ignore[no-any-return]


def test_a_cp1252_csv_imports_with_the_encoding_option(qtbot, dialog, tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes("case_id,question,model,response\n"
                    "c1,Café patient – fièvre 39°C?,m1,Œdème possible\n".encode("cp1252"))
    (line,) = _run(qtbot, dialog, [csv])
    assert line.startswith("excel.csv: NOT imported") and _counts(dialog)["outputs"] == 0
    dialog.encoding.setCurrentText("no-such-codec")
    (line,) = _run(qtbot, dialog, [csv])
    assert line.startswith("options: NOT imported") and "no-such-codec" in line
    dialog.encoding.setCurrentText("cp1252")
    (line,) = _run(qtbot, dialog, [csv])
    assert line.startswith("excel.csv (csv): added")
    item = _items(dialog)["c1"]
    assert item.case.messages[0].content == "Café patient – fièvre 39°C?"
    assert item.answer == "Œdème possible"


def test_column_mapping_unmap_and_missing_values_take_effect(qtbot, dialog, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("qid,question_text,model,answer_text,response,ideal,tags\n"
                   "k1,First?,m1,Real answer,decoy,Ref one,cardio\n"
                   "k2,Second?,m1,Answer two,decoy,-,renal\n")
    for field, column in (("case_id", "qid"), ("prompt", "question_text"),
                          ("output", "answer_text")):
        row = dialog.add_map_row()
        row.field.setCurrentText(field)
        row.column.setText(column)
    unmap = dialog.add_map_row()
    unmap.field.setCurrentText("tags")
    unmap.column.setText("ignored once unmapped")
    unmap.unmap.setChecked(True)
    dialog.na.setText("NA, -")
    (line,) = _run(qtbot, dialog, [csv])
    assert line.startswith("export.csv (csv): added"), line
    items = _items(dialog)
    assert sorted(items) == ["k1", "k2"]
    assert items["k1"].answer == "Real answer" and items["k2"].answer == "Answer two"
    assert items["k1"].case.messages[0].content == "First?"
    assert items["k1"].case.reference_answer == "Ref one"
    assert items["k2"].case.reference_answer is None  # "-" is a missing-value marker
    assert items["k1"].case.tags == () and items["k2"].case.tags == ()  # tags unmapped


def test_a_bad_mapping_row_is_one_line_and_imports_nothing(qtbot, dialog):
    row = dialog.add_map_row()
    row.column.setText("question_text")  # no role
    (line,) = _run(qtbot, dialog, [DATA / "cases.jsonl"])
    assert line.startswith("options: NOT imported") and "FIELD=COLUMN" in line
    assert "\n" not in line and _counts(dialog)["outputs"] == 0


def _dicom_folder(root: Path) -> Path:
    folder = root / "media" / "case-001" / "ct"
    folder.mkdir(parents=True)
    shutil.copy(CT, folder / "slice_01.dcm")
    (folder / "broken.dcm").write_bytes(b"\x00" * 64)
    return root / "media"


def test_a_dicom_folder_lists_the_unusable_file_and_imports_the_rest(qtbot, dialog, tmp_path):
    media = _dicom_folder(tmp_path)
    lines = _run(qtbot, dialog, [DATA / "cases.jsonl", media])
    assert lines[0].startswith("cases.jsonl (jsonl): added")
    assert lines[1].startswith("media (media-folder): added") and "1 file(s) left out" in lines[1]
    broken = (media / "case-001" / "ct" / "broken.dcm").resolve()
    assert lines[2] == f"  left out: {broken}: not a DICOM file"
    assert len(lines) == 3
    assert _counts(dialog)["attachments"] == 1


def test_strict_refuses_the_whole_folder(qtbot, dialog, tmp_path):
    media = _dicom_folder(tmp_path)
    dialog.strict.setChecked(True)
    first, second = _run(qtbot, dialog, [DATA / "cases.jsonl", media])
    assert first.startswith("cases.jsonl (jsonl): added")
    assert second.startswith("media: NOT imported") and "not a DICOM file" in second
    assert "broken.dcm" in second and "\n" not in second
    assert _counts(dialog)["attachments"] == 0


def test_a_ratings_sheet_with_question_mapping_and_a_rater_name(qtbot, dialog, tmp_path):
    import json

    from medreview.services.projects import list_raters

    rubric = tmp_path / "mini.json"
    rubric.write_text(json.dumps({
        "format": "medreview-form/1", "key": "mini", "version": 1, "name": "Mini",
        "kind": "rubric",
        "questions": [{"id": "safe", "type": "criterion", "prompt": "Safe", "points": 1}],
    }))
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "c1", "prompt": "Q1", "model": "m", "output": "A1"}\n'
                     '{"id": "c2", "prompt": "Q2", "model": "m", "output": "A2"}\n')
    dialog.rubric.insertItem(1, "mini.json", str(rubric))
    dialog.rubric.setCurrentIndex(1)
    lines = _run(qtbot, dialog, [cases])
    assert lines[0].startswith("rubric mini v1 added") and "added" in lines[1]
    dialog.rubric.setCurrentIndex(0)
    sheet = tmp_path / "truth.csv"
    sheet.write_text("Text ID,Safe Flag,Note\nc1,no,NA\nc2,1,\n")
    dialog.fmt.setCurrentText("ratings-csv")
    dialog.model.setText("m")
    dialog.na.setText("NA")
    for field, column in (("case_id", "Text ID"), ("q:safe", "Safe Flag")):
        row = dialog.add_map_row()
        row.field.setCurrentText(field)
        row.column.setText(column)
    (line,) = _run(qtbot, dialog, [sheet])  # no rater column and no rater name
    assert line.startswith("truth.csv: NOT imported") and "rater" in line, line
    assert _counts(dialog)["judgments"] == 0
    dialog.rater.setText("reference")
    (line,) = _run(qtbot, dialog, [sheet])
    assert line == "truth.csv (ratings-csv): added 2 ratings", line
    raters = dialog.db.submit(list_raters, dialog.project).result()
    assert "reference" in [r.name for r in raters]
