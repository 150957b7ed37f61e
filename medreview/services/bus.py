"""Moved to ``medreview.runtime.bus``; this name stays for code written against it."""

from medreview.runtime.bus import ChangeBus, Listener

__all__ = ["ChangeBus", "Listener"]
