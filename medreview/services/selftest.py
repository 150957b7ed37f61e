"""The Qt-free half of ``medreview --self-test``: prove an installed copy can do real work.

Each check runs on real files in a scratch folder whose name holds a space and non-ASCII
letters (hospital profiles are often ``C:\\Users\\Dr. Émilie …``): create a project (runs the
migrations), build the demo into another, decode a DICOM file of every bundled codec, save a
grade through the grading service, compute one agreement statistic and export the tables as
Parquet. A check never raises: its failure is recorded (name, ok, seconds, error) and the
others still run, so one report says everything a frozen bundle is missing.
"""

from __future__ import annotations

import math
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from medreview import __version__

T = TypeVar("T")

# (check name, transfer syntax UID, lossless?) of each codec the bundle must decode.
CODECS: tuple[tuple[str, str, bool], ...] = (
    ("jpeg_baseline", "1.2.840.10008.1.2.4.50", False),
    ("jpeg_ls", "1.2.840.10008.1.2.4.80", True),
    ("jpeg_2000", "1.2.840.10008.1.2.4.90", True),
    ("rle", "1.2.840.10008.1.2.5", True),
)
SCRATCH_PREFIX = "medreview self-test Études "


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class SelfTestReport:
    checks: list[Check] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def run(self, name: str, fn: Callable[[Check], T]) -> T | None:
        """Run one check; ``fn`` may fill ``check.detail``. Its result, or None if it failed."""
        check = Check(name, ok=False, seconds=0.0)
        t0 = time.perf_counter()
        try:
            result = fn(check)
            check.ok = True
        except BaseException as exc:  # a self-test reports, never crashes
            if isinstance(exc, KeyboardInterrupt):
                raise
            check.error = f"{type(exc).__name__}: {exc}"
            check.detail["traceback"] = traceback.format_exc(limit=8)
            result = None
        check.seconds = round(time.perf_counter() - t0, 3)
        self.checks.append(check)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "version": __version__,
            "seconds": round(time.perf_counter() - self.started, 3),
            **self.info,
            "checks": [asdict(c) for c in self.checks],
        }


def environment_info() -> dict[str, Any]:
    """What the report's reader needs to tell one machine or bundle from another."""
    from medreview.paths import is_frozen, log_dir, user_config_dir, user_data_dir

    return {
        "frozen": is_frozen(),
        "python": sys.version.split()[0],
        "platform": f"{platform.system()}-{platform.machine()}",
        "executable": sys.executable,
        "config_dir": str(user_config_dir()),
        "data_dir": str(user_data_dir()),
        "log_dir": str(log_dir()),
    }


# -- checks ------------------------------------------------------------------------------------
def check_new_project(folder: Path) -> Callable[[Check], Path]:
    """Create an empty project: the migrations must be present as files and run to the head."""

    def run(check: Check) -> Path:
        from medreview.services.projects import is_project, open_or_create, project_info
        from medreview.storage import schema

        path = folder / "projet 1"
        project = open_or_create(path, "self-test")
        try:
            current = project_info(project).schema_revision
            head = schema.head_revision()
            check.detail.update(alembic_current=current, alembic_head=head)
            if current != head:
                raise RuntimeError(f"schema at {current}, expected {head}")
        finally:
            project.close()
        if not is_project(path):
            raise RuntimeError(f"{path} was not recognised as a project after creation")
        return path

    return run


def check_demo(folder: Path, build_demo: Callable[[Path], object]) -> Callable[[Check], Path]:
    """Build the bundled demo (cases, answers, DICOM series, ratings) and read it back."""

    def run(check: Check) -> Path:
        from medreview.services.projects import open_project, project_info

        path = folder / "démo"
        build_demo(path)
        project = open_project(path)
        try:
            info = project_info(project)
        finally:
            project.close()
        counts = dict(info.counts)
        check.detail.update(counts)
        if not counts.get("cases") or not counts.get("outputs"):
            raise RuntimeError(f"the demo project is empty: {counts}")
        return path

    return run


def codec_image() -> np.ndarray:
    """A smooth 8-bit test picture (64 x 64): lossy JPEG stays within a few grey levels."""
    y, x = np.mgrid[0:64, 0:64]
    picture: np.ndarray = ((x * 2 + y) % 256).astype(np.uint8)
    return picture


def _dataset(pixels: np.ndarray) -> Any:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientName = "Self^Test"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    return ds


