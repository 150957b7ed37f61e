"""Rater quality on the demo project: retest revisions recorded through storage are paired (the
delay honoured), times agree with the stored revisions, and ``medreview raters`` prints it."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.services.projects import open_project
from medreview.services.rater_quality import CRITERIA, load_rater_inputs, rater_report
from medreview.storage.rater_quality import record_retest
from medreview.storage.tables import current_revisions

RATER = "Dr. Amara Okafor"


def _add_retests(path: Path) -> None:
    """30 exact blind re-ratings ten days later, 5 a day later (too soon), 10 flipped ones."""
    with open_project(path) as project:
        finals = [f for f in load_rater_inputs(project).records.finals if f.rater == RATER]
        assert len(finals) >= 45
        for i, f in enumerate(finals[:45]):
            answers = dict(f.answers)
            answers.pop("score", None)
            days = 1 if i >= 40 else 10
            if 30 <= i < 40:  # flip every criterion: a rater who contradicts themselves
                answers = {k: (not v if isinstance(v, bool) else v) for k, v in answers.items()}
            assert record_retest(project, RATER, f.output_id, answers,
                                 time_on_task_s=f.time_on_task_s,
                                 at=f.at + dt.timedelta(days=days))
        assert not record_retest(project, "nobody", finals[0].output_id, {})


def test_retests_are_paired_after_the_delay(demo_copy: Path) -> None:
    _add_retests(demo_copy)
    with open_project(demo_copy) as project:
        report = rater_report(project, window="items", size=20, threshold=0.6)
        revs = current_revisions(project, rater_kind="physician")
    assert report.question_id == CRITERIA and report.scale == "nominal"
    me = next(r for r in report.raters if r.rater == RATER)
    assert (me.n_retest, me.n_retest_too_soon) == (40, 5)
    kappa = next(c for c in me.retest if c.name == "kappa")
    # 30 identical answers, 10 contradicted: agreement 3/4 of the criteria units, kappa < 1.
    assert kappa.ci is not None and 0.0 < kappa.value < 0.9
    others = [r for r in report.raters if r.rater != RATER]
    assert others and all(r.n_retest == 0 and not r.retest for r in others)
    # Operations agree with the stored final revisions (an independent read).
    for r in report.raters:
        times = [x["time_on_task_s"] for x in revs if x["rater"] == r.rater]
        assert r.n_done == len(times)
        assert r.time.median == pytest.approx(statistics.median(t for t in times if t > 0))
        assert r.per_day[-1][2] == r.n_done
        assert r.drift and all(w.n_items <= 20 for w in r.drift)


def test_cli_raters_table_json_and_bad_input(demo_copy: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _add_retests(demo_copy)
    capsys.readouterr()
    assert main(["raters", str(demo_copy), "--window", "25"]) == 0
    out = capsys.readouterr().out
    assert "question: criteria (nominal); window: 25 items" in out
    line = next(x for x in out.splitlines() if x.strip().startswith(RATER) and "items" in x
                and "of" in x)
    assert " 40 " in line  # retest pairs
    assert main(["raters", str(demo_copy), "--json", "--question", "score"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scale"] == "numeric"
    me = next(r for r in data["raters"] if r["rater"] == RATER)
    assert {c["name"] for c in me["retest"]} == {"alpha", "ICC(3,1)", "ICC(A,1)"}
    for bad, word in ((["--window", "fortnight"], "--window"),
                      (["--threshold", "2"], "--threshold"),
                      (["--question", "nope"], "nope"), (["--min-delay", "-1"], "--min-delay"),
                      (["--min-delay", "1e12"], "--min-delay")):
        code = main(["raters", str(demo_copy), *bad])
        err = capsys.readouterr().err
        assert code != 0 and word in err and len(err.strip().splitlines()) == 1, err
