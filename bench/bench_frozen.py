"""Size and start-up of the frozen app (``python packaging/build.py`` first).

Prints the bundle's unpacked size (MB), the archive's size, and the frozen app's start to a
usable window on the demo project (offscreen): the wall time of ``medreview --startup-probe
DEMO`` (process start, Qt, the window, the project opened and its first item on screen, then
exit) and the probe's own in-process figure. The first run after the demo is built is the
coldest this machine can give without dropping the page cache; the others are warm.

Usage: python bench/bench_frozen.py [runs=5] [dist/medreview]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and not p.is_symlink()) / 1e6


def breakdown(app: Path, top: int = 12) -> list[tuple[str, float]]:
    """The biggest parts of the bundle (MB): each folder or file of ``_internal`` and the
    executable (which carries the archive of compiled Python modules)."""
    parts = [(p.name, folder_mb(p) if p.is_dir() else p.stat().st_size / 1e6)
             for p in [*(app / "_internal").iterdir(), *app.glob("medreview*")]
             if not p.is_symlink()]
    return sorted(parts, key=lambda part: -part[1])[:top]


def clean_env(home: Path) -> dict[str, str]:
    """What a desktop session gives the app: no venv, no Python on PATH, offscreen Qt."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    app = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "dist" / "medreview"
    exe = app / ("medreview.exe" if sys.platform == "win32" else "medreview")
    if not exe.is_file():
        print(f"bench_frozen: {exe} is missing; run python packaging/build.py first")
        return 1
    size = folder_mb(app)
    print(f"bundle {app}: {size:.0f} MB unpacked (aim < 300 MB: "
          f"{'met' if size < 300 else 'not met'})")
    print("  biggest parts: " + ", ".join(f"{name} {mb:.0f}" for name, mb in breakdown(app)))
    for archive in sorted((app.parent).glob("medreview-*.*")):
        print(f"archive {archive.name}: {archive.stat().st_size / 1e6:.0f} MB")
    with tempfile.TemporaryDirectory(prefix="medreview bench ") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = clean_env(home)
        demo = Path(tmp) / "démo"
        t0 = time.perf_counter()
        subprocess.run([str(exe), "demo", "--no-gui", str(demo)], env=env, check=True,
                       capture_output=True)
        print(f"frozen 'medreview demo --no-gui' (builds the demo): "
              f"{time.perf_counter() - t0:.2f} s")
        walls: list[float] = []
        inner: list[float] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            done = subprocess.run([str(exe), "--startup-probe", str(demo)], env=env,
                                  capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t0)
            if done.returncode != 0:
                print(done.stdout + done.stderr)
                return 1
            inner.append(json.loads(done.stdout.strip().splitlines()[-1])["app_and_window_s"])
        print(f"start to a usable window on the demo, whole process (n={runs}): "
              f"first {walls[0]:.2f} s, median {statistics.median(walls):.2f} s, "
              f"max {max(walls):.2f} s")
        print(f"  of which Qt application + window + project + first item (in process): "
              f"median {statistics.median(inner):.2f} s")
        t0 = time.perf_counter()
        report = Path(tmp) / "selftest.json"
        subprocess.run([str(exe), "--self-test", str(report)], env=env, check=True,
                       capture_output=True)
        print(f"frozen --self-test: {time.perf_counter() - t0:.2f} s "
              f"(report says {json.loads(report.read_text(encoding='utf-8'))['seconds']:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
