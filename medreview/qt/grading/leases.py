"""The grading screen's lease on the item it shows (server projects; see storage/leases.py).

Attached to a grading controller: each item loaded takes the rater's lease, a timer renews it
while the rater is active (any key, click or scroll in the app), a finished or skipped save
gives it back. A pool item another physician holds (or finished) as often as the pool needs is
refused: the screen says so and moves on to the rater's next free item. Every call runs on the
controller's database thread; a failure (server unreachable, read-only project) is no reason
to stop grading — an unrenewed lease simply expires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

from medreview.qt.bridge import Op

ACTIVITY = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel})
MAX_MOVES = 20  # refusals in a row before giving up (others keep taking the next one)


def _ignore(_exc: BaseException) -> None:
    """Leases are advisory: the save path reports real trouble with the server."""


class GradingLeases(QObject):
    def __init__(self, controller: Any, *, on_move: Callable[[int], None],
                 on_message: Callable[[str], None], tick_ms: int = 10_000,
                 idle_s: float = 300.0, seconds: float | None = None) -> None:
        super().__init__(controller)
        self.c = controller
        from medreview.services import team  # sqlalchemy: not at start-up

        self.keeper = team.LeaseKeeper(controller.project, controller.rater_id,
                                       idle_s=idle_s, seconds=seconds)
        self._on_move, self._on_message = on_move, on_message
        self._moves = 0
        controller.sig_item_loaded.connect(self._on_item)
        controller.sig_saved.connect(self._on_saved)
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        app = QCoreApplication.instance()
        if app is not None:  # removed by Qt when this object goes
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY:
            self.keeper.touch()
        return False

    def _run(self, fn: Callable[..., Any], *args: Any) -> Op[Any]:
        return Op(self, fn, *args).failure(_ignore)

    def _on_item(self, item: Any) -> None:
        out = int(item.output_id)
        self._run(self.keeper.open, out).latest("lease") \
            .success(lambda ok: self._opened(out, bool(ok))).run(self.c.executor)

    def _opened(self, output_id: int, ok: bool) -> None:
        if ok:
            self._moves = 0
            return
        shown = self.c.item
        if shown is None or shown.output_id != output_id:
            return  # the rater has moved on already
        self._moves += 1
        if self._moves > MAX_MOVES:
            self._on_message("Other physicians are grading the items after this one.")
            return
        from medreview.services import team

        self._run(team.next_item, self.c.project, self.c.rater_id, output_id) \
            .success(lambda nxt: self._move(output_id, nxt)).run(self.c.executor)

    def _move(self, refused: int, nxt: int | None) -> None:
        if nxt is None or nxt == refused:
            self._on_message("Another physician is grading this item, and no other item in "
                             "your queue is free.")
            return
        self._on_message("Another physician is grading that item: moved on to your next "
                         "free one.")
        self._on_move(nxt)

    def _on_saved(self, output_id: int, result: Any, _draft: Any) -> None:
        if getattr(result, "status", None) in ("done", "skipped"):
            self._run(self._release, output_id).run(self.c.executor)

    def _release(self, output_id: int) -> None:  # database thread
        if self.keeper.output_id == output_id:
            self.keeper.submitted()

    def _tick(self) -> None:
        self._run(self._renew).success(self._renewed).run(self.c.executor)

    def _renew(self) -> bool:  # database thread: True when the lease was just lost
        had = self.keeper.output_id
        return had is not None and not self.keeper.tick()

    def _renewed(self, lost: bool) -> None:
        if lost:
            self._on_message("While you were away another physician took this item: your "
                             "answers are saved; pick the next one with Save and next.")


def attach_leases(controller: Any, *, on_move: Callable[[int], None],
                  on_message: Callable[[str], None]) -> GradingLeases | None:
    """Leases for a rater grading a shared server project; None otherwise (a folder, a
    read-only project, the read-only viewer, whose rater id is 0)."""
    from medreview.services import team

    if controller.read_only_reason is not None or controller.rater_id <= 0 \
            or not team.shares_items(controller.project):
        return None
    return GradingLeases(controller, on_move=on_move, on_message=on_message)