def _encode(ds: Any, syntax: str, pixels: np.ndarray) -> None:
    """Compress in place. pydicom has no JPEG baseline encoder: Pillow writes that frame."""
    from pydicom.uid import UID

    if syntax == "1.2.840.10008.1.2.4.50":
        import io

        from PIL import Image
        from pydicom.encaps import encapsulate

        buf = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(buf, format="JPEG", quality=95)
        ds.PixelData = encapsulate([buf.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = UID(syntax)
        ds.LossyImageCompression = "01"
        return
    ds.compress(UID(syntax), pixels)


def write_codec_file(folder: Path, syntax: str) -> tuple[Path, np.ndarray]:
    """A compressed DICOM file of the test picture; its path and the original pixels."""
    pixels = codec_image()
    ds = _dataset(pixels)
    _encode(ds, syntax, pixels)
    path = folder / f"{syntax}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path, pixels


def check_codec(folder: Path, syntax: str, lossless: bool) -> Callable[[Check], None]:
    """Write a compressed file, read it back the way the viewer does and compare pixels."""

    def run(check: Check) -> None:
        from medreview.imaging.codecs import decode_stored, plugin_for, read_dataset

        path, pixels = write_codec_file(folder / "dicom", syntax)
        back = read_dataset(path)
        decoded = np.asarray(decode_stored(back, 0, source=str(path)))
        check.detail.update(transfer_syntax=syntax, plugin=plugin_for(syntax) or "native",
                            bytes=path.stat().st_size)
        if decoded.shape != pixels.shape:
            raise RuntimeError(f"decoded shape {decoded.shape}, expected {pixels.shape}")
        worst = int(np.abs(decoded.astype(np.int32) - pixels.astype(np.int32)).max())
        check.detail["max_abs_difference"] = worst
        if worst > (0 if lossless else 8):
            raise RuntimeError(f"decoded pixels differ by up to {worst} grey levels")

    return run


def check_grade(project_path: Path) -> Callable[[Check], None]:
    """Save a grade (two revisions) through the grading service and read it back."""

    def run(check: Check) -> None:
        from medreview.domain.judgment import JudgmentDraft
        from medreview.domain.rubric import QuestionKind
        from medreview.services import grading
        from medreview.services.projects import add_rater, open_project

        project = open_project(project_path)
        try:
            rater = add_rater(project, "Self-test rater")
            queue = grading.load_queue(project, rater.id)
            if not queue:
                raise RuntimeError("the new rater's queue is empty")
            output_id = queue[0].output_id
            item = grading.load_item(project, rater.id, output_id)
            criterion = next(
                q.id for q in item.questions() if q.kind is QuestionKind.CRITERION)
            draft = JudgmentDraft(answers={criterion: True}, rationale="self-test")
            saved = grading.save_revision(project, rater.id, output_id, draft, status="done")
            back = grading.load_item(project, rater.id, output_id).draft
            check.detail.update(output_id=output_id, revision_no=saved.revision_no)
            if saved.revision_no != 1 or back is None or back.answers.get(criterion) is not True:
                raise RuntimeError("the saved grade did not read back")
        finally:
            project.close()

    return run


def check_statistic(project_path: Path) -> Callable[[Check], float]:
    """Krippendorff's alpha of the demo physicians on one rubric criterion."""

    def run(check: Check) -> float:
        from medreview.services.dashboard import load_inputs
        from medreview.services.projects import open_project
        from medreview.stats.alpha import krippendorff_alpha

        project = open_project(project_path)
        try:
            ratings = load_inputs(project).ratings
        finally:
            project.close()
        rows = ratings[(ratings["rater_kind"] == "physician")
                       & ratings["question_id"].astype(str).str.startswith("criterion:")]
        question = str(rows["question_id"].iloc[0])
        table = rows[rows["question_id"] == question].pivot_table(
            index="output_id", columns="rater", values="value", aggfunc="first")
        result = krippendorff_alpha(table.astype(object).to_numpy(), "nominal", ci=False)
        value = float(result.value)
        check.detail.update(statistic="krippendorff_alpha_nominal", question_id=question,
                            value=value, n_items=result.n_items, n_raters=result.n_raters)
        if not math.isfinite(value) or result.n_raters < 2:
            raise RuntimeError(f"alpha is {value} over {result.n_raters} raters")
        return value

    return run


def check_parquet_export(project_path: Path, folder: Path) -> Callable[[Check], None]:
    """Export the demo's tables as Parquet the way the export dialog does, and read every file
    back with fastparquet: proves the bundled Parquet writer and its codecs load and work."""

    def run(check: Check) -> None:
        import fastparquet

        from medreview.services.exporting import ExportRequest, run_export
        from medreview.services.projects import open_project

        outdir = folder / "export parquet"
        project = open_project(project_path)
        try:
            run_export(project, ExportRequest(outdir=outdir, kinds=("tables",), fmt="parquet"))
        finally:
            project.close()
        files = sorted(outdir.rglob("*.parquet"))
        rows = {p.name: fastparquet.ParquetFile(str(p)).count() for p in files}
        check.detail.update(rows=rows)
        if not rows or not any(n > 0 for name, n in rows.items() if "judgment" in name):
            raise RuntimeError(f"the Parquet export holds no judgments: {rows}")

    return run


def check_merge_worker() -> Callable[[Check], None]:
    """A big merge's worker process starts and stops (``study.merge_pipeline``: spawned, in
    the frozen app this executable started again through ``freeze_support``)."""

    def run(check: Check) -> None:
        from medreview.study.merge_pipeline import worker_round_trip

        worker_round_trip()

    return run


def run_core_checks(report: SelfTestReport, folder: Path,
                    build_demo: Callable[[Path], object]) -> Path | None:
    """Every Qt-free check, in order; the demo project's folder (None if it failed)."""
    report.run("new_project", check_new_project(folder))
    demo = report.run("demo_import", check_demo(folder, build_demo))
    for name, syntax, lossless in CODECS:
        report.run(f"dicom_{name}", check_codec(folder, syntax, lossless))
    if demo is not None:
        report.run("save_grade", check_grade(demo))
        report.run("statistic", check_statistic(demo))
        report.run("parquet_export", check_parquet_export(demo, folder))
    else:
        for name in ("save_grade", "statistic", "parquet_export"):
            report.checks.append(Check(name, False, 0.0, "skipped: the demo did not build"))
    report.run("merge_worker_process", check_merge_worker())
    return demo
