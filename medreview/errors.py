"""The error tree. Every bad-input message names the file, line or item and the reason."""

from __future__ import annotations


class MedreviewError(Exception):
    """Base class: a message a user can act on.

    ``source`` is a file path (or URL, or package name), ``line`` a 1-based line or record
    number, ``item`` an identifier inside the source (a case id, a field path, a DICOM tag).
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        item: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.item = item
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.item:
            where.append(str(self.item))
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


class InputError(MedreviewError):
    """A file or record that cannot be read as what it claims to be."""


class RubricError(InputError):
    """A rubric or taxonomy definition that does not validate."""


class ImportFailed(InputError):
    """An import that was refused as a whole; the project is unchanged."""


class DicomError(InputError):
    """A DICOM file that cannot be decoded or displayed."""


class ProjectError(MedreviewError):
    """A project folder that cannot be created, opened or upgraded."""


class JudgeError(MedreviewError):
    """An LLM-judge run that cannot proceed (consent, endpoint, key)."""


class StatsError(MedreviewError):
    """A statistic asked of data on which it is not defined."""


class PackageError(MedreviewError):
    """A rater package that is foreign, tampered, truncated or unsafe."""


class ProjectBusy(ProjectError):
    """Another writer held the project longer than this one would wait; nothing was changed."""


class ProjectReadOnly(ProjectError):
    """A change was asked of a project that is open read-only."""


class DatabaseLocked(ProjectError):
    """SQLite's short busy timeout ran out on a lock another connection holds: trying again
    may work (unlike ``ProjectBusy``, whose full wait is already over)."""


class DatabaseFailure(ProjectError):
    """The database refused a statement for a reason waiting will not fix (a full disk, I/O)."""
