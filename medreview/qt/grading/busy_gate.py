"""BusyGate: background database work waits while the screen puts an item up.

Saves of the item left behind and preloads of the next ones run on the database thread. Their
Python work (SQLAlchemy, JSON) competes with the UI thread for the interpreter lock, and on a
busy machine every Qt call of the UI thread that released the lock waits up to a switch
interval (5 ms) to get it back: showing an item took twice as long with a save running beside
it. So the controller holds the gate from "next" until the item is on screen and those jobs
wait for it first (at most ``max_wait_s``, so nothing is ever stuck behind a lost release).
"""

from __future__ import annotations

import threading

MAX_WAIT_S = 0.15


class BusyGate:
    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self._free = threading.Event()
        self._free.set()
        self._holder: int | None = None  # the UI thread: it must never wait for itself

    def hold(self) -> None:
        self._holder = threading.get_ident()
        self._free.clear()

    def release(self) -> None:
        self._free.set()

    @property
    def held(self) -> bool:
        return not self._free.is_set()

    def wait(self) -> None:
        """Called first by a background job: returns once the screen is up (or after
        ``max_wait_s``); at once on the holding thread (an inline executor in tests)."""
        if threading.get_ident() != self._holder:
            self._free.wait(self.max_wait_s)
