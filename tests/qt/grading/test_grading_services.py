"""The Qt-free services behind the workstation: workspace rules, spans, regions, bus, executors.

(They need no Qt; they live here because this folder is the workstation's test area.)
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from medreview.domain.changes import Changes
from medreview.domain.judgment import ImageRegion
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import DbExecutor, ImmediateExecutor
from medreview.services import grading
from medreview.services.answer_spans import locate_in_rendered, locate_in_source
from medreview.services.grading_screen import (
    QueueFilter,
    TimeOnTask,
    count_queue,
    filter_rows,
    live_score,
    missing_for,
    models_of,
    next_open,
    pair_partner,
    tags_of,
    with_status,
)
from medreview.services.regions import region_from_viewer, region_to_viewer
from medreview.services.sample_project import build_sample_project
from medreview.services.views import QueueRow


def _row(i: int, case: int, status: str = "todo", flagged: bool = False) -> QueueRow:
    return QueueRow(i, case, f"c{case}", f"Case {case}", f"m{i % 2}", f"Response {'AB'[i % 2]}",
                    status, flagged, ("t1",) if case % 2 else ("t2",), i, None)


ROWS = [_row(0, 1, "done"), _row(1, 1), _row(2, 2, "draft", True), _row(3, 2, "skipped"),
        _row(4, 3)]


def test_filters_counts_and_choices() -> None:
    assert filter_rows(ROWS, QueueFilter()) == [0, 1, 2, 3, 4]
    assert filter_rows(ROWS, QueueFilter(status="todo")) == [1, 2, 3, 4]
    assert filter_rows(ROWS, QueueFilter(status="done")) == [0]
    assert filter_rows(ROWS, QueueFilter(status="flagged")) == [2]
    assert filter_rows(ROWS, QueueFilter(tag="t2")) == [2, 3]
    assert filter_rows(ROWS, QueueFilter(model="Response B")) == [1, 3]
    assert filter_rows(ROWS, QueueFilter(model="m1", reveal_models=True)) == [1, 3]
    # Searching never matches a hidden model name.
    assert filter_rows(ROWS, QueueFilter(text="m1")) == []
    assert filter_rows(ROWS, QueueFilter(text="CASE 3")) == [4]
    c = count_queue(ROWS)
    assert (c.total, c.done, c.draft, c.todo, c.skipped, c.flagged) == (5, 1, 1, 2, 1, 1)
    assert c.fraction_done == pytest.approx(0.2)
    assert tags_of(ROWS) == ["t1", "t2"]
    assert models_of(ROWS, False) == ["Response A", "Response B"]
    assert models_of(ROWS, True) == ["m0", "m1"]


def test_next_open_skips_done_and_wraps() -> None:
    order = [0, 1, 2, 3, 4]
    assert next_open(ROWS, order, None) == 1
    assert next_open(ROWS, order, 1) == 2
    assert next_open(ROWS, order, 4) == 1  # wraps past the done row 0
    all_done = [dataclasses.replace(r, status="done") for r in ROWS]
    assert next_open(all_done, order, 2) == 3  # everything done: plain next
    assert next_open(all_done, order, 4) is None
    assert next_open(ROWS, [], None) is None


def test_pair_partner_and_with_status() -> None:
    assert pair_partner(ROWS, 0) == 1
    assert pair_partner(ROWS, 3) == 2
    assert pair_partner(ROWS, 4) is None
    assert pair_partner(ROWS, 99) is None
    r = with_status(ROWS[1], "done", True)
    assert (r.status, r.flagged) == ("done", True) and r.updated_at is not None


def test_time_on_task_counts_only_running_time() -> None:
    now = [100.0]
    t = TimeOnTask(clock=lambda: now[0], base=5.0)
    t.start()
    now[0] = 110.0
    assert t.seconds == 15.0
    t.pause()
    now[0] = 200.0
    assert t.seconds == 15.0
    t.start()
    now[0] = 201.5
    t.start()  # a second start while running changes nothing
    now[0] = 202.0
    assert t.seconds == 17.0


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = Path(tmp_path_factory.mktemp("svc")) / "p"
    project, me = build_sample_project(path, n_cases=2, outputs_per_case=2)
    yield project, me
    project.close()


def test_missing_and_live_score_on_a_real_item(sample) -> None:  # type: ignore[no-untyped-def]
    project, me = sample
    item = grading.load_item(project, me.id, 1)
    assert missing_for(item, {}) == ["overall", "criterion:dx", "criterion:abx",
                                     "criterion:safety", "criterion:harm"]
    answers = {"overall": 3, "criterion:dx": True, "criterion:abx": False,
               "criterion:safety": True, "criterion:harm": True}
    assert missing_for(item, answers) == []
    assert live_score(item, answers) == pytest.approx((5 + 3 - 6) / 12)
    assert live_score(item, {"criterion:harm": True}) == pytest.approx(-6 / 12)  # unclipped


def test_spans_round_trip_through_markdown() -> None:
    source = "Start **amoxicillin 1 g** now.\n\n1. Check *oxygen*.\n2. Arrange X-ray."
    span = locate_in_source(source, "amoxicillin 1 g now")
    assert span is not None and source[span.start:span.end] == span.text
    assert span.text == "amoxicillin 1 g** now"
    across = locate_in_source(source, "Check oxygen.\nArrange")
    assert across is not None and across.text == "Check *oxygen*.\n2. Arrange"
    assert locate_in_source(source, "not there") is None
    assert locate_in_source(source, "  ") is None
    rendered = "Start amoxicillin 1 g now.\nCheck oxygen.\nArrange X-ray."
    start, end = locate_in_rendered(rendered, across.text)
    assert rendered[start:end] == "Check oxygen.\nArrange"
    twice = "a b. a b."
    assert locate_in_source(twice, "a b", near=0.9).start == 5


def test_regions_convert_both_ways(sample) -> None:  # type: ignore[no-untyped-def]
    project, me = sample
    atts = [a for s in grading.load_item(project, me.id, 1).series for a in s.attachments]
    viewer = {"shape": "rect", "coords": [[40, 60], [10, 20]], "frame": 0,
              "series_uid": "s", "path": str(atts[2].path)}
    region = region_from_viewer(viewer, atts)
    assert region == ImageRegion(atts[2].id, "rect", (10, 20, 30, 40), 0, "s")
    back = region_to_viewer(region, atts)
    assert back is not None and back["coords"] == [[10, 20], [40, 60]]
    point = region_from_viewer({"shape": "point", "coords": [[3, 4]], "path": str(atts[0].path)},
                               atts)
    assert point is not None and point.coords == (3, 4)
    assert region_from_viewer({**viewer, "path": "/elsewhere"}, atts) is None
    assert region_to_viewer(dataclasses.replace(region, attachment_id=-1), atts) is None


def test_change_bus() -> None:
    bus = ChangeBus()
    seen: list[tuple[Changes, object]] = []
    stop = bus.subscribe(lambda c, who: seen.append((c, who)))
    bus.emit(Changes())  # empty: not news
    ch = Changes(judgments=frozenset({1}))
    bus.emit(ch, "me")
    assert seen == [(ch, "me")]
    stop()
    bus.emit(ch)
    assert len(seen) == 1 and len(bus) == 0


def test_executors() -> None:
    inline = ImmediateExecutor()
    assert inline.submit(lambda a, b: a + b, 2, 3).result() == 5
    failed = inline.submit(lambda: 1 / 0)
    assert isinstance(failed.exception(), ZeroDivisionError)
    db = DbExecutor()
    names: list[str] = []
    order: list[int] = []
    futures = [db.submit(lambda i=i: (names.append(threading.current_thread().name),
                                      order.append(i))) for i in range(20)]
    db.drain()
    assert all(f.done() for f in futures)
    assert order == list(range(20))  # one worker: strictly in submission order
    assert len(set(names)) == 1 and names[0].startswith("medreview-db")
    db.shutdown()
