"""QueueModel over a generated 100,000-row queue (the model, not the database)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt

from medreview.qt.grading.queue_model import QueueModel
from medreview.services.grading_screen import QueueFilter
from medreview.services.views import QueueRow

N = 100_000


@pytest.fixture(scope="module")
def rows() -> list[QueueRow]:
    return [
        QueueRow(output_id=i + 1, case_id=i // 4 + 1, case_external_id=f"case-{i // 4:06d}",
                 case_title=f"Case {i // 4}", model=("alpha", "beta", "gamma", "delta")[i % 4],
                 blind_label=f"Response {'ABCD'[i % 4]}",
                 status=("done" if i % 10 == 0 else "draft" if i % 10 == 1 else "todo"),
                 flagged=i % 97 == 0, tags=("cardio",) if i % 3 == 0 else ("neuro",),
                 position=i, updated_at=None)
        for i in range(N)
    ]


def test_model_holds_and_filters_100k_rows(qtbot, rows) -> None:
    model = QueueModel(rows)
    assert model.rowCount() == N
    assert model.data(model.index(N - 1, 1)) == rows[-1].case_external_id
    assert model.data(model.index(5, 3)) == "Response B"  # blinded by default
    assert model.data(model.index(0, 4)) == "Done"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.UserRole) == 1

    with qtbot.waitSignal(model.modelReset):
        model.set_filter(QueueFilter(status="done"))
    assert model.rowCount() == N // 10
    assert all(model.row_at(i).status == "done" for i in range(0, model.rowCount(), 997))

    model.set_filter(QueueFilter(status="flagged", tag="cardio"))
    expected = sum(1 for r in rows if r.flagged and "cardio" in r.tags)
    assert model.rowCount() == expected

    model.set_filter(QueueFilter(text="case-004242", model="delta", reveal_models=True))
    assert model.rowCount() == 1
    assert model.data(model.index(0, 3)) == "delta"


def test_update_row_repaints_one_row_only(qtbot, rows) -> None:
    model = QueueModel(rows)
    model.set_filter(QueueFilter(status="todo"))
    target = model.row_at(1234)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), b.row())))
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.update_row(dataclasses.replace(target, status="done"))
    assert changed == [(1234, 1234)]
    assert resets == []
    # The row stays where the rater is looking until the filter is applied again.
    assert model.row_at(1234).status == "done"
    assert model.counts().done == N // 10 + 1


def test_display_row_lookup(rows) -> None:
    model = QueueModel(rows)
    model.set_filter(QueueFilter(tag="neuro"))
    out = rows[2].output_id  # i=2: neuro
    d = model.display_row(out)
    assert d is not None and model.row_at(d).output_id == out
    assert model.display_row(rows[0].output_id) is None  # cardio: filtered out
    assert model.display_row(-5) is None
