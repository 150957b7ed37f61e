"""The lead's record of the rater packages its project issued (``issued_package``).

Merge trusts nothing a package says about itself: which rater it is for, which outputs it may
grade and the key its seal must verify with all come from this record. The record is read and
written by ``medreview.storage.packages``; these are its plain values and readers.
"""

from __future__ import annotations

from medreview.storage.packages import (
    IssuedOutput,
    IssuedPackage,
    issued_package,
    issued_packages,
    record_issue,
)

__all__ = ["IssuedOutput", "IssuedPackage", "issued_package", "issued_packages", "record_issue"]
