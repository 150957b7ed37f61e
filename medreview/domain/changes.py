"""Change-sets returned by every mutating operation (Anki's OpChanges).

Screens never re-query the database to find out what changed: they read a ``Changes`` value
and refresh only what it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Changes:
    judgments: frozenset[int] = field(default_factory=frozenset)  # output ids
    queue: frozenset[int] = field(default_factory=frozenset)  # output ids
    cases: frozenset[int] = field(default_factory=frozenset)
    outputs: frozenset[int] = field(default_factory=frozenset)
    rubrics: bool = False
    gold: frozenset[int] = field(default_factory=frozenset)  # output ids
    raters: bool = False
    judge_runs: bool = False
    project: bool = False

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            judgments=self.judgments | other.judgments,
            queue=self.queue | other.queue,
            cases=self.cases | other.cases,
            outputs=self.outputs | other.outputs,
            rubrics=self.rubrics or other.rubrics,
            gold=self.gold | other.gold,
            raters=self.raters or other.raters,
            judge_runs=self.judge_runs or other.judge_runs,
            project=self.project or other.project,
        )

    def __bool__(self) -> bool:
        return bool(
            self.judgments
            or self.queue
            or self.cases
            or self.outputs
            or self.rubrics
            or self.gold
            or self.raters
            or self.judge_runs
            or self.project
        )
