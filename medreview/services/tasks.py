"""Moved to ``medreview.runtime.executors``; this name stays for code written against it."""

from medreview.runtime.executors import (
    DbExecutor,
    Executor,
    ImmediateExecutor,
    WorkExecutor,
)

__all__ = ["DbExecutor", "Executor", "ImmediateExecutor", "WorkExecutor"]
