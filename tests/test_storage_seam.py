"""No code outside medreview.storage opens a database session.

The import contracts keep SQLAlchemy and the ORM rows (``storage.models``) inside storage, but a
``Project`` object travels everywhere: ``with project.transaction() as s`` or
``with project.read() as s`` outside storage would hand ORM rows to code the contracts cannot
see. Storage functions take the project and return plain values instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "medreview"
SESSION_OPENERS = {"transaction", "read"}


def session_openings(source: str) -> list[int]:
    """Lines of ``with <x>.transaction()`` / ``with <x>.read()`` (no arguments) in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in SESSION_OPENERS and not call.args
                        and not call.keywords):
                    lines.append(call.lineno)
    return lines


def test_the_finder_sees_both_openers_and_nothing_else() -> None:
    src = ("with project.transaction() as s:\n    pass\n"
           "with self.project.read() as s, open(p) as f:\n    pass\n"
           "with open(p) as f:\n    f.read()\n"
           "with z.read(name) as m:\n    pass\n")
    assert session_openings(src) == [1, 3]


def test_no_session_outside_storage() -> None:
    found = [f"{path.relative_to(ROOT.parent)}:{line}"
             for path in sorted(ROOT.rglob("*.py"))
             if "storage" not in path.relative_to(ROOT).parts[:1]
             for line in session_openings(path.read_text("utf-8"))]
    assert not found, "sessions opened outside medreview.storage: " + ", ".join(found)
