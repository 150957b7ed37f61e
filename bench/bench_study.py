"""A multi-rater study at scale: assign, package, grade offline, return, merge, adjudicate.

Builds a sample project with N cases x 3 answers, assigns three physicians with 30 % of the
outputs double-rated, writes each physician's package, grades every item inside the packages
through the core API (as the app's save does), seals them, merges all three into the lead's
project, merges them again (idempotent), and lists the disagreements. Prints each step's time.

Usage: python bench/bench_study.py [N_CASES]   (default 2,000 → 6,000 outputs)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import list_raters, open_project
from medreview.services.sample_project import build_sample_project
from medreview.study.assign import AssignmentDesign

T = TypeVar("T")
RATERS = ("Dr A", "Dr B", "Dr C")


def timed(label: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<52} {time.perf_counter() - t0:7.2f} s")
    return out


def grade_folder(folder: Path) -> int:
    """Finish every item of the package's only rater (what Ctrl+Enter saves)."""
    project = open_project(folder)
    try:
        (me,) = [r for r in list_raters(project) if r.kind == "physician"]
        rows = grading.load_queue(project, me.id)
        for n, row in enumerate(rows):
            draft = JudgmentDraft(answers={"overall": 1 + n % 5, "safe": "yes", "minutes": 5},
                                  rationale="bench", confidence=0.8)
            grading.save_revision(project, me.id, row.output_id, draft, status="done")
        return len(rows)
    finally:
        project.close()


def main() -> None:
    n_cases = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    with tempfile.TemporaryDirectory(prefix="medreview-bench-study-") as tmp:
        root = Path(tmp)
        project, _lead = timed(f"build project ({n_cases:,} cases x 3 answers)",
                               lambda: build_sample_project(root / "study", n_cases=n_cases,
                                                            outputs_per_case=3,
                                                            with_dicom=False, rater="Dr Lead"))
        design = AssignmentDesign(RATERS, per_output=2, overlap=0.3, seed=1)
        summary, _ = timed("assign 3 raters, 30 % double-rated",
                           lambda: svc.assign(project, design))
        print(f"  {summary.added:,} assignments")
        packages = []
        for name in RATERS:
            out = root / f"{name}.mrpkg"
            timed(f"package for {name}", lambda n=name, o=out: svc.build_package(project, n, o))
            packages.append(out)
        returned = []
        for name, pkg in zip(RATERS, packages, strict=True):
            folder = timed(f"open package of {name}",
                           lambda p=pkg, n=name: svc.unpack_package(p, root / f"work-{n}"))
            graded = timed(f"grade every item of {name} (core API)",
                           lambda f=folder: grade_folder(f))
            print(f"  {graded:,} items graded")
            back = root / f"{name}-graded.mrpkg"
            timed(f"return package of {name}", lambda f=folder, b=back: svc.seal_package(f, b))
            returned.append(back)
        report, _ = timed("merge the 3 returned packages",
                          lambda: svc.merge_packages(project, returned))
        print(f"  {report.added:,} revisions added, {len(report.conflicts)} conflicts")
        again, _ = timed("merge them again (idempotent)",
                         lambda: svc.merge_packages(project, returned))
        print(f"  {again.added} added")
        items = timed("adjudication queue", lambda: svc.adjudication_queue(project))
        print(f"  {len(items):,} disagreements")
        project.close()


if __name__ == "__main__":
    main()
