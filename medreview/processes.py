"""Is a process still running? Work folders and writer notes carry the pid of the process
that made them, so a later run can tell a folder left by a killed process from one in use."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True unless ``pid`` surely names no running process (errors count as alive: when in
    doubt, never remove another process's work)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process
        return True
    return True
