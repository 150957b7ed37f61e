"""How long the demo project's statistics dashboard takes (goal: under 2 s from opening the
window to "up to date").

Prints, for the bundled demo (65 outputs, three physicians, one judge), the minimum and median
over repeats of: the database read (``dashboard.load_inputs``), the computation
(``dashboard.compute_dashboard`` with CIs; wall and CPU time, CPU being the figure that a busy
machine does not inflate), filling the tabs, and the whole window from ``show()`` to its
"up to date" status on the app's real executor threads (offscreen Qt).

Usage: ``.venv/bin/python bench/bench_dashboard.py [REPEATS] [PROJECT_DIR]`` (the demo is
built in a temporary folder when no project is given). Figures only: nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def line(name: str, values: list[float]) -> str:
    return (f"{name:<34} min {min(values):6.3f} s   median {statistics.median(values):6.3f} s"
            f"   ({len(values)} runs)")


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 2:
            path = Path(sys.argv[2])
        else:
            from medreview.demo.build import build_demo_project

            path = build_demo_project(Path(tmp) / "demo")
        run(path, repeats)


def run(path: Path, repeats: int) -> None:
    from PySide6.QtWidgets import QApplication

    from medreview.qt.app import make_app
    from medreview.qt.stats.dashboard import DashboardWindow
    from medreview.qt.theme import apply_theme
    from medreview.services import dashboard
    from medreview.services.bus import ChangeBus
    from medreview.services.projects import open_project
    from medreview.services.tasks import DbExecutor, WorkExecutor

    project = open_project(path)
    loads, walls, cpus = [], [], []
    inputs = stats = None
    for _ in range(repeats):
        w, _, inputs = timed(lambda: dashboard.load_inputs(project))
        loads.append(w)
        w, c, stats = timed(lambda inp=inputs: dashboard.compute_dashboard(inp))
        walls.append(w)
        cpus.append(c)
    project.close()
    assert inputs is not None and stats is not None
    print(f"demo: {stats.meta['n_outputs']} outputs, {stats.meta['n_physicians']} physicians, "
          f"{stats.meta['n_judges']} judge(s), {len(inputs.ratings)} ratings")
    print(line("load_inputs (database read)", loads))
    print(line("compute_dashboard, wall", walls))
    print(line("compute_dashboard, CPU", cpus))

    app = make_app() if QApplication.instance() is None else QApplication.instance()
    apply_theme(app, "light", 10)  # type: ignore[arg-type]
    db, work = DbExecutor(), WorkExecutor()
    shared = db.submit(open_project, path).result()
    fills, windows, window_cpu = [], [], []
    for _ in range(repeats):
        win = DashboardWindow(shared, db, work, ChangeBus())
        win.resize(1400, 900)
        w, _, _ = timed(lambda win=win: [tab.show_stats(inputs, stats) for tab in win.tab_widgets])
        fills.append(w)
        start, cpu = time.perf_counter(), time.process_time()
        win.show()
        while win.stats is None or win.job.running:
            app.processEvents()  # type: ignore[union-attr]
            time.sleep(0.002)
        app.processEvents()  # type: ignore[union-attr]
        windows.append(time.perf_counter() - start)
        window_cpu.append(time.process_time() - cpu)  # every thread of the process
        assert "up to date" in win.strip.status.text(), win.strip.status.text()
        win.close()
        win.deleteLater()
    print(line("fill the six tabs", fills))
    print(line("window: show() to 'up to date'", windows))
    print(line("window: CPU of all threads", window_cpu))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"goal: under 2 s from show() to 'up to date' — median "
          f"{statistics.median(windows):.2f} s wall, {statistics.median(window_cpu):.2f} s CPU "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs: wall times grow with it)")
    db.submit(shared.close).result()
    db.shutdown()
    work.shutdown()


if __name__ == "__main__":
    main()
