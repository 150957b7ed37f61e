"""``SliceIndex``: slice number -> (file, frame) over a series, without a list per frame.

A series of N files with frame counts c₀…cₙ₋₁ has Σc slices. Keeping one tuple per slice costs
memory and time in proportion to the frame counts, which come from file headers; here only the
N cumulative counts are kept and a slice is found by bisection (O(log N)).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate


class SliceIndex:
    """Read-only sequence of ``(entry, frame)`` pairs, computed on demand."""

    __slots__ = ("_ends",)

    def __init__(self, frame_counts: Iterable[int] = ()) -> None:
        # every entry keeps at least one slot, so an unreadable file still shows its error
        self._ends = list(accumulate(max(int(n), 1) for n in frame_counts))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index: int) -> tuple[int, int]:
        total = len(self)
        if index < 0:
            index += total
        if not 0 <= index < total:
            raise IndexError(f"slice {index} out of range (0..{total - 1})")
        entry = bisect_right(self._ends, index)
        start = self._ends[entry - 1] if entry else 0
        return entry, index - start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        # only for small series (tests); the viewer never iterates
        for i in range(len(self)):
            yield self[i]

    def position(self, entry: int, frame: int = 0) -> int:
        """The slice number of ``frame`` in ``entry`` (clamped to the entry's frames)."""
        start = self._ends[entry - 1] if entry else 0
        return start + max(0, min(frame, self._ends[entry] - start - 1))
