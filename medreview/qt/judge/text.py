"""Words and numbers as the judge dialog shows them (Qt-free, so they are tested directly)."""

from __future__ import annotations

import datetime as dt

STATUS_LABELS = {
    "created": "Not started",
    "running": "Interrupted",  # "running" in the database but not ours: the process stopped
    "done": "Done",
    "incomplete": "Has failures",
    "cancelled": "Cancelled",
}

STYLE_LABELS = {
    "auto": "Automatic (per question kind)",
    "healthbench": "HealthBench: one request per criterion",
    "form": "Form: all scale questions at once",
    "medval": "MedVAL: error review with risk level",
    "pairwise": "Pairwise: compare two answers",
}


def tokens(n: int) -> str:
    """1234 → "1.2k", 3_400_000 → "3.4M"."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def usd(x: float) -> str:
    """Cents for ordinary sums, more digits for the fractions of a cent a test run costs."""
    if x == 0:
        return "$0.00"
    if x < 0.01:
        return f"${x:.4f}"
    return f"${x:,.2f}"


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def when(t: dt.datetime | None) -> str:
    """A stored UTC time in the user's local time, minutes precision."""
    if t is None:
        return "—"
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


def status_label(status: str, *, ours: bool = False) -> str:
    if status == "running" and ours:
        return "Running"
    return STATUS_LABELS.get(status, status.capitalize())


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
