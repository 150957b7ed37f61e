"""Drafts on their way to a server project, kept in a local file until the server has them.

Grading on a PostgreSQL project, every save is first put here and taken out when its COMMIT is
confirmed, so a save the server never got (unreachable, a quit or a crash meanwhile) survives
on this computer and is sent again when the project next opens. Each save carries its ``uid``:
sent twice (its first COMMIT's answer was lost), it still lands once.

One JSON file per project and rater under the user's data folder (``MEDREVIEW_HOME``), mode
0600, replaced atomically by a writer thread of its own (never the UI thread, never behind a
database call waiting for a dead server). The file is read as hostile input: bounded in size
and entries, every field checked; a bad file or entry is named in one line and skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.domain.judgment import JudgmentDraft, annotation_from_dict, annotation_to_dict

if TYPE_CHECKING:
    from medreview.services.projects import Project

log = logging.getLogger(__name__)

FORMAT = "medreview-draft-spool"
VERSION = 1
MAX_BYTES = 16 * 1024 * 1024  # far above any real backlog; a larger file is not read
MAX_SAVES = 10_000
STATUSES = ("draft", "done", "skipped")
_UID = re.compile(r"[0-9a-f]{32}")


def new_uid() -> str:
    """A save's name (also the stored revision's uid)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class SpooledSave:
    """One save not yet confirmed by the server."""

    output_id: int
    uid: str
    status: str
    draft: JudgmentDraft
    guideline_version: int | None = None


def _to_json(save: SpooledSave) -> dict[str, Any]:
    d = save.draft
    return {"output_id": save.output_id, "uid": save.uid, "status": save.status,
            "guideline_version": save.guideline_version,
            "draft": {"answers": d.answers,
                      "annotations": [annotation_to_dict(a) for a in d.annotations],
                      "rationale": d.rationale, "confidence": d.confidence,
                      "flagged": d.flagged, "skipped": d.skipped,
                      "time_on_task_s": d.time_on_task_s, "overall_score": d.overall_score}}


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(float(value)):
        raise ValueError("not a finite number")
    return float(value)


