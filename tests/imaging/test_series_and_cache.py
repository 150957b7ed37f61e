"""scan_dicom_folder grouping/ordering/skips, the demo material, and the frame cache."""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from medreview.imaging.cache import FrameCache, missing, prefetch_plan
from medreview.imaging.demo_series import CT_SLICES, HEAD_SLICES, MR_SLICES, write_demo_dicom
from medreview.imaging.dicom_series import scan_dicom_folder, slice_position
from medreview.imaging.display import display_frame, frame_info, modality_frame
from medreview.progress import Cancelled, CancelToken
from tests.imaging.conftest import bundled


def _oblique_series(folder: Path, n: int = 12) -> list[float]:
    """n slices of a tilted series written under shuffled names, InstanceNumbers reversed."""
    folder.mkdir(parents=True)
    row = np.array([1.0, 0.0, 0.0])
    col = np.array([0.0, np.cos(0.3), np.sin(0.3)])
    normal = np.cross(row, col)
    names = [f"{random.Random(k).getrandbits(40):x}.dcm" for k in range(n)]
    positions = []
    for k in range(n):
        ds = dcmread(bundled("CT_small.dcm"))
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.999.{k + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.100"
        ds.InstanceNumber = n - k  # deliberately disagrees with geometry
        ds.ImageOrientationPatient = [*row, *col]
        ds.ImagePositionPatient = list(np.array([5.0, -3.0, 10.0]) + normal * (3.0 * k))
        ds.save_as(folder / names[(k * 7) % n])
        positions.append(float(np.dot(normal, ds.ImagePositionPatient)))
    return positions


def test_scan_orders_by_position_along_the_normal(tmp_path: Path) -> None:
    positions = _oblique_series(tmp_path / "obl")
    shutil.copy(bundled("MR_small.dcm"), tmp_path / "mr.dcm")
    (tmp_path / "readme.txt").write_text("not dicom")
    shutil.copy(bundled("rtplan.dcm"), tmp_path / "plan.dcm")
    shutil.copy(tmp_path / "mr.dcm", tmp_path / "mr_copy.dcm")
    calls: list[tuple[int, int | None]] = []
    result = scan_dicom_folder(tmp_path, progress=lambda d, t=None, m="": calls.append((d, t)))
    by_uid = {s.series_uid: s for s in result.series}
    obl = by_uid["1.2.826.0.1.3680043.10.999.100"]
    assert [i.position for i in obl.instances] == pytest.approx(sorted(positions))
    assert [i.instance_number for i in obl.instances] == list(range(12, 0, -1))
    assert obl.modality == "CT" and len(result.series) == 2
    reasons = {p.name: r for p, r in result.skipped}
    assert reasons["readme.txt"].startswith("not a DICOM file")
    assert "no image" in reasons["plan.dcm"] and "RT Plan" in reasons["plan.dcm"]
    assert "duplicate" in reasons["mr_copy.dcm"] or "duplicate" in reasons["mr.dcm"]
    assert calls[-1] == (16, 16)


def test_scan_falls_back_to_instance_number_and_can_be_cancelled(tmp_path: Path) -> None:
    for k, number in enumerate([3, 1, 2]):
        ds = dcmread(bundled("MR_small.dcm"))
        ds.SOPInstanceUID = f"1.2.3.{k}"
        ds.InstanceNumber = number
        del ds.ImagePositionPatient
        ds.save_as(tmp_path / f"f{k}.dcm")
    (series,) = scan_dicom_folder(tmp_path).series
    assert [i.instance_number for i in series.instances] == [1, 2, 3]
    assert series.instances[0].position is None
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scan_dicom_folder(tmp_path, token=token)


def test_slice_position_needs_geometry() -> None:
    assert slice_position([1, 0, 0, 0, 1, 0], [1, 2, 3]) == 3.0
    assert slice_position(None, [1, 2, 3]) is None
    assert slice_position([1, 0, 0, 1, 0, 0], [1, 2, 3]) is None  # degenerate cosines


def test_demo_material_is_realistic_and_deterministic(demo_dir: Path, tmp_path: Path) -> None:
    result = scan_dicom_folder(demo_dir)
    assert not result.skipped
    mods = {s.modality: s for s in result.series if "head" not in (s.description or "").lower()}
    assert set(mods) == {"CT", "MR", "CR"}
    ct = mods["CT"]
    (head,) = [s for s in result.series if "head" in (s.description or "").lower()]
    assert len(head.instances) == HEAD_SLICES and head.modality == "CT"
    head_info = frame_info(head.instances[0].path)
    assert head_info.default_window == (40.0, 80.0) and head_info.units == "HU"
    # The right-sided subdural haematoma of the demo report: a hyperdense rim on the image
    # left (patient right) of the middle slices that the image right does not have.
    mid = modality_frame(head.instances[14].path)
    cols = mid.shape[1]
    band = (mid > 60) & (mid < 90)
    assert band[:, : cols // 2].sum() > 5 * max(int(band[:, cols // 2 :].sum()), 1)
    assert len(ct.instances) == CT_SLICES and len(mods["MR"].instances) == MR_SLICES
    z = [i.position for i in ct.instances]
    assert z == sorted(z) and len(set(z)) == CT_SLICES
    assert len({i.sop_uid for i in ct.instances}) == CT_SLICES
    info = frame_info(ct.instances[0].path)
    assert info.default_window == (40.0, 400.0) and info.units == "HU"
    assert "DEMO" in info.patient_name
    slices = [display_frame(i.path) for i in ct.instances]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(slices))
    cr = frame_info(mods["CR"].instances[0].path)
    assert cr.photometric == "MONOCHROME1" and cr.spacing_source == "ImagerPixelSpacing"
    again = write_demo_dicom(tmp_path / "again")
    assert [p.read_bytes() for p in again] == [
        (demo_dir / p.relative_to(tmp_path / "again")).read_bytes() for p in again
    ]


class _Blob:
    def __init__(self, n: int) -> None:
        self.nbytes = n


def test_frame_cache_is_a_bounded_lru() -> None:
    cache: FrameCache[int, _Blob] = FrameCache(max_bytes=100, max_items=3)
    for k in range(3):
        cache.put(k, _Blob(30))
    assert cache.get(0) is not None  # 0 becomes most recent
    cache.put(3, _Blob(30))  # evicts 1 (least recent), not 0
    assert 1 not in cache and 0 in cache and len(cache) == 3
    cache.put(4, _Blob(90))  # byte bound: only the newest survives
    assert len(cache) == 1 and 4 in cache and cache.nbytes == 90
    cache.put(5, _Blob(500))  # larger than the bound: still kept alone
    assert len(cache) == 1 and cache.get(5) is not None


def test_prefetch_plan_prefers_the_scroll_direction() -> None:
    assert prefetch_plan(10, 40, radius=4) == [10, 11, 12, 9, 13, 14, 8]
    assert prefetch_plan(10, 40, radius=4, direction=-1) == [10, 9, 8, 11, 7, 6, 12]
    assert prefetch_plan(0, 3, radius=8, direction=-1) == [0, 1, 2]
    assert prefetch_plan(5, 3) == [] and prefetch_plan(0, 0) == []
    assert missing([1, 2, 3], {2}) == [1, 3]
