"""Deterministic demo DICOM material built offline from the files pydicom ships.

- ``ct/``: 40 axial CT slices (128 x 128) derived from ``CT_small.dcm``: the body outline
  narrows towards both ends, a small round lesion appears on slices 17-24, a circular
  reconstruction field of view is marked with PixelPaddingValue, soft-tissue window 40/400.
- ``ct_head/``: 24 axial non-contrast CT head slices (192 x 192, 5 mm), a procedural phantom:
  skull, grey/white matter, ventricles, and an acute right fronto-parietal subdural haematoma
  (9 mm, 70 HU) with 4 mm leftward midline shift, as the demo's CT head report describes;
  brain window 40/80 first, subdural window 75/215 second.
- ``mr/``: 20 MR slices (64 x 64) derived from ``MR_small.dcm`` (its own window 600/1600).
- ``cr/``: one 512 x 512 MONOCHROME1 chest radiograph (CR) whose header and low-frequency
  texture come from the bundled ``dicomdirtests`` CR file.

Names are synthetic, dates fixed, UIDs derived from fixed entropy, noise seeded: two runs
write byte-identical files. Used by the demo project builder and the viewer tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PATIENT_NAME = "DEMO^SYNTHETIC PATIENT"
PATIENT_ID = "DEMO-0001"
STUDY_DATE = "20240102"
CT_SLICES = 40
HEAD_SLICES = 24
MR_SLICES = 20
_ENTROPY = "medreview-demo-v1"


def write_demo_dicom(out_dir: Path | str) -> list[Path]:
    """Write the demo CT, MR and CR series under ``out_dir``; return the files written."""
    out = Path(out_dir)
    paths = (_write_ct(out / "ct") + _write_ct_head(out / "ct_head") + _write_mr(out / "mr")
             + _write_cr(out / "cr"))
    return paths


# -- helpers --------------------------------------------------------------------------------
def _uid(*parts: object) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[_ENTROPY, *(str(p) for p in parts)]))


def _bundled(name: str) -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files" / name


def _new_dataset(sop_class: str, sop_uid: str, study: str, modality: str) -> Dataset:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = UID(_uid("implementation"))
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.Modality = modality
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = _uid("study", study)
    ds.StudyID = study.upper()
    ds.StudyDate = STUDY_DATE
    ds.StudyTime = "090000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"Demo {study.upper()} study (synthetic)"
    ds.InstitutionName = "medreview demo"
    ds.BurnedInAnnotation = "NO"
    return ds


def _grey_pixels(ds: Dataset, arr: np.ndarray, *, signed: bool, bits_stored: int) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = ds.get("PhotometricInterpretation", "MONOCHROME2")
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = arr.astype(np.int16 if signed else np.uint16).tobytes()


def _zoom(img: np.ndarray, scale_y: float, scale_x: float, fill: float) -> np.ndarray:
    """Bilinear zoom about the image centre (scale > 1 enlarges); outside → ``fill``."""
    rows, cols = img.shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    cy, cx = (rows - 1) / 2.0, (cols - 1) / 2.0
    sy, sx = cy + (yy - cy) / scale_y, cx + (xx - cx) / scale_x
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    fy, fx = sy - y0, sx - x0
    inside = (y0 >= 0) & (x0 >= 0) & (y0 < rows - 1) & (x0 < cols - 1)
    y0c, x0c = np.clip(y0, 0, rows - 2), np.clip(x0, 0, cols - 2)
    src = img.astype(np.float64)
    val = (
        src[y0c, x0c] * (1 - fy) * (1 - fx)
        + src[y0c + 1, x0c] * fy * (1 - fx)
        + src[y0c, x0c + 1] * (1 - fy) * fx
        + src[y0c + 1, x0c + 1] * fy * fx
    )
    return np.where(inside, val, fill)


def _write(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# -- CT -------------------------------------------------------------------------------------
def _write_ct(folder: Path) -> list[Path]:
    from pydicom import dcmread
    from pydicom.uid import CTImageStorage

    src = dcmread(_bundled("CT_small.dcm"))
    hu = src.pixel_array.astype(np.float64) * float(src.RescaleSlope) + float(src.RescaleIntercept)
    rng = np.random.default_rng(20240102)
    rows, cols = hu.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    cy, cx = (rows - 1) / 2.0, (cols - 1) / 2.0
    fov = (yy - cy) ** 2 + (xx - cx) ** 2 > (rows / 2.0 - 1) ** 2
    lesion_y, lesion_x = rows * 0.42, cols * 0.62
    series_uid, frame_uid = _uid("ct", "series"), _uid("ct", "frame")
    spacing, z0 = 2.5, -50.0
    paths = []
    for k in range(CT_SLICES):
        z = (k - (CT_SLICES - 1) / 2.0) / (CT_SLICES / 2.0)  # -1 .. 1 along the body
        s = float(np.sqrt(max(1.0 - 0.55 * z * z, 0.2)))
        slice_hu = _zoom(hu, 0.9 + 0.1 * s, s, fill=-1000.0)
        if 16 <= k <= 23:  # a round soft-tissue lesion, biggest in the middle slices
            radius = 7.0 * (1.0 - abs(k - 19.5) / 5.0)
            blob = (yy - lesion_y) ** 2 + (xx - lesion_x) ** 2 < radius**2
            slice_hu[blob] = 60.0
        slice_hu += rng.normal(0.0, 6.0, hu.shape)
        stored = np.clip(np.round(slice_hu + 1024.0), -1024, 3071)
        stored[fov] = -2000  # outside the reconstruction circle: padding, not air
        sop = _uid("ct", k)
        ds = _new_dataset(CTImageStorage, sop, "ct", "CT")
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = "Demo CT abdomen axial 2.5 mm"
        ds.FrameOfReferenceUID = frame_uid
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-42.0, -42.0, round(z0 + k * spacing, 2)]
        ds.SliceLocation = round(z0 + k * spacing, 2)
        ds.SliceThickness = spacing
        ds.PixelSpacing = [0.66, 0.66]
        ds.KVP = 120
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.WindowCenterWidthExplanation = "SOFT TISSUE"
        _grey_pixels(ds, stored, signed=True, bits_stored=16)
        ds.PixelPaddingValue = -2000
        paths.append(_write(ds, folder / f"IM{k + 1:04d}.dcm"))
    return paths


# -- CT head --------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], passes: int) -> np.ndarray:
    """Zero-mean, unit-variance texture: white noise blurred by repeated 3x3 box filters."""
    a = rng.normal(0.0, 1.0, shape)
    for _ in range(passes):
        p = np.pad(a, 1, mode="edge")
        acc = np.zeros(shape)
        for dy in range(3):
            for dx in range(3):
                acc += p[dy:dy + shape[0], dx:dx + shape[1]]
        a = acc / 9.0
    out: np.ndarray = (a - a.mean()) / max(float(a.std()), 1e-9)
    return out


def _head_slice(k: int, rng: np.random.Generator, texture: np.ndarray) -> np.ndarray:
    """HU of slice ``k`` (0 = skull base, HEAD_SLICES - 1 = vertex)."""
    n = 192
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    cy, cx = n / 2.0 - 4.0, n / 2.0
    z = (k - 6.0) / (HEAD_SLICES - 6.0)  # 0 at the widest slice, 1 at the vertex
    shrink = float(np.sqrt(max(1.0 - 0.85 * z * z, 0.12))) if z > 0 else 1.0 - 0.25 * z * z
    a, b = 68.0 * shrink, 84.0 * shrink  # outer skull semi-axes in pixels (1.2 mm each)
    r = np.sqrt(((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2)
    hu = np.full((n, n), -1000.0)
    hu[r < 1.06] = 30.0  # scalp
    skull_in = 1.0 - 7.0 / a
    hu[r < 1.0] = 1100.0 + 250.0 * texture[r < 1.0]  # bone, textured like diploe
    brain = r < skull_in
    shift = 3.3  # 4 mm leftward midline shift: towards image right (patient left)
    # grey matter near the cortex, white matter deeper
    depth = (skull_in - r) / skull_in
    hu[brain] = np.where(depth[brain] < 0.16, 38.0, 28.0) + 2.5 * texture[brain]
    if 8 <= k <= 17:  # lateral ventricles, compressed on the haematoma side
        for side, scale in ((-1.0, 0.75), (1.0, 1.0)):
            vx = cx + shift + side * 11.0
            vent = ((xx - vx) / (6.5 * scale)) ** 2 + ((yy - cy + 6.0) / 22.0) ** 2 < 1.0
            rim = ((xx - vx) / (10.0 * scale)) ** 2 + ((yy - cy + 6.0) / 27.0) ** 2 < 1.0
            hu[rim & brain & ~vent] = 20.0 + 2.0 * texture[rim & brain & ~vent]
            hu[vent] = 6.0
    falx = (np.abs(xx - (cx + shift * (1.0 - np.abs(yy - cy) / b))) < 0.8) & brain
    hu[falx] = 55.0
    if 9 <= k <= 20:  # acute subdural haematoma over the right convexity (image left)
        peak = 7.5 * (1.0 - abs(k - 14.5) / 7.0)  # 9 mm = 7.5 px at the thickest slice
        theta = np.arctan2(yy - cy + 10.0, -(xx - cx))  # 0 = patient right, lateral
        along = np.clip(np.cos(theta), 0.0, 1.0) ** 1.5 * (np.abs(theta) < 1.35)
        thickness = peak * along / a
        sdh = brain & (r > skull_in - thickness)
        hu[sdh] = 72.0 + 3.0 * texture[sdh]
    return hu + rng.normal(0.0, 3.0, (n, n))


def _write_ct_head(folder: Path) -> list[Path]:
    from pydicom.uid import CTImageStorage

    rng = np.random.default_rng(84)
    texture = _smooth_noise(rng, (192, 192), passes=3)
    series_uid, frame_uid = _uid("ct_head", "series"), _uid("ct_head", "frame")
    spacing = 5.0
    paths = []
    for k in range(HEAD_SLICES):
        stored = np.clip(np.round(_head_slice(k, rng, texture) + 1024.0), 0, 4095)
        sop = _uid("ct_head", k)
        ds = _new_dataset(CTImageStorage, sop, "ct_head", "CT")
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 4
        ds.SeriesDescription = "Demo CT head non-contrast axial 5 mm"
        ds.BodyPartExamined = "HEAD"
        ds.FrameOfReferenceUID = frame_uid
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-115.2, -115.2, round(k * spacing, 2)]
        ds.SliceLocation = round(k * spacing, 2)
        ds.SliceThickness = spacing
        ds.PixelSpacing = [1.2, 1.2]
        ds.KVP = 120
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = [40, 75]
        ds.WindowWidth = [80, 215]
        ds.WindowCenterWidthExplanation = ["BRAIN", "SUBDURAL"]
        _grey_pixels(ds, stored, signed=False, bits_stored=12)
        paths.append(_write(ds, folder / f"IM{k + 1:04d}.dcm"))
    return paths


# -- MR -------------------------------------------------------------------------------------
def _write_mr(folder: Path) -> list[Path]:
    from pydicom import dcmread
    from pydicom.uid import MRImageStorage

    src = dcmread(_bundled("MR_small.dcm"))
    base = src.pixel_array.astype(np.float64)
    rng = np.random.default_rng(7)
    series_uid, frame_uid = _uid("mr", "series"), _uid("mr", "frame")
    paths = []
    for k in range(MR_SLICES):
        z = (k - (MR_SLICES - 1) / 2.0) / (MR_SLICES / 2.0)
        s = float(np.sqrt(max(1.0 - 0.5 * z * z, 0.25)))
        img = _zoom(base, s, s, fill=0.0) * (0.9 + 0.1 * np.cos(np.pi * z))
        img += rng.normal(0.0, 10.0, base.shape)
        stored = np.clip(np.round(img), 0, 4095)
        sop = _uid("mr", k)
        ds = _new_dataset(MRImageStorage, sop, "mr", "MR")
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 3
        ds.SeriesDescription = "Demo MR T1 axial"
        ds.FrameOfReferenceUID = frame_uid
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-10.0, -10.0, round(-20.0 + k * 2.0, 2)]
        ds.SliceThickness = 2.0
        ds.PixelSpacing = [0.3125, 0.3125]
        ds.MagneticFieldStrength = 1.5
        ds.WindowCenter = src.WindowCenter
        ds.WindowWidth = src.WindowWidth
        _grey_pixels(ds, stored, signed=True, bits_stored=16)
        paths.append(_write(ds, folder / f"IM{k + 1:04d}.dcm"))
    return paths


# -- CR -------------------------------------------------------------------------------------
def _write_cr(folder: Path) -> list[Path]:
    from pydicom import dcmread
    from pydicom.uid import ComputedRadiographyImageStorage

    src = dcmread(_bundled("dicomdirtests/77654033/CR1/6154"))
    size = 512
    rng = np.random.default_rng(11)
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float64) - size / 2.0) / (size / 2.0)
    # attenuation (1 = bone/dense): soft-tissue trunk, dark lungs, mediastinum, ribs, spine
    att = np.clip(1.0 - (xx / 0.9) ** 2, 0.0, 1.0) ** 0.5 * 0.55
    for side in (-1.0, 1.0):
        lung = ((xx - side * 0.38) / 0.28) ** 2 + ((yy + 0.05) / 0.6) ** 2 < 1.0
        att[lung] -= 0.3
    att[np.abs(xx) < 0.1] += 0.25
    ribs = (np.sin((yy + 0.02 * np.abs(xx * 10) ** 1.5) * 18.0) > 0.85) & (np.abs(xx) < 0.7)
    att[ribs] += 0.12
    # low-frequency detector texture from the bundled 16x16 CR
    tex = src.pixel_array.astype(np.float64)
    tex = (tex - tex.mean()) / max(float(tex.std()), 1.0)
    texture = np.kron(tex, np.ones((size // tex.shape[0], size // tex.shape[1])))
    att = att + 0.02 * texture + rng.normal(0.0, 0.01, att.shape)
    att = np.clip(att, 0.0, 1.0)
    stored = np.round((1.0 - att) * 3500.0 + 200.0)  # MONOCHROME1: dense = low value = white
    sop = _uid("cr", 0)
    ds = _new_dataset(ComputedRadiographyImageStorage, sop, "cr", "CR")
    ds.SeriesInstanceUID = _uid("cr", "series")
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Demo chest PA"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.InstanceNumber = 1
    ds.ImagerPixelSpacing = [0.7, 0.7]
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.PresentationLUTShape = "INVERSE"
    ds.WindowCenter = float(src.WindowCenter)
    ds.WindowWidth = float(src.WindowWidth) + 800.0
    _grey_pixels(ds, stored, signed=False, bits_stored=12)
    return [_write(ds, folder / "CR0001.dcm")]
