"""ChangeBus: the one event stream of ``Changes`` that screens subscribe to.

A 30-line typed hook rather than psygnal (no extra dependency). Slots run synchronously in the
emitting thread; the Qt bridge guarantees that is the main thread.
"""

from __future__ import annotations

from collections.abc import Callable

from medreview.domain.changes import Changes

Listener = Callable[[Changes, object | None], None]


class ChangeBus:
    """``subscribe(fn)``; ``emit(changes, initiator)`` calls every listener in order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it again."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, changes: Changes, initiator: object | None = None) -> None:
        # Empty change-sets are not news: nothing was written.
        if not changes:
            return
        for listener in list(self._listeners):
            listener(changes, initiator)

    def __len__(self) -> int:
        return len(self._listeners)
