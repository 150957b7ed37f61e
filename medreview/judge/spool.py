"""Replies that could not be written to the project yet, kept in a file beside it.

A judge reply is paid for. When the project database stays busy longer than a run will wait,
the run stops, and the replies it holds (the one being saved and those still in flight) are
appended here, one JSON line each, flushed and fsynced. Resuming the run writes them to the
project first and sends only what is still missing. A line cut short by a crash is skipped.
Nothing secret is in a line: errors and raw texts are redacted before they get here.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from medreview.judge.runner import Outcome

log = logging.getLogger(__name__)

MAX_SPOOL_BYTES = 256 * 1024 * 1024  # a spool larger than this is not ours: ignore it


class ReplySpool:
    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, output_id: int, item_key: str, request_hash: str, outcome: Outcome) -> None:
        line = json.dumps({"output_id": output_id, "item_key": item_key,
                           "request_hash": request_hash, "outcome": asdict(outcome)},
                          ensure_ascii=False, separators=(",", ":"))
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def load(self) -> dict[tuple[int, str, str], Outcome]:
        """Spooled outcomes by (output, item key, request hash); later lines win."""
        out: dict[tuple[int, str, str], Outcome] = {}
        try:
            if self.path.stat().st_size > MAX_SPOOL_BYTES:
                log.warning("%s is too large to be a reply spool; ignored", self.path.name)
                return out
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return out
        fields = set(Outcome.__dataclass_fields__)
        for line in text.splitlines():
            try:
                obj: Any = json.loads(line)
                key = (int(obj["output_id"]), str(obj["item_key"]), str(obj["request_hash"]))
                raw = obj["outcome"]
                outcome = Outcome(**{k: v for k, v in raw.items() if k in fields})
            except (ValueError, KeyError, TypeError, RecursionError):
                continue  # a line cut short by a crash, or not ours
            out[key] = outcome
        return out

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
