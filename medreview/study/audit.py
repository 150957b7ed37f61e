"""The audit trail: every judgment revision and every gold label, as appended, with who and when.

Nothing here writes: history is what the append-only tables already hold (revisions and gold
labels are never updated or deleted). ``medreview.services.study.export_audit`` writes both.
The reads live in ``medreview.storage.audit``.
"""

from __future__ import annotations

from medreview.storage.audit import gold_history, judgment_history

__all__ = ["gold_history", "judgment_history"]
