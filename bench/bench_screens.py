"""Screens that don't wait (issue #17, item 3): next item, save + next and cold start, on a
busy machine, each against its goal and against the old behaviour measured in the same run.

- Load: the bench starts a process that keeps one core busy (``--no-load`` to skip it).
- Next item p95 (goal < 50 ms): PgDown-like, after one edit, jumping over the preloaded item
  (save + load from the database + show), on an N-output project (default 100,000).
- Save + next p95 (goal < 30 ms): Ctrl+Enter on a complete item until the next one (preloaded)
  is shown; the save's commit runs on the database thread meanwhile (its time is printed too).
- Cold start (goal < 1 s): a new interpreter until the main window is shown and has painted
  (the welcome page); also how long ``import medreview.qt.app`` takes in it.

"before" is the old behaviour, in the same process and alternating in blocks with "now": the
panel builds every widget for every item, each save recounts the whole queue, and saves and
preloads start on the database thread at once instead of waiting (``BusyGate``) until the
item is on screen; for cold
start, the child first imports what ``import medreview.qt.app`` used to pull in (the storage
layer with SQLAlchemy and Alembic, the project and form services, the new-project dialog,
numpy). Baselines from the issue: next p95 28-35 ms quiet, 61-183 ms under load; cold start
0.77 s quiet, 2.1 s under load.

Usage: python bench/bench_screens.py [--outputs 100000] [--steps 120] [--starts 6] [--no-load]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"next": 50.0, "save_next": 30.0, "cold": 1000.0}
OLD_IMPORTS = ("import medreview.services.projects, medreview.services.form_editing, "
               "medreview.qt.new_project_dialog, numpy")
CHILD = """
import os, sys, time
t0 = time.perf_counter()
{before}
import medreview.qt.app as app_mod
t_import = time.perf_counter()
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from medreview.qt.main_window import MainWindow
from medreview.qt.settings import UiSettings
from medreview.qt.theme import apply_theme
app = app_mod.make_app()
apply_theme(app, "light", 10)
w = MainWindow(UiSettings(Path(sys.argv[1])))
w.show()
w.repaint()
QCoreApplication.processEvents()
print(f"ready {{(t_import - t0) * 1000:.1f}}", flush=True)
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def line(name: str, now: list[float], before: list[float], goal: float, q: float = 0.95
         ) -> None:
    a, b = pct(now, q), pct(before, q)
    tag = "p95" if q == 0.95 else "median"
    verdict = "meets" if a < goal else "MISSES"
    print(f"{name:<24} {tag} now {a:7.1f} ms  before {b:7.1f} ms  ratio {b / a:5.2f}x  "
          f"goal < {goal:.0f} ms: {verdict}  (p50 now {pct(now, 0.5):.1f}, "
          f"before {pct(before, 0.5):.1f}; n={len(now)}/{len(before)})")


def cold_starts(n: int, tmp: Path) -> tuple[list[float], list[float], list[float]]:
    """Wall time from starting the interpreter to a painted window, alternating now/before."""
    now: list[float] = []
    before: list[float] = []
    imports: list[float] = []
    env = {**os.environ, "MEDREVIEW_HOME": str(tmp / "home-cold"), "PYTHONPATH": str(ROOT)}
    for i in range(2 * n):
        old = i % 2 == 1
        code = CHILD.format(before=OLD_IMPORTS if old else "")
        t = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code, str(tmp / f"cold{i}.ini")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
        assert child.stdout is not None
        ready = child.stdout.readline()  # the window is up: its exit is not start-up time
        ms = (time.perf_counter() - t) * 1000
        child.kill()
        _, err = child.communicate(timeout=60)
        if not ready.startswith("ready"):
            raise RuntimeError(f"the window did not start: {err[-2000:]}")
        (before if old else now).append(ms)
        if not old:
            imports.append(float(ready.split()[1]))
    return now, before, imports


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--starts", type=int, default=6)
    ap.add_argument("--no-load", action="store_true")
    args = ap.parse_args()
    load = None if args.no_load else subprocess.Popen(
        [sys.executable, "-c", "while True: pass"])  # one core busy for the whole run
    try:
        return run(args)
    finally:
        if load is not None:
            load.kill()
            load.wait()


