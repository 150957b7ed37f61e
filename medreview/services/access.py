"""How the screens learn about storage trouble without touching the storage layer.

- ``on_writer_wait``: a process-wide callback for "waiting for another writer (…)…";
- ``describe_storage_error``: one line for a database error that escaped a use-case (a page
  damaged after the open-time check, a full disk), or None when it is not one.
"""

from __future__ import annotations

from collections.abc import Callable

from medreview.storage.db_errors import describe_storage_error
from medreview.storage.engine import set_default_wait_callback

__all__ = ["describe_storage_error", "on_writer_wait"]


def on_writer_wait(callback: Callable[[str], None] | None) -> None:
    set_default_wait_callback(callback)