def _from_json(item: object) -> SpooledSave:
    """One entry, every field checked (ValueError, KeyError, TypeError for a bad one)."""
    if not isinstance(item, dict):
        raise ValueError("not an object")
    output_id, uid, status = item["output_id"], item["uid"], item["status"]
    if isinstance(output_id, bool) or not isinstance(output_id, int) or output_id <= 0:
        raise ValueError("bad output id")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise ValueError("bad uid")
    if status not in STATUSES:
        raise ValueError("bad status")
    version = item.get("guideline_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValueError("bad guideline version")
    d = item["draft"]
    if not isinstance(d, dict) or not isinstance(d.get("answers", {}), dict) \
            or not isinstance(d.get("annotations", []), list) \
            or not isinstance(d.get("rationale", ""), str):
        raise ValueError("bad draft")
    draft = JudgmentDraft(
        answers=dict(d.get("answers", {})),
        annotations=tuple(annotation_from_dict(a) for a in d.get("annotations", [])),
        rationale=d.get("rationale", ""),
        confidence=_number(d.get("confidence")),
        flagged=bool(d.get("flagged", False)),
        skipped=bool(d.get("skipped", False)),
        time_on_task_s=_number(d.get("time_on_task_s", 0.0)) or 0.0,
        overall_score=_number(d.get("overall_score")))
    return SpooledSave(output_id, uid, status, draft, version)


def read_spool(path: Path) -> tuple[list[SpooledSave], list[str]]:
    """The saves in ``path`` and one line per problem (a missing file is no problem)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path}: cannot read the kept drafts ({exc.strerror or exc})"]
    if size > MAX_BYTES:
        return [], [f"{path}: kept drafts file is {size} bytes, over the {MAX_BYTES} limit; "
                    "not read"]
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return [], [f"{path}: kept drafts file is damaged ({type(exc).__name__}); not read"]
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION \
            or not isinstance(doc.get("saves"), list):
        return [], [f"{path}: not a medreview kept-drafts file (version {VERSION}); not read"]
    saves: list[SpooledSave] = []
    problems: list[str] = []
    for n, item in enumerate(doc["saves"][:MAX_SAVES], start=1):
        try:
            saves.append(_from_json(item))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{path}: kept draft {n} skipped ({type(exc).__name__}: {exc})")
    if len(doc["saves"]) > MAX_SAVES:
        problems.append(f"{path}: only the first {MAX_SAVES} kept drafts were read")
    return saves, problems


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # grades: this user only
    try:
        os.write(fd, data)
        os.fsync(fd)  # on disk before it replaces the old file: a crash keeps one or the other
    finally:
        os.close(fd)
    os.replace(tmp, path)


class DraftSpool:
    """The kept saves of one rater on one server project (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saves, self.problems = read_spool(path)
        for line in self.problems:
            log.warning("%s", line)
        self._saves: dict[int, SpooledSave] = {s.output_id: s for s in saves}
        self._lock = threading.Condition()
        self._version = 0  # changes made
        self._written = 0  # changes on disk
        self._error: str | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def saves(self) -> list[SpooledSave]:
        with self._lock:
            return list(self._saves.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._saves)

    @property
    def error(self) -> str | None:
        """The last write failure (a full disk): the saves are then only in memory."""
        return self._error

    def put(self, save: SpooledSave) -> None:
        """Keep ``save`` (it replaces an older one of the same item) until ``remove``."""
        with self._lock:
            self._saves[save.output_id] = save
            self._changed()

    def remove(self, output_id: int, uid: str) -> None:
        """The server confirmed save ``uid``: forget it (a newer save of the item stays)."""
        with self._lock:
            kept = self._saves.get(output_id)
            if kept is not None and kept.uid == uid:
                del self._saves[output_id]
                self._changed()

    def _changed(self) -> None:
        self._version += 1
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._writer, name="draft-spool",
                                            daemon=True)
            self._thread.start()
        self._lock.notify_all()

    def _writer(self) -> None:
        while True:
            with self._lock:
                while self._written == self._version and not self._closed:
                    self._lock.wait()
                if self._written == self._version and self._closed:
                    return
                version = self._version
                doc = {"format": FORMAT, "version": VERSION,
                       "saves": [_to_json(s) for s in self._saves.values()]}
            self._write(doc)
            with self._lock:
                self._written = version
                self._lock.notify_all()

    def _write(self, doc: dict[str, Any]) -> None:
        try:
            if doc["saves"]:
                _write_atomically(self.path, json.dumps(doc, separators=(",", ":"),
                                                        default=str).encode("utf-8"))
            else:
                self.path.unlink(missing_ok=True)
            self._error = None
        except OSError as exc:
            self._error = f"cannot keep drafts in {self.path}: {exc.strerror or exc}"
            log.warning("%s", self._error)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every change so far is on disk; False on timeout."""
        with self._lock:
            target = self._version
            return self._lock.wait_for(lambda: self._written >= target or self._thread is None,
                                       timeout)

    def close(self) -> None:
        """Write what is left and stop the writer thread."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)


def spool_path(project: Project, rater_id: int, project_uid: str | None = None) -> Path:
    """``project_uid`` (the app gives it) names the project inside the server's folder: a
    database dropped and made again under the same URL never receives the old one's saves."""
    name = f"rater-{int(rater_id)}"
    if project_uid:
        name += "." + hashlib.sha256(project_uid.encode("utf-8")).hexdigest()[:16]
    return Path(project.path) / "drafts" / f"{name}.json"


def spool_for(project: Project, rater_id: int,
              project_uid: str | None = None) -> DraftSpool | None:
    """The spool of a server project (None for a folder, whose database is on this disk)."""
    from medreview.services.server_projects import is_server_url

    # getattr: a session may be given a stand-in project (tests) that names no location.
    if not is_server_url(getattr(project, "location", None)) \
            or getattr(project, "read_only_reason", None) is not None:
        return None
    return DraftSpool(spool_path(project, rater_id, project_uid))


def is_connection_lost(exc: BaseException) -> bool:
    """The server could not be reached or the connection dropped (keep and retry)."""
    from medreview.storage.connection_errors import is_connection_lost as lost

    return lost(exc)