def run(args: argparse.Namespace) -> int:
    print(f"load: {'one busy core started by the bench' if not args.no_load else 'none'}; "
          f"uptime: {os.getloadavg()[0]:.1f} (1 min)")
    with tempfile.TemporaryDirectory(prefix="medreview-bench-screens-") as tmp_s:
        tmp = Path(tmp_s)
        cold_now, cold_before, imports = cold_starts(args.starts, tmp)
        os.environ["MEDREVIEW_HOME"] = str(tmp / "home")
        from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
        from PySide6.QtTest import QTest

        from medreview.qt.app import make_app
        from medreview.qt.grading.queue_model import QueueModel
        from medreview.qt.grading.rubric_panel import RubricPanel
        from medreview.qt.main_window import MainWindow
        from medreview.qt.settings import UiSettings
        from medreview.qt.theme import apply_theme
        from medreview.services.grading_screen import count_queue
        from medreview.services.sample_project import build_sample_project

        # The old behaviour, switched on and off between blocks of steps.
        old = {"on": False}
        place = RubricPanel._place
        counts = QueueModel.counts

        def place_old(self: RubricPanel, questions: Any, draft: Any) -> None:
            if old["on"]:  # build every widget anew, as before
                for w in self.widgets:
                    self._questions_box.removeWidget(w)
                    w.hide()
                    w.deleteLater()
                self.widgets = []
            place(self, questions, draft)

        def counts_old(self: QueueModel) -> Any:
            return count_queue(self._rows) if old["on"] else counts(self)

        RubricPanel._place = place_old  # type: ignore[method-assign]
        QueueModel.counts = counts_old  # type: ignore[method-assign]

        t0 = time.perf_counter()
        project, _ = build_sample_project(tmp / "p", n_cases=args.outputs // 2,
                                          outputs_per_case=2, with_dicom=False)
        project.close()
        print(f"built {args.outputs} outputs in {time.perf_counter() - t0:.1f} s")
        app = make_app()
        apply_theme(app, "light", 10)
        w = MainWindow(UiSettings(tmp / "qt.ini"))
        w.resize(1600, 960)
        w.show()

        def spin_until(pred: Callable[[], bool], timeout: float = 30.0) -> None:
            end = time.perf_counter() + timeout
            while not pred():
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
                if time.perf_counter() > end:
                    raise TimeoutError("the window did not respond")

        w.open_project(tmp / "p")
        spin_until(lambda: w.controller is not None and w.controller.item is not None)
        c = w.controller
        assert c is not None
        panel = w.view.panel
        nxt: dict[bool, list[float]] = {False: [], True: []}
        save_next: dict[bool, list[float]] = {False: [], True: []}
        saved: dict[bool, list[float]] = {False: [], True: []}
        block = 10
        gate_wait = c.gate.max_wait_s
        for step in range(args.steps):
            old["on"] = (step // block) % 2 == 1
            c.gate.max_wait_s = 0.0 if old["on"] else gate_wait  # "before": no waiting
            # 1. after one edit, jump over the preloaded item: save + load + show
            QTest.keyClick(panel, Qt.Key.Key_3)
            d = w.queue.model.display_row(c.item.output_id) or 0
            target = w.queue.model.row_at(d + 2).output_id
            t = time.perf_counter()
            w.open_item(target)
            spin_until(lambda: c.item.output_id == target)  # noqa: B023
            nxt[old["on"]].append((time.perf_counter() - t) * 1000)
            spin_until(lambda: not c.saving and not c.session._inflight)
            # 2. complete it and Ctrl+Enter: save as done, show the preloaded next item
            for q in panel.widgets:
                if q.question.required and c.draft.answers.get(q.question.id) is None:
                    panel.set_current(panel.widgets.index(q))
                    panel.digit(1)
            before_id = c.item.output_id
            t = time.perf_counter()
            QTest.keyClick(panel, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            spin_until(lambda: c.item.output_id != before_id)  # noqa: B023
            save_next[old["on"]].append((time.perf_counter() - t) * 1000)
            spin_until(lambda: not c.saving and not c.dirty)  # committed, counts redrawn
            saved[old["on"]].append((time.perf_counter() - t) * 1000)
            spin_until(lambda: not c.session._inflight)
        w.close()

    print()
    print(f"issue #17 item 3 on {args.outputs:,} outputs "
          f"({'one core kept busy' if not args.no_load else 'no added load'}):")
    line("next item", nxt[False], nxt[True], GOALS["next"])
    line("save + next", save_next[False], save_next[True], GOALS["save_next"])
    print(f"  ... until the commit is back and 'Saved' shown (fsync; no goal): p95 now "
          f"{pct(saved[False], 0.95):.1f} ms, before {pct(saved[True], 0.95):.1f} ms")
    line("cold start to window", cold_now, cold_before, GOALS["cold"], q=0.5)
    print(f"  of which import medreview.qt.app: median {pct(imports, 0.5):.0f} ms; "
          f"cold start max now {max(cold_now):.0f} ms, before {max(cold_before):.0f} ms")
    print("baselines from the issue: next p95 28-35 ms quiet, 61-183 ms under load; "
          "cold start 0.77 s quiet, 2.1 s under load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
