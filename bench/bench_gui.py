"""Next-item latency of the grading window on a generated 10,000-output project.

Prints p50/p95 (ms) for: opening the next item (PgDown: save the edit, load, build the form),
"save as done and next" (Ctrl+Enter, which the preloader has usually fetched already), the
save round trip (commit returned on the database thread, "Saved" shown), and the queue load.

Usage: python bench/bench_gui.py [n_outputs=10000] [steps=200]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def report(name: str, ms: list[float]) -> None:
    print(f"{name:<34} n={len(ms):4d}  p50={pct(ms, 0.5):7.1f} ms  p95={pct(ms, 0.95):7.1f} ms"
          f"  max={max(ms):7.1f} ms")


def main() -> int:
    n_outputs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory(prefix="medreview-bench-gui-") as tmp:
        os.environ["MEDREVIEW_HOME"] = str(Path(tmp) / "home")
        from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
        from PySide6.QtTest import QTest

        from medreview.qt.app import make_app
        from medreview.qt.main_window import MainWindow
        from medreview.qt.settings import UiSettings
        from medreview.qt.theme import apply_theme
        from medreview.services.sample_project import build_sample_project

        t0 = time.perf_counter()
        project, _ = build_sample_project(Path(tmp) / "p", n_cases=n_outputs // 2,
                                          outputs_per_case=2, with_dicom=False)
        project.close()
        print(f"built {n_outputs} outputs in {time.perf_counter() - t0:.1f} s")

        app = make_app()
        apply_theme(app, "light", 10)
        w = MainWindow(UiSettings(Path(tmp) / "qt.ini"))
        w.resize(1600, 960)
        w.show()

        def spin_until(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
            end = time.perf_counter() + timeout
            while not pred():
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
                if time.perf_counter() > end:
                    raise TimeoutError("the window did not respond")

        t0 = time.perf_counter()
        w.open_project(Path(tmp) / "p")
        spin_until(lambda: w.controller is not None and w.controller.item is not None)
        print(f"open project + queue ({w.queue.model.rowCount()} rows) + first item: "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        c = w.controller
        assert c is not None
        panel = w.view.panel

        def key(k, mods=Qt.KeyboardModifier.NoModifier) -> None:  # type: ignore[no-untyped-def]
            QTest.keyClick(panel, k, mods)

        # 1. PgDown after one edit: save + load + build (the preloader is bypassed by jumping
        #    over the item it fetched, so this is the cold path).
        cold: list[float] = []
        for _ in range(steps // 2):
            key(Qt.Key.Key_3)
            before = c.item.output_id
            d = w.queue.model.display_row(before) or 0
            target = w.queue.model.row_at(d + 2).output_id
            t = time.perf_counter()
            w.open_item(target)
            spin_until(lambda: c.item.output_id == target)  # noqa: B023
            cold.append((time.perf_counter() - t) * 1000)
        # 2. Ctrl+Enter on a complete item: save as done and show the (preloaded) next one.
        warm: list[float] = []
        saves: list[float] = []
        for _ in range(steps // 2):
            for q in panel.widgets:  # answer every required question through the panel
                if q.question.required and c.draft.answers.get(q.question.id) is None:
                    panel.set_current(panel.widgets.index(q))
                    panel.digit(1)
            before = c.item.output_id
            t = time.perf_counter()
            key(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            spin_until(lambda: c.item.output_id != before)  # noqa: B023
            warm.append((time.perf_counter() - t) * 1000)
            spin_until(lambda: not c.saving and not c.dirty)
            saves.append((time.perf_counter() - t) * 1000)
            # let the preloader fetch the next item, as it does while the rater reads
            spin_until(lambda: not c.session._inflight)
        report("next item, cold (PgDown-like)", cold)
        report("save done + next (preloaded)", warm)
        report("... until 'Saved' shown", saves)
        t = time.perf_counter()
        w.close()
        print(f"close (flush + shutdown): {(time.perf_counter() - t) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
