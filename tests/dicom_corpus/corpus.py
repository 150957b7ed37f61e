"""A folder of real scanner DICOM, one sub-folder per case, built at test time.

Sources are PyPI packages of the ``test`` extra, read from their installed folders (nothing is
downloaded): pydicom's bundled test files, ``pydicom-data`` (registered as a pydicom external
source, so ``get_testdata_file`` finds its files offline), ``nibabel``'s ``nicom/tests/data``
(Siemens MR with CSA headers) and ``pynetdicom``'s ``tests/dicom_files``. Every odd case of
issue #12 has its own case folder; ``EXPECTED_LEFT_OUT`` names the files an import must list
as left out, with a word of the reason.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

# case id -> [(package, file name)]. Files sharing a SOP Instance UID (pydicom's test images
# exist in several encodings) go to different cases: within one case they are duplicates.
CASES: dict[str, list[tuple[str, str]]] = {
    "big-endian": [("pydicom", "MR_small_bigendian.dcm")],
    "big-endian-mr": [("pynetdicom", "MRImageStorage_ExplicitVRBigEndian.dcm")],
    "palette": [("pydicom", "OBXXXX1A.dcm")],
    "palette-be": [("pydicom", "OBXXXX1A_expb.dcm")],
    "palette-2frame": [("pydicom", "OBXXXX1A_2frame.dcm")],
    "palette-be-2frame": [("pydicom", "OBXXXX1A_expb_2frame.dcm")],
    "palette-16bit-be": [("pydicom", "gdcm-US-ALOKA-16_big.dcm")],
    "palette-no-meta": [("pydicom", "OT-PAL-8-face.dcm")],
    "jpeg2000": [("pynetdicom", "MRImageStorage_JPG2000_Lossless.dcm")],
    "jpeg-ls": [("pydicom", "MR_small_jpeg_ls_lossless.dcm")],
    "us-cine": [("pydicom", "color3d_jpeg_baseline.dcm")],  # 120-frame JPEG YBR ultrasound
    "rt-image": [("pynetdicom", "RTImageStorage.dcm")],
    "deflated": [("pynetdicom", "SCImageStorage_Deflated.dcm")],
    "seg": [("pydicom", "liver.dcm")],  # SEG: ReferencedSeriesSequence, SourceImageSequence...
    "enhanced-ct": [("pydicom", "eCT_Supplemental.dcm")],  # per-frame functional groups
    "overlays": [("pydicom", "MR-SIEMENS-DICOM-WithOverlays.dcm")],
    "siemens-csa": [("nibabel", "0.dcm"), ("nibabel", "1.dcm"),
                    ("nibabel", "siemens_dwi_1000.dcm.gz")],  # CSA headers, mosaic
    "no-series-uid": [("nibabel", "decimal_rescale.dcm"),
                      ("pydicom", "JPEGLSNearLossless_08.dcm")],
    "odd-files": [("pydicom", "emri_small_jpeg_2k_lossless_too_short.dcm"),  # truncated J2K
                  ("pydicom", "bad_sequence.dcm"),
                  ("nibabel", "csa_slice_norm.dcm"),  # header only, no pixel data
                  ("pydicom", "rtplan.dcm"),  # no image in this object
                  ("pydicom", "MR_truncated.dcm"),  # pixel data cut short
                  ("pydicom", "CT_small.dcm")],
}
# case -> {file name: a word of the reason an import gives for leaving it out}
EXPECTED_LEFT_OUT: dict[str, dict[str, str]] = {
    "odd-files": {"emri_small_jpeg_2k_lossless_too_short.dcm": "pixel data",
                  "csa_slice_norm.dcm": "no pixel data",
                  "rtplan.dcm": "no image",
                  "MR_truncated.dcm": "less than one frame"},
}


def package_dir(package: str) -> Path:
    if package == "nibabel":
        import nibabel

        return Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
    if package == "pynetdicom":
        import pynetdicom

        return Path(pynetdicom.__file__).parent / "tests" / "dicom_files"
    raise ValueError(package)


def source_file(package: str, name: str) -> Path:
    if package == "pydicom":  # bundled, or pydicom-data's store: both resolve offline
        from pydicom.data import get_testdata_file

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = get_testdata_file(name, download=False)
        assert found, f"{name}: neither pydicom nor pydicom-data ships it (test extra)"
        return Path(str(found))
    path = package_dir(package) / name
    assert path.is_file(), f"{package} no longer ships {name}"
    return path


def build_corpus(root: Path, cases: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """Copy the chosen files into ``root/<case>/``; ``.gz`` files are decompressed."""
    for case, files in (cases or CASES).items():
        folder = root / case
        folder.mkdir(parents=True, exist_ok=True)
        for package, name in files:
            src = source_file(package, name)
            if name.endswith(".gz"):
                with gzip.open(src, "rb") as fin, open(folder / name[:-3], "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                shutil.copyfile(src, folder / name)
    return root
