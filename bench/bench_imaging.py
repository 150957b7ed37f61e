"""Imaging speed figures (prints, asserts nothing).

- time to display a 512x512 CT slice and a large synthetic radiograph (read+decode+display)
- slices per second scrolling a 300-slice series through decode_frame + FrameCache + render
  (on demand, and after a prefetch pass)
- our 64 K LUT pipeline vs pydicom's apply_modality_lut + apply_voi_lut (+ scale to uint8)
- JPEG 2000 (issue #17 item 4): the same series recompressed lossless, scrolled through the
  real ``SliceViewer`` (offscreen) with previews off (full decodes only: the *before*) and on
  (reduced-resolution previews while moving, refined when the scroll stops: the *after*);
  slices/s shown and the time from the last slice change to its full-resolution image; plus
  one vs two decode processes (CPU per decode, IPC cost) to say where parallelism goes.

Run: python bench/bench_imaging.py [--slices 300] [--only-j2k]
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--only-j2k", action="store_true", help="just the JPEG 2000 figures")
    parser.add_argument("--runs", type=int, default=2, help="JPEG 2000 scroll runs per mode")
    args = parser.parse_args()
    if args.only_j2k:
        with tempfile.TemporaryDirectory() as tmp:
            _j2k_section(Path(tmp), args.slices, args.runs, np.random.default_rng(0))
        return
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
        _j2k_section(root, n, args.runs, rng)


# -- JPEG 2000 (issue #17 item 4) ----------------------------------------------------------
BEFORE_J2K = 49.0  # slices/s, docs/PERFORMANCE (performance notes, batch D, load 1.8)
GOAL_J2K = 60.0
GOAL_REFINE_MS = 100.0


def _write_j2k_series(folder: Path, n: int, rng: np.random.Generator) -> list[Path]:
    from pydicom import dcmread
    from pydicom.uid import JPEG2000Lossless

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        p = folder / f"{k:04d}.dcm"
        _write(_ct_slice(k - n / 2, rng), p, modality="CT", z=float(k), k=k,
               series="1.2.3.9")  # fmt: skip
        ds = dcmread(p)
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def _timed_decode(path: Path, preview: bool) -> tuple[float, int]:
    """(CPU seconds of one decode in this process, pickled result bytes)."""
    import pickle

    from medreview.imaging.display import decode_frame
    from medreview.imaging.reduced import decode_preview

    t = time.process_time()
    frame = (decode_preview if preview else decode_frame)(path)
    return time.process_time() - t, len(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))


def _process_scaling(paths: list[Path]) -> None:
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from medreview.imaging.display import decode_frame

    print("\n## JPEG 2000 decode in worker processes (full decodes of the series' first slices)")
    sample = paths[: min(len(paths), 60)]
    for workers in (1, 2):
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            list(pool.map(_timed_decode, sample[:workers], [False] * workers))  # start-up
            t = time.perf_counter()
            res = list(pool.map(_timed_decode, sample, [False] * len(sample)))
            wall = time.perf_counter() - t
        cpu = statistics.median(r[0] for r in res) * 1e3
        print(f"{workers} process(es): {len(sample) / wall:6.1f} slices/s wall, "
              f"CPU per decode median {cpu:5.1f} ms, result {res[0][1] / 1e3:.0f} kB pickled")
    frame = decode_frame(sample[0])
    t = time.perf_counter()
    for _ in range(20):
        pickle.loads(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"pickle + unpickle of one decoded slice: {(time.perf_counter() - t) / 20 * 1e3:.2f} ms")
    cpu_p = statistics.median(_timed_decode(p, True)[0] for p in sample[:20]) * 1e3
    cpu_f = statistics.median(_timed_decode(p, False)[0] for p in sample[:20]) * 1e3
    print(f"CPU per decode in this process: full {cpu_f:.1f} ms, preview (1/2) {cpu_p:.1f} ms "
          f"({cpu_p / cpu_f:.0%})")  # fmt: skip


def _decoder_cpu() -> float:
    """CPU seconds used so far by the viewer's decode processes (Linux /proc; 0 elsewhere)."""
    from medreview.qt.imaging import loader

    pool = loader._processes
    total = 0.0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _viewer_scroll(paths: list[Path], progressive: bool
                   ) -> tuple[float, float, int, float, float]:  # fmt: skip
    """Scroll the real viewer through every slice, each one waited for until it is shown;
    (slices/s, ms from the last slice change to its full-resolution image, previews shown,
    UI-process CPU ms per slice, decode-process CPU ms per slice)."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from medreview.qt.imaging.slice_view import SliceViewer

    app = QApplication.instance() or QApplication([])
    v = SliceViewer()
    v.resize(1000, 900)
    v.show()
    v.set_progressive(progressive)
    tick = QTimer()
    tick.start(2)  # the wait sleeps in the event loop; a 2 ms tick re-checks

    def wait(cond: Callable[[], bool], timeout: float = 60.0) -> None:
        end = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > end:
                raise TimeoutError("the viewer did not show the slice")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)  # sleeps

    v.set_series(paths)
    wait(lambda: v.slice_count() == len(paths) and v.current_frame() is not None)
    v._loader.cache.clear()  # cold: nothing decoded beyond the opening slice
    v._loader.previews.clear()
    previews = 0
    cpu_ui, cpu_dec = time.process_time(), _decoder_cpu()
    t0 = time.perf_counter()
    for i in range(1, len(paths)):
        v.set_slice(i)
        key = v._key(i)
        wait(lambda k=key: v._shown_key == k)  # type: ignore[misc]
        previews += v.showing_preview()
        v._view.viewport().repaint()
    rate = (len(paths) - 1) / (time.perf_counter() - t0)
    ui_ms = (time.process_time() - cpu_ui) / (len(paths) - 1) * 1e3
    dec_ms = (_decoder_cpu() - cpu_dec) / (len(paths) - 1) * 1e3
    t_stop = time.perf_counter()
    wait(lambda: not v.showing_preview())
    refine_ms = (time.perf_counter() - t_stop) * 1e3
    tick.stop()
    v.close()
    v.deleteLater()
    app.processEvents()
    return rate, refine_ms, previews, ui_ms, dec_ms


def _j2k_section(root: Path, n: int, runs: int, rng: np.random.Generator) -> None:
    from medreview.imaging.display import decode_frame

    t = time.perf_counter()
    paths = _write_j2k_series(root / "j2k", n, rng)
    size = sum(p.stat().st_size for p in paths) / n / 1e3
    print(f"\n## JPEG 2000 lossless series: {n} slices of 512x512, {size:.0f} kB a file "
          f"(written in {time.perf_counter() - t:.1f} s); load {os.getloadavg()[0]:.1f}")
    in_thread = n / sum(_median_ms(lambda p=p: decode_frame(p).render(), 1) / 1e3
                        for p in paths[:30]) * 30 / n  # fmt: skip
    print(f"in-thread decode + render (1 core):   {in_thread:6.1f} slices/s")
    _process_scaling(paths)
    print("\n## JPEG 2000 scroll through SliceViewer (offscreen, 1000x900, cold cache, every "
          "slice shown and painted)")
    results: dict[bool, list[tuple[float, float, int, float, float]]] = {False: [], True: []}
    for _ in range(runs):  # alternate, so both modes see the same load
        for mode in (False, True):
            results[mode].append(_viewer_scroll(paths, mode))
    for mode, label in ((False, "previews off (before: full decodes)"),
                        (True, "previews on (after)")):  # fmt: skip
        rates = [r[0] for r in results[mode]]
        refine = [r[1] for r in results[mode]]
        shown = [r[2] for r in results[mode]]
        print(f"{label:38s} {min(rates):6.1f} / {statistics.median(rates):6.1f} slices/s "
              f"(min / median of {runs}); full resolution {statistics.median(refine):5.1f} / "
              f"{max(refine):5.1f} ms (median / max) after the last change; previews shown "
              f"{statistics.median(shown):.0f} of {n - 1}")
        ui = statistics.median(r[3] for r in results[mode])
        dec = statistics.median(r[4] for r in results[mode])
        # what two otherwise idle cores would sustain: all CPU over 2 cores, the UI on one
        idle = 1e3 / max((ui + dec) / 2, ui, 1e-9)
        print(f"{'':38s} CPU per slice: UI process {ui:5.1f} ms + decoders {dec:5.1f} ms "
              f"-> {idle:6.1f} slices/s on two idle cores")
    after = statistics.median(r[0] for r in results[True])
    before = statistics.median(r[0] for r in results[False])
    print(f"ratio after / before (same run): {after / before:.2f}x; after / recorded before "
          f"({BEFORE_J2K:.0f}/s): {after / BEFORE_J2K:.2f}x; goal {GOAL_J2K:.0f}/s "
          f"{'met' if after >= GOAL_J2K else 'missed'}; refine goal {GOAL_REFINE_MS:.0f} ms "
          f"{'met' if max(r[1] for r in results[True]) <= GOAL_REFINE_MS else 'missed'}; "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
