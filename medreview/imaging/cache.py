"""A bounded LRU of decoded frames and the order in which to prefetch neighbours.

Pure and executor-agnostic: the caller (the Qt viewer, a benchmark) decides where decoding
runs; this module only remembers results and says what to fetch next. Thread-safe, because
worker callbacks may ``put`` from other threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, Protocol, TypeVar


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=_Sized)


class FrameCache(Generic[K, V]):
    """LRU bounded by total ``nbytes`` and by entry count; the newest entry always stays."""

    def __init__(self, max_bytes: int = 512 * 1024 * 1024, max_items: int = 1000) -> None:
        if max_bytes <= 0 or max_items <= 0:
            raise ValueError("cache bounds must be positive")
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = value
            self._bytes += value.nbytes
            while len(self._items) > 1 and (
                self._bytes > self.max_bytes or len(self._items) > self.max_items
            ):
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def prefetch_plan(current: int, count: int, *, radius: int = 8, direction: int = 1) -> list[int]:
    """Indices to decode around ``current``: itself, then neighbours, ahead first.

    ``direction`` is the last scroll direction (+1/-1): slices the reader moves towards come
    two-for-one with those behind. At most ``radius + radius // 2`` neighbours; when one end
    of the series is reached the budget goes to the other side.
    """
    if count <= 0 or not 0 <= current < count:
        return []
    step = 1 if direction >= 0 else -1
    budget = min(radius + radius // 2, count - 1)
    order = [current]
    ahead, behind = current + step, current - step
    turn = 0
    while len(order) - 1 < budget:
        take_ahead = turn % 3 != 2  # pattern: ahead, ahead, behind
        turn += 1
        if take_ahead and 0 <= ahead < count:
            order.append(ahead)
            ahead += step
        elif not take_ahead and 0 <= behind < count:
            order.append(behind)
            behind -= step
        elif 0 <= ahead < count:
            order.append(ahead)
            ahead += step
        elif 0 <= behind < count:
            order.append(behind)
            behind -= step
    return order


def missing(plan: Iterable[K], have: Iterable[K]) -> list[K]:
    """The plan minus what is cached or in flight, order kept."""
    skip = set(have)
    return [i for i in plan if i not in skip]
