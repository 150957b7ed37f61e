"""The lead's record of the rater packages its project issued (``issued_package``).

Merge trusts nothing a package says about itself: which rater it is for, which outputs it may
grade and the key its seal must verify with all come from this record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.storage.models import IssuedPackageRow, RaterRow


@dataclass(frozen=True)
class IssuedOutput:
    output_id: int
    text_sha256: str


@dataclass(frozen=True)
class IssuedPackage:
    uid: str
    rater_id: int
    rater: str
    rater_kind: str
    issued_at: dt.datetime
    outputs: dict[str, IssuedOutput]  # token -> this project's output
    attachments: dict[int, int]  # package attachment id -> this project's
    secret: str = field(repr=False)


def record_issue(s: Session, *, uid: str, rater_id: int, secret: str,
                 outputs: dict[str, IssuedOutput], attachments: dict[int, int]) -> None:
    s.add(IssuedPackageRow(
        uid=uid, rater_id=rater_id, secret=secret,
        outputs={t: {"output_id": o.output_id, "text_sha256": o.text_sha256}
                 for t, o in outputs.items()},
        attachments={str(k): v for k, v in attachments.items()}))
    s.flush()


def _view(row: IssuedPackageRow, rater: RaterRow) -> IssuedPackage:
    outputs: dict[str, Any] = row.outputs
    return IssuedPackage(
        uid=row.uid, rater_id=rater.id, rater=rater.name, rater_kind=rater.kind,
        issued_at=row.issued_at,
        outputs={t: IssuedOutput(int(v["output_id"]), str(v["text_sha256"]))
                 for t, v in outputs.items()},
        attachments={int(k): int(v) for k, v in row.attachments.items()},
        secret=row.secret)


def issued_package(s: Session, uid: str) -> IssuedPackage | None:
    found = s.execute(select(IssuedPackageRow, RaterRow)
                      .join(RaterRow, RaterRow.id == IssuedPackageRow.rater_id)
                      .where(IssuedPackageRow.uid == uid)).first()
    return None if found is None else _view(*found)


def all_issued(s: Session) -> list[IssuedPackage]:
    return [_view(row, rater) for row, rater in s.execute(
        select(IssuedPackageRow, RaterRow)
        .join(RaterRow, RaterRow.id == IssuedPackageRow.rater_id)
        .order_by(IssuedPackageRow.id))]
