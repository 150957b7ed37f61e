"""Imaging speed figures (prints, asserts nothing).

- time to display a 512x512 CT slice and a large synthetic radiograph (read+decode+display)
- slices per second scrolling a 300-slice series through decode_frame + FrameCache + render
  (on demand, and after a prefetch pass)
- our 64 K LUT pipeline vs pydicom's apply_modality_lut + apply_voi_lut (+ scale to uint8)

Run: python bench/bench_imaging.py [--slices 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _write(arr: np.ndarray, path: Path, *, modality: str, z: float = 0.0, k: int = 0,
           series: str = "1.2.3.4", photometric: str = "MONOCHROME2") -> None:  # fmt: skip
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["bench", str(path)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = modality, series, "1.2.3"
    ds.InstanceNumber = k + 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, z]
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    signed = arr.dtype == np.int16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16 if signed else 12, 15 if signed else 11
    ds.PixelRepresentation = 1 if signed else 0
    if modality == "CT":
        ds.RescaleIntercept, ds.RescaleSlope, ds.PixelPaddingValue = -1024, 1, -2000
        ds.WindowCenter, ds.WindowWidth = 40, 400
    else:
        ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = arr.tobytes()
    ds.save_as(path, enforce_file_format=True)


def _ct_slice(z: float, rng: np.random.Generator, size: int = 512) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - size / 2
    hu = np.full((size, size), -1000, np.float32)
    hu[(x / 200) ** 2 + (y / 150) ** 2 < 1] = 40
    for cx in (-80, 80):
        hu[((x - cx) / 60) ** 2 + (y / 90) ** 2 < 1 - (z / 400) ** 2] = -850
    hu += rng.normal(0, 12, (size, size)).astype(np.float32)
    sv = np.round(hu + 1024).astype(np.int16)
    sv[(x**2 + y**2) > (size / 2 - 2) ** 2] = -2000
    return sv


def main() -> None:
    from pydicom import dcmread
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    from medreview.imaging.cache import FrameCache, prefetch_plan
    from medreview.imaging.display import decode_frame, display_frame

    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ct = root / "ct.dcm"
        _write(_ct_slice(0, rng), ct, modality="CT")
        big = root / "cr.dcm"
        rad = np.clip(rng.normal(2000, 300, (3000, 2500)), 0, 4095).astype(np.uint16)
        _write(rad, big, modality="CR", photometric="MONOCHROME1")

        print("## display_frame (read + decode + display), median")
        for label, path, n in (("CT 512x512", ct, 30), ("CR 3000x2500 MONOCHROME1", big, 7)):
            print(f"{label:28s} {_median_ms(lambda p=path: display_frame(p), n):7.1f} ms")

        print("\n## our LUT pipeline vs pydicom's (decoded array in memory, to uint8)")
        for label, path, n in (("CT 512x512", ct, 30), ("CR 3000x2500", big, 5)):
            frame = decode_frame(path)
            ds = dcmread(path)
            arr = ds.pixel_array

            def ours(f=frame) -> np.ndarray:  # type: ignore[no-untyped-def]
                return f.render()

            def theirs(a=arr, d=ds) -> np.ndarray:  # type: ignore[no-untyped-def]
                y = apply_voi_lut(apply_modality_lut(a, d), d)
                lo, hi = float(y.min()), float(y.max())
                out = np.round((y - lo) / max(hi - lo, 1) * 255).astype(np.uint8)
                return 255 - out if d.PhotometricInterpretation == "MONOCHROME1" else out

            t_ours, t_theirs = _median_ms(ours, n), _median_ms(theirs, n)
            print(f"{label:28s} ours {t_ours:6.2f} ms | pydicom {t_theirs:7.2f} ms | "
                  f"ratio {t_theirs / t_ours:5.1f}x")  # fmt: skip

        n = args.slices
        series = root / "series"
        series.mkdir()
        t0 = time.perf_counter()
        paths = []
        for k in range(n):
            p = series / f"{k:04d}.dcm"
            _write(_ct_slice(k - n / 2, rng), p, modality="CT", z=float(k), k=k)
            paths.append(p)
        wrote = time.perf_counter() - t0
        print(f"\n## scrolling {n} slices of 512x512 (wrote the series in {wrote:.1f} s)")
        cache: FrameCache[int, object] = FrameCache(max_bytes=1 << 30)  # type: ignore[type-var]

        def scroll() -> float:
            t = time.perf_counter()
            for i in range(n):
                f = cache.get(i)
                if f is None:
                    f = decode_frame(paths[i])
                    cache.put(i, f)
                f.render()  # type: ignore[attr-defined]
            return n / (time.perf_counter() - t)

        print(f"on demand (decode + cache + render): {scroll():6.0f} slices/s")
        print(f"cached (render only):                {scroll():6.0f} slices/s")
        cache.clear()
        t = time.perf_counter()
        for i in prefetch_plan(0, n, radius=n):
            cache.put(i, decode_frame(paths[i]))
        print(f"prefetch pass of {n} slices:          {time.perf_counter() - t:6.2f} s")
        print(f"after prefetch:                      {scroll():6.0f} slices/s "
              f"(cache {cache.nbytes / 1e6:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
